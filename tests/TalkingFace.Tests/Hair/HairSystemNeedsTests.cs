using System.Collections.Concurrent;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TalkingFace.Tests.Standalone;
using TalkingFace.Workers.Hair.Imaging;

namespace TalkingFace.Tests.Hair;

/// <summary>
/// The hair stage on a machine without what OpenCV needs, in the standalone gateway (which hosts every stage, so a
/// talking-face user must not see hair errors): OpenCV's native library that does not load, and no opencv-data
/// cascades. Hair jobs fail with the reason and the install command, never a 500, and nothing is logged as an error at
/// start. Nothing is uninstalled: the native library's loader is injected, the cascade folder is an empty one.
/// </summary>
public sealed class HairSystemNeedsTests : IAsyncLifetime
{
    /// <summary>What .NET's DllNotFoundException says on Linux when libOpenCvSharpExtern.so is found but libgtk-3.so.0 is not (dlopen's own words).</summary>
    private const string GtkMissing =
        "Unable to load shared library 'OpenCvSharpExtern' or one of its dependencies. In order to help diagnose loading problems, " +
        "consider using a tool like strace. If you're using glibc, consider setting the LD_DEBUG environment variable: \n" +
        "libgtk-3.so.0: cannot open shared object file: No such file or directory\n" +
        "/app/OpenCvSharpExtern.so: cannot open shared object file: No such file or directory\n" +
        "/app/libOpenCvSharpExtern: cannot open shared object file: No such file or directory\n";

    private readonly TempFolder _empty = new();
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync();
        _empty.Dispose();
    }

    [Fact]
    public void A_missing_dependency_is_named_with_the_install_command()
    {
        var reason = OpenCvNative.Describe(new TypeInitializationException("OpenCvSharp.Internal.NativeMethods", new DllNotFoundException(GtkMissing)));
        Assert.Equal("the hair stage cannot load OpenCV's native library (libOpenCvSharpExtern.so needs libgtk-3.so.0): apt-get install libgtk-3-0 libdrm2 libatomic1", reason);
    }

    [Fact]
    public void A_library_that_is_not_there_at_all_says_so()
    {
        // A real dlopen failure: the library file itself is missing.
        var problem = new OpenCvNative(() => NativeLibrary.Load(Path.Combine(_empty.Path, "libOpenCvSharpExtern.so"))).Problem;
        Assert.NotNull(problem);
        Assert.StartsWith("the hair stage cannot load OpenCV's native library: libOpenCvSharpExtern.so is not beside the program", problem);
        Assert.Null(new OpenCvNative().Problem); // and on this machine the real one loads
    }

    [Fact]
    public async Task Without_gtk_a_hair_job_fails_with_the_install_command_and_start_logs_no_error()
    {
        var factory = Track(new NeedsFactory(new Dictionary<string, string?>(), yolo: true,
            new OpenCvNative(() => throw new TypeInitializationException("OpenCvSharp.Internal.NativeMethods", new DllNotFoundException(GtkMissing)))));
        using var client = factory.CreateClient();

        using var response = await client.PostAsync("/api/jobs/hair", HairForm());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await client.WaitUntilFinishedAsync((await response.ReadJobAsync(HttpStatusCode.Accepted)).Id);

        Assert.Equal("failed", job.State);
        Assert.Contains("the hair stage cannot load OpenCV's native library (libOpenCvSharpExtern.so needs libgtk-3.so.0): apt-get install libgtk-3-0", job.Reason);
        Assert.Equal(1, job.Stages.Single().Attempt); // not retried: nothing changes by trying again
        factory.AssertNoErrorLogged();
        Assert.Contains(factory.Logs, l => l.Level == LogLevel.Warning && l.Message.Contains("libgtk-3.so.0", StringComparison.Ordinal));
        using var ready = await client.GetAsync("/health/ready");
        Assert.Contains("libgtk-3.so.0", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Without_opencv_data_and_without_a_yolo_model_a_hair_job_fails_saying_what_to_install()
    {
        var factory = Track(new NeedsFactory(new Dictionary<string, string?> { ["Hair:Detection:CascadeFolder"] = _empty.Path }, yolo: false, null));
        using var client = factory.CreateClient();

        var job = await client.WaitUntilFinishedAsync((await client.SubmitHairAsync(HairTestKit.OneFace, ("mode", "both"), ("shapeId", "bob-black"), ("colorId", "long-blonde"))).Id);

        Assert.Equal("failed", job.State);
        Assert.Contains("apt-get install opencv-data", job.Reason);
        Assert.Contains("or put a YOLOv8-face model in the model store as 'face-detector'", job.Reason);
        factory.AssertNoErrorLogged();
    }

    [Fact]
    public async Task With_a_yolo_model_a_colour_photo_needs_no_opencv_data()
    {
        var factory = Track(new NeedsFactory(new Dictionary<string, string?> { ["Hair:Detection:CascadeFolder"] = _empty.Path }, yolo: true, null));
        using var client = factory.CreateClient();

        var job = await client.WaitUntilFinishedAsync((await client.SubmitHairAsync(HairTestKit.OneFace, ("mode", "both"), ("shapeId", "bob-black"), ("colorId", "long-blonde"))).Id);

        Assert.True(job.State == "succeeded", job.Reason);
        factory.AssertNoErrorLogged();
    }

    private NeedsFactory Track(NeedsFactory factory)
    {
        _owned.Add(factory);
        return factory;
    }

    private static MultipartFormDataContent HairForm() =>
        GatewayApi.Form([("face", "one-face-a.jpg", File.ReadAllBytes(HairTestKit.OneFace))], ("mode", "both"), ("shapeId", "bob-black"), ("colorId", "long-blonde"));

    /// <summary>A standalone gateway with the demo hair chain, the YOLO detector or none, an injected native-library check, and its logs kept.</summary>
    private sealed class NeedsFactory : StandaloneGatewayFactory
    {
        private readonly OpenCvNative? _openCv;
        private readonly LogSink _sink = new();

        public NeedsFactory(Dictionary<string, string?> settings, bool yolo, OpenCvNative? openCv) : base(settings)
        {
            _openCv = openCv;
            if (yolo) HairTestKit.InstallYoloDetector(ModelsRoot);
            HairGatewayFactory.CopyFolder(Path.Combine(Infrastructure.TestPaths.RepoRoot, "models", "hairfast"), Path.Combine(ModelsRoot, "hairfast"));
        }

        public IReadOnlyCollection<LogSink.Entry> Logs => _sink.Entries;

        public void AssertNoErrorLogged()
        {
            var errors = _sink.Entries.Where(e => e.Level >= LogLevel.Error && e.Category.StartsWith("TalkingFace", StringComparison.Ordinal)).ToList();
            Assert.True(errors.Count == 0, "error logged: " + string.Join(" | ", errors.Select(e => $"{e.Category}: {e.Message}")));
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging => logging.AddProvider(_sink));
            if (_openCv is not null) builder.ConfigureTestServices(services => services.AddSingleton(_openCv));
        }
    }

    internal sealed class LogSink : ILoggerProvider
    {
        public sealed record Entry(string Category, LogLevel Level, string Message);

        private readonly ConcurrentQueue<Entry> _entries = new();

        public IReadOnlyCollection<Entry> Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<Entry> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue(new Entry(category, logLevel, formatter(state, exception)));
        }
    }
}
