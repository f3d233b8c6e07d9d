using Microsoft.Playwright;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Browser;

/// <summary>The page on a gateway whose ffmpeg is missing: the job succeeds without a video and the page says why.</summary>
[Collection(BrowserCollection.Name)]
public sealed class PageWarningTests(BrowserFixture browser) : IAsyncLifetime
{
    private readonly LiveGatewayFactory _gateway = new(new Dictionary<string, string?> { ["Motion:Preview:FfmpegPath"] = "/nonexistent/talkingface-test/ffmpeg" });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task A_job_without_its_preview_succeeds_and_the_page_shows_the_warning_instead_of_a_video()
    {
        var (context, page, errors) = await browser.OpenAsync(_gateway.Address);
        await using var _ = context;
        await page.GotoAsync("/");

        var form = page.Locator("#form-talking-face");
        await form.Locator("input[name=audio]").SetInputFilesAsync(Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav"));
        await form.Locator("select[name=featureModel]").SelectOptionAsync("fast-hubert-int8");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create talking-face job" }).ClickAsync();

        var panel = page.Locator("#job-panel");
        await Assertions.Expect(panel.Locator("[data-badge] .badge")).ToHaveTextAsync("succeeded", new() { Timeout = 180_000 });
        var warnings = panel.Locator("[data-testid=job-warnings]");
        await Assertions.Expect(warnings).ToBeVisibleAsync();
        await Assertions.Expect(warnings.Locator(".callout-title")).ToHaveTextAsync("Warning");
        await Assertions.Expect(warnings.Locator("li")).ToHaveTextAsync(
            "Motion: preview skipped: ffmpeg is not installed at '/nonexistent/talkingface-test/ffmpeg' (Motion:Preview:FfmpegPath; apt-get install ffmpeg).");
        await Assertions.Expect(panel.Locator("video[data-preview]")).ToHaveCountAsync(0);
        await Assertions.Expect(panel.Locator("a[data-download='exp.npy']")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(page, "talking-face-without-preview");
        Assert.Empty(errors);
    }
}
