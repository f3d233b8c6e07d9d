using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using TalkingFace.Models;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers;

namespace TalkingFace.Tests.Models;

/// <summary>
/// A GPU device class on a machine (or build) without CUDA: the session opens on the CPU provider and the log says
/// which provider was skipped and why. Runs on both builds: the CPU build (CUDA is not in it) and the GPU build
/// (<c>-p:OnnxRuntimeGpu=true</c>, which CI builds and runs this class on), where CUDA is in the build but its
/// libraries (libcudart, libcublas, cuDNN) or a GPU are missing; on a machine with a working CUDA the GPU build must
/// use it.
/// </summary>
public sealed class ProviderFallbackTests
{
    [Fact]
    public void Cuda_that_cannot_start_falls_back_to_cpu_with_the_reason_logged()
    {
        var log = new ListLogger<OnnxSessionFactory>();
        var options = new InferenceOptions { OptimizedModelCache = "", Providers = new() { ["rtx"] = ["CUDA", "CPU"] } };
        using var registry = new ModelRegistry(
            new ModelCatalog(Options.Create(new ModelStoreOptions { Root = Path.Combine(TestPaths.RepoRoot, "models") })),
            new OnnxSessionFactory(Options.Create(options), log),
            Options.Create(new WorkerOptions { DeviceClass = "rtx" }),
            Options.Create(options),
            NullLogger<ModelRegistry>.Instance);

        var model = registry.Get("fast-hubert")!;

        var inBuild = OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider");
        if (model.Provider == "CUDAExecutionProvider")
        {
            Assert.True(inBuild, "CUDA ran although this build does not have it");
            Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Warning);
            return; // a GPU machine with CUDA: nothing to fall back from
        }
        Assert.Equal("CPUExecutionProvider", model.Provider);
        var skipped = Assert.Single(log.Entries, e => e.Level == LogLevel.Warning && e.Message.StartsWith("Execution provider CUDA unavailable", StringComparison.Ordinal));
        var reason = skipped.Message[(skipped.Message.IndexOf(": ", StringComparison.Ordinal) + 2)..];
        Assert.False(string.IsNullOrWhiteSpace(reason.Replace("; trying the next one", "", StringComparison.Ordinal)), skipped.Message);
        if (!inBuild) Assert.Contains("CUDAExecutionProvider is not in this ONNX Runtime build", reason);
        else Assert.Matches("(?i)cuda|cublas|cudnn|\\.so|library|device", reason); // ONNX Runtime's own words for what is missing
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("runs on CPUExecutionProvider, not the first choice CUDA", StringComparison.Ordinal));
    }

    private sealed class ListLogger<T> : ILogger<T>
    {
        public sealed record Entry(LogLevel Level, string Message);

        private readonly List<Entry> _entries = [];

        public IReadOnlyList<Entry> Entries
        {
            get { lock (_entries) return [.. _entries]; }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_entries) _entries.Add(new Entry(logLevel, formatter(state, exception)));
        }
    }
}
