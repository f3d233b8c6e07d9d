using System.Text.Json;
using Microsoft.Playwright;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Browser;

/// <summary>
/// The web page in headless Chromium against a real standalone gateway (Kestrel on a loopback port, the repository's
/// demo models): what a person does with it, checked by what the page shows. Screenshots go to TestResults/browser.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class PageTests(BrowserFixture browser) : IAsyncLifetime
{
    private readonly LiveGatewayFactory _gateway = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static string Sample => Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav");

    [Fact]
    public async Task A_talking_face_job_runs_with_live_progress_and_ends_with_a_playable_video_and_downloads()
    {
        var (context, page, errors) = await browser.OpenAsync(_gateway.Address);
        await using var _ = context;
        var eventStreams = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Url.Contains("/events", StringComparison.Ordinal)) lock (eventStreams) eventStreams.Add(request.Url);
        };
        await page.GotoAsync("/");

        var form = page.Locator("#form-talking-face");
        await form.Locator("input[name=audio]").SetInputFilesAsync(Sample);
        await form.Locator("select[name=featureModel]").SelectOptionAsync("fast-hubert-int8");
        await form.Locator("select[name=deviceClass]").SelectOptionAsync("cpu");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create talking-face job" }).ClickAsync();

        var panel = page.Locator("#job-panel");
        await Assertions.Expect(panel.Locator("[data-badge] .badge")).ToHaveTextAsync("succeeded", new() { Timeout = 180_000 });
        Assert.Equal("events", await panel.GetAttributeAsync("data-transport"));
        Assert.Contains(eventStreams, url => url.EndsWith("/events", StringComparison.Ordinal));
        await Assertions.Expect(panel.Locator(".stage")).ToHaveCountAsync(2);
        foreach (var stage in await panel.Locator(".stage").AllAsync())
        {
            await Assertions.Expect(stage.Locator(".badge")).ToHaveTextAsync("succeeded");
            await Assertions.Expect(stage.Locator("[role=progressbar]")).ToHaveAttributeAsync("aria-valuenow", "100");
        }

        // The preview plays: the browser decoded its metadata and first frame, and it is as long as the speech.
        var video = panel.Locator("video[data-preview]");
        await Assertions.Expect(video).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("v => v.readyState >= 2 && v.videoWidth > 0", await video.ElementHandleAsync());
        var state = await video.EvaluateAsync<JsonElement>("v => ({ readyState: v.readyState, duration: v.duration, width: v.videoWidth, height: v.videoHeight, error: v.error && v.error.code })");
        Assert.True(state.GetProperty("error").ValueKind == JsonValueKind.Null, $"the video element reports error {state.GetProperty("error")}");
        Assert.InRange(state.GetProperty("duration").GetDouble(), 3.14 - 0.2, 3.14 + 0.2); // samples/hello.wav is 3.14 s
        Assert.True(state.GetProperty("width").GetInt32() > 0 && state.GetProperty("height").GetInt32() > 0);
        await video.EvaluateAsync("v => { v.muted = true; return v.play(); }");
        await page.WaitForFunctionAsync("v => v.currentTime > 0.2", await video.ElementHandleAsync());

        // Features and motion can be downloaded, and the links give the .npy files.
        foreach (var name in new[] { "features.npy", "exp.npy", "landmarks.npy" })
        {
            var link = panel.Locator($"a[data-download='{name}']");
            await Assertions.Expect(link).ToBeVisibleAsync();
            var response = await page.APIRequest.GetAsync(await link.GetAttributeAsync("href") ?? "");
            Assert.Equal(200, response.Status);
            Assert.Equal("\u0093NUMPY", System.Text.Encoding.Latin1.GetString((await response.BodyAsync())[..6]));
        }

        await Assertions.Expect(page.Locator("#jobs .job-row").First).ToContainTextAsync("hello.wav");
        await BrowserFixture.ScreenshotAsync(page, "talking-face-desktop");
        await page.EvaluateAsync("() => window.scrollTo(0, 0)");
        await BrowserFixture.ScreenshotAsync(page, "talking-face-desktop-top", fullPage: false);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task At_phone_width_the_page_fits_the_screen_and_a_job_can_be_followed()
    {
        var (context, page, errors) = await browser.OpenAsync(_gateway.Address, width: 390, height: 844);
        await using var _ = context;
        await page.GotoAsync("/");

        await page.Locator("#form-talking-face input[name=audio]").SetInputFilesAsync(Sample);
        await page.Locator("#form-talking-face select[name=featureModel]").SelectOptionAsync("fast-hubert-int8");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create talking-face job" }).ClickAsync();
        await Assertions.Expect(page.Locator("#job-panel [data-badge] .badge")).ToHaveTextAsync("succeeded", new() { Timeout = 180_000 });
        await page.WaitForFunctionAsync("() => { const v = document.querySelector('video[data-preview]'); return v && v.readyState >= 2; }");

        var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
        Assert.True(overflow <= 0, $"the page is {overflow} px wider than a 390 px screen");
        var videoWidth = await page.Locator("video[data-preview]").EvaluateAsync<double>("v => v.getBoundingClientRect().width");
        Assert.InRange(videoWidth, 200, 390);
        await page.Locator("#job-panel").ScrollIntoViewIfNeededAsync();
        await BrowserFixture.ScreenshotAsync(page, "talking-face-phone", fullPage: false);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Speech_recorded_from_the_microphone_is_sent_as_wav_and_a_webcam_photo_fills_the_face_picker()
    {
        // Chromium's fake capture devices (a beeping microphone, a test-pattern camera), allowed without a prompt.
        var (context, page, errors) = await browser.OpenAsync(_gateway.Address);
        await using var _ = context;
        await page.GotoAsync("/");

        var form = page.Locator("#form-talking-face");
        await form.GetByRole(AriaRole.Button, new() { Name = "Record" }).ClickAsync();
        await Assertions.Expect(form.Locator("[data-record]")).ToHaveAttributeAsync("aria-pressed", "true");
        await page.WaitForTimeoutAsync(2500);
        await form.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();
        await Assertions.Expect(form.Locator("[data-audio-caption]")).ToContainTextAsync("WAV");
        await form.Locator("select[name=featureModel]").SelectOptionAsync("fast-hubert-int8");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create talking-face job" }).ClickAsync();

        var panel = page.Locator("#job-panel");
        await Assertions.Expect(panel.Locator("[data-badge] .badge")).ToHaveTextAsync("succeeded", new() { Timeout = 180_000 });
        await Assertions.Expect(panel.Locator("[data-eyebrow]")).ToContainTextAsync("recording-");
        var duration = await panel.Locator("video[data-preview]").EvaluateAsync<double>(
            "v => new Promise(ok => v.readyState >= 1 ? ok(v.duration) : v.addEventListener('loadedmetadata', () => ok(v.duration)))");
        Assert.InRange(duration, 1.5, 4.0); // about the 2.5 s recorded

        await page.GetByRole(AriaRole.Tab, new() { Name = "Hair" }).ClickAsync();
        var hair = page.Locator("#form-hair");
        await hair.GetByRole(AriaRole.Button, new() { Name = "Use webcam" }).ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('[data-webcam] video').videoWidth > 0");
        await hair.GetByRole(AriaRole.Button, new() { Name = "Take photo" }).ClickAsync();
        await Assertions.Expect(hair.Locator("[data-picker=face] [data-picker-text]")).ToContainTextAsync("webcam-");
        await Assertions.Expect(hair.Locator("[data-webcam]")).ToBeHiddenAsync();
        var photo = await hair.Locator("input[name=face]").EvaluateAsync<string>("i => i.files[0].type + ' ' + i.files[0].size");
        Assert.StartsWith("image/png ", photo);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_refused_submit_shows_the_problem_in_plain_words_next_to_the_field()
    {
        var (context, page, errors) = await browser.OpenAsync(_gateway.Address);
        await using var _ = context;
        await page.GotoAsync("/");

        // No audio at all, then a file that is not audio: the gateway's problem+json, in words.
        var form = page.Locator("#form-talking-face");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create talking-face job" }).ClickAsync();
        await Assertions.Expect(form.Locator("[data-problem]")).ToBeVisibleAsync();
        await Assertions.Expect(form.Locator("[data-error-for=audio]")).ToContainTextAsync("Speech audio");

        var notAudio = Path.Combine(_gateway.Root, "notes.wav");
        await File.WriteAllTextAsync(notAudio, "these are meeting notes, not speech");
        await form.Locator("input[name=audio]").SetInputFilesAsync(notAudio);
        await form.GetByRole(AriaRole.Button, new() { Name = "Create talking-face job" }).ClickAsync();
        await Assertions.Expect(form.Locator("[data-problem]")).ToContainTextAsync("not audio");
        await Assertions.Expect(form.Locator("[data-problem] .problem-title")).ToHaveTextAsync("Not an audio file");
        Assert.Equal(0, await GatewayApiCount());
        // The two refused submits, and nothing else, failed.
        Assert.Equal(["HTTP 400 POST /api/jobs/talking-face", "HTTP 415 POST /api/jobs/talking-face"], errors);

        async Task<int> GatewayApiCount()
        {
            using var client = _gateway.CreateLiveClient();
            return await client.CountJobsAsync();
        }
    }

    [Fact]
    public async Task A_batch_from_the_page_shows_aggregate_progress_and_each_item()
    {
        var clips = Enumerable.Range(1, 3).Select(i =>
        {
            var path = Path.Combine(_gateway.Root, $"clip-{i}.wav");
            File.Copy(Sample, path);
            return path;
        }).ToArray();
        var (context, page, errors) = await browser.OpenAsync(_gateway.Address);
        await using var _ = context;
        await page.GotoAsync("/");

        await page.GetByRole(AriaRole.Tab, new() { Name = "Batch" }).ClickAsync();
        var form = page.Locator("#form-batch");
        await form.Locator("input[name=files]").SetInputFilesAsync(clips);
        await form.Locator("input[name=name]").FillAsync("three greetings");
        await form.Locator("select[name=featureModel]").SelectOptionAsync("fast-hubert-int8");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create batch" }).ClickAsync();

        // The panel opens once POST /api/batches answers: three uploads stored and three jobs dispatched, which on a
        // loaded machine takes longer than Playwright's default 5 s.
        var panel = page.Locator("#batch-panel");
        await Assertions.Expect(panel).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Assertions.Expect(panel).ToHaveAttributeAsync("data-finished", "true", new() { Timeout = 240_000 });
        await Assertions.Expect(panel.Locator("[data-batch-bar]")).ToHaveAttributeAsync("aria-valuenow", "100");
        await Assertions.Expect(panel.Locator("[data-batch-counts]")).ToContainTextAsync("3 clips: 3 succeeded");
        await Assertions.Expect(panel.Locator("[data-batch-items] [data-state=succeeded]")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator("#batches .job-row").First).ToContainTextAsync("three greetings");

        // An item opens its job beside the batch.
        await panel.Locator("[data-batch-items] a").First.ClickAsync();
        await Assertions.Expect(page.Locator("#job-panel [data-badge] .badge")).ToHaveTextAsync("succeeded");
        await Assertions.Expect(panel).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(page, "batch-desktop");
        await page.EvaluateAsync("() => window.scrollTo(0, 0)");
        await BrowserFixture.ScreenshotAsync(page, "batch-desktop-top", fullPage: false);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task The_fleet_box_shows_the_standalone_workers()
    {
        var (context, page, errors) = await browser.OpenAsync(_gateway.Address);
        await using var _ = context;
        await page.GotoAsync("/");

        // The in-process workers report a heartbeat at start-up; the box refreshes every 5 s.
        var rows = page.Locator("#fleet [data-workers] tr:not(:has(.empty-row))");
        await Assertions.Expect(rows).ToHaveCountAsync(4, new() { Timeout = 30_000 }); // audio, motion, hair and the pipeline probe
        await Assertions.Expect(page.Locator("#fleet [data-workers]")).ToContainTextAsync("audio");
        await Assertions.Expect(page.Locator("#fleet [data-workers]")).ToContainTextAsync("motion");
        await Assertions.Expect(page.Locator("#fleet [data-fleet-summary] table")).ToBeVisibleAsync();
        Assert.Empty(errors);
    }
}
