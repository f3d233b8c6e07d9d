using Microsoft.Extensions.Diagnostics.HealthChecks;
using TalkingFace.Models;

namespace TalkingFace.Workers.Audio.Features;

/// <summary>
/// Loads and warms every feature model in the store before the worker takes work (the seed measured ~10 s
/// loads that the first job would otherwise pay), as this device class runs it: a request for a model loads its
/// preferred precision variant, and variants of precisions the class does not list are left to load on first use.
/// A model that fails validation is logged and left out; jobs asking for it fail with the reason.
/// </summary>
internal sealed class FeatureModelPreloader(
    ModelCatalog catalog,
    ModelRegistry registry,
    FeatureExtractor extractor,
    ILogger<FeatureModelPreloader> logger) : IHostedService, IHealthCheck
{
    public const string Task = "audio-features";
    private volatile bool _done;

    public Task StartAsync(CancellationToken ct)
    {
        foreach (var location in catalog.All())
        {
            try
            {
                var manifest = ModelRegistry.PeekManifest(location); // the registry checks the file (sha256) once, when it loads it
                if (manifest.Task != Task) continue;
                if (!registry.PreferredPrecisions.Contains(manifest.Precision)) continue; // this class does not run it by choice: loads on first use
                var model = registry.Get(location.Name);
                if (model is null) continue;
                extractor.Extract(model, new float[16000], ct); // one second of silence: allocates, JITs and tunes
                logger.LogInformation("Warmed up {Model} on {Provider}", model.Manifest.Id, model.Provider);
            }
            catch (Exception e) when (e is ModelStoreException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
            {
                logger.LogError("Model {Name} is not usable: {Reason}", location.Name, e.Message);
            }
        }
        _done = true;
        return System.Threading.Tasks.Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct) => System.Threading.Tasks.Task.CompletedTask;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        System.Threading.Tasks.Task.FromResult(_done
            ? HealthCheckResult.Healthy(string.Join(", ", registry.Loaded.Select(m => $"{m.Manifest.Id} on {m.Provider}")))
            : HealthCheckResult.Unhealthy("models are still loading"));
}
