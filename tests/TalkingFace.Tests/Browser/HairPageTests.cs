using Microsoft.Playwright;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Browser;

/// <summary>
/// The hair form in headless Chromium: a gallery pick for shape and color ending in a before/after, and a refused photo
/// whose reason and face boxes are shown (the shared YOLOv8-face detector, the demo hair chain).
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class HairPageTests(BrowserFixture browser) : IAsyncLifetime
{
    private readonly LiveGatewayFactory _gateway = LiveGatewayFactory.ForHair();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task A_hair_job_with_gallery_picks_shows_the_face_box_and_before_and_after()
    {
        var (context, page, errors) = await browser.OpenAsync(_gateway.Address);
        await using var _ = context;
        await page.GotoAsync("/");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Hair" }).ClickAsync();
        var form = page.Locator("#form-hair");

        await form.Locator("input[name=face]").SetInputFilesAsync(TestPaths.TestData("faces", "one-face-a.jpg"));
        await form.Locator("input[name=mode][value=both]").CheckAsync(new() { Force = true });
        var shape = form.Locator("[data-gallery=shape] .gallery-item").First;
        var color = form.Locator("[data-gallery=color] .gallery-item").First;
        await Assertions.Expect(shape).ToBeVisibleAsync();
        await Assertions.Expect(shape.Locator("img")).ToHaveJSPropertyAsync("complete", true);
        var shapeId = await shape.Locator("input").GetAttributeAsync("value");
        var colorId = await color.Locator("input").GetAttributeAsync("value");
        await shape.ClickAsync();
        await color.ClickAsync();
        await form.GetByRole(AriaRole.Button, new() { Name = "Create hair job" }).ClickAsync();

        var panel = page.Locator("#job-panel");
        await Assertions.Expect(panel.Locator("[data-badge] .badge")).ToHaveTextAsync("succeeded", new() { Timeout = 180_000 });
        await Assertions.Expect(panel.Locator("[data-facts]")).ToContainTextAsync($"shape {shapeId}");
        await Assertions.Expect(panel.Locator("[data-facts]")).ToContainTextAsync($"color {colorId}");
        await Assertions.Expect(panel.Locator("[data-before] svg[data-face-boxes]")).ToHaveAttributeAsync("data-face-boxes", "1");
        var after = panel.Locator("[data-after] img");
        await Assertions.Expect(after).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("img => img.complete && img.naturalWidth > 0", await after.ElementHandleAsync());
        await BrowserFixture.ScreenshotAsync(page, "hair-gallery");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_photo_with_two_faces_is_refused_and_the_page_says_why_and_shows_both_boxes()
    {
        var (context, page, errors) = await browser.OpenAsync(_gateway.Address);
        await using var _ = context;
        await page.GotoAsync("/");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Hair" }).ClickAsync();
        var form = page.Locator("#form-hair");

        await form.Locator("input[name=face]").SetInputFilesAsync(TestPaths.TestData("faces", "two-faces.jpg"));
        await form.Locator("input[name=mode][value=color]").CheckAsync(new() { Force = true });
        await form.Locator("[data-gallery=color] .gallery-item").First.ClickAsync();
        await form.GetByRole(AriaRole.Button, new() { Name = "Create hair job" }).ClickAsync();

        var panel = page.Locator("#job-panel");
        await Assertions.Expect(panel.Locator("[data-badge] .badge")).ToHaveTextAsync("failed", new() { Timeout = 180_000 });
        await Assertions.Expect(panel.Locator(".callout-error")).ToContainTextAsync("2 faces");
        await Assertions.Expect(panel.Locator("[data-before] svg[data-face-boxes]")).ToHaveAttributeAsync("data-face-boxes", "2");
        await Assertions.Expect(panel.Locator("[data-detection-note]")).ToContainTextAsync("More than one face");
        await Assertions.Expect(panel.Locator(".compare-missing")).ToContainTextAsync("No result");
        await BrowserFixture.ScreenshotAsync(page, "hair-refused");
        Assert.Empty(errors);
    }
}
