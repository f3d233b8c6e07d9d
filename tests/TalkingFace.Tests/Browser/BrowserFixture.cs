using Microsoft.Playwright;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Browser;

/// <summary>
/// Headless Chromium driven by Playwright .NET. The browser is Debian's (<c>/usr/bin/chromium</c>, or
/// <c>TALKINGFACE_CHROMIUM</c>): Playwright's own browser download is never used. Playwright's driver (a bundled
/// Node.js and its JavaScript package) comes in the NuGet package and is copied to the test output's
/// <c>.playwright/</c> folder by the build; nothing else is needed.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public static string ChromiumPath { get; } = Environment.GetEnvironmentVariable("TALKINGFACE_CHROMIUM") ?? "/usr/bin/chromium";

    /// <summary>Where screenshots go: TestResults/browser under the repository (ignored by git), kept after the run.</summary>
    public static string ScreenshotFolder { get; } = Path.Combine(TestPaths.RepoRoot, "TestResults", "browser");

    /// <summary>
    /// Endpoints the page uses when the gateway has them and does without otherwise (the hair gallery and the fleet
    /// summary come from other parts of the project): a 404 from them is not an error of the page.
    /// </summary>
    private static readonly HashSet<string> OptionalEndpoints = ["/api/gallery", "/api/fleet"];

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"Chromium is not at {ChromiumPath}: apt-get install chromium (scripts/services.sh start does), or set TALKINGFACE_CHROMIUM.");
        Directory.CreateDirectory(ScreenshotFolder);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Root in CI containers: Chromium's sandbox needs user namespaces; fake media devices for the recorder and webcam.
            Args = ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }

    /// <summary>A fresh context (cookies, storage) and page on the gateway, with the console's errors collected.</summary>
    public async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenAsync(Uri gateway, int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = gateway.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            DeviceScaleFactor = width < 600 ? 2 : 1,
            IsMobile = width < 600,
            HasTouch = width < 600,
            ColorScheme = ColorScheme.Light,
            Permissions = ["camera", "microphone"],
        });
        context.SetDefaultTimeout(60_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            // A failed request is logged as "Failed to load resource"; those are judged by the Response handler below.
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
                lock (errors) errors.Add(message.Text);
        };
        page.Response += (_, response) =>
        {
            var path = new Uri(response.Url).AbsolutePath;
            if (response.Status >= 400 && !(response.Status == 404 && OptionalEndpoints.Contains(path)))
                lock (errors) errors.Add($"HTTP {response.Status} {response.Request.Method} {path}");
        };
        page.PageError += (_, error) =>
        {
            lock (errors) errors.Add(error);
        };
        return (context, page, errors);
    }

    public static async Task<string> ScreenshotAsync(IPage page, string name, bool fullPage = true)
    {
        var path = Path.Combine(ScreenshotFolder, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = fullPage });
        return path;
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "Browser";
}
