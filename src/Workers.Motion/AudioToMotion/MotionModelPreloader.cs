using Microsoft.Extensions.Diagnostics.HealthChecks;
using TalkingFace.Media;
using TalkingFace.Models;

namespace TalkingFace.Workers.Motion.AudioToMotion;

/// <summary>
/// Loads and warms every audio-to-motion model in the store before the worker takes work, as the audio worker does
/// for its feature models: the ONNX session, the manifest's extra fields and the landmark assets (sha256 checked),
/// then one short run. A model that fails validation is logged and left out; jobs asking for it fail with the reason.
/// </summary>
internal sealed class MotionModelPreloader(
    ModelCatalog catalog,
    MotionModels models,
    ModelRegistry registry,
    ILogger<MotionModelPreloader> logger) : IHostedService, IHealthCheck
{
    private volatile bool _done;

    public Task StartAsync(CancellationToken ct)
    {
        foreach (var location in catalog.All())
        {
            try
            {
                var manifest = ModelRegistry.PeekManifest(location); // the registry checks the file (sha256) once, when it loads it
                if (manifest.Task != MotionModelSpec.Task) continue;
                if (!registry.PreferredPrecisions.Contains(manifest.Precision)) continue; // this class does not run it by choice: loads on first use
                var model = models.Get(location.Name);
                if (model is null) continue;
                Warm(model, ct);
                logger.LogInformation("Warmed up {Model} on {Provider}", model.Manifest.Id, model.Model.Provider);
            }
            catch (Exception e) when (e is ModelStoreException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
            {
                logger.LogError("Model {Name} is not usable: {Reason}", location.Name, e.Message);
            }
        }
        _done = true;
        return Task.CompletedTask;
    }

    /// <summary>One window of silence-like input through the model and the landmark model: allocates, JITs and tunes.</summary>
    internal static void Warm(MotionModel model, CancellationToken ct)
    {
        var spec = model.Spec;
        var frames = spec.FrameMultiple * 4;
        var features = new NpyArray(new float[frames * spec.FeatureFramesPerFrame * spec.FeatureDim], [frames * spec.FeatureFramesPerFrame, spec.FeatureDim]);
        var f0 = new NpyArray(new float[frames * spec.F0FromRate / spec.FrameRate], [frames * spec.F0FromRate / spec.FrameRate]);
        var featureModel = spec.FeatureModels.Count > 0 ? spec.FeatureModels[0] : "";
        var batch = BatchPreparation.Prepare(features, f0, spec, model.Manifest.Name, featureModel, seed: 0, spec.DefaultTemperature);
        var result = MotionInference.Run(model.Model, spec, batch, batch.PaddedFrames, 0, ct);
        model.Landmarks.Projection.Project(model.Landmarks.Reconstruct(result.Exp, result.Frames));
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(_done
            ? HealthCheckResult.Healthy(string.Join(", ", registry.Loaded.Where(m => m.Manifest.Task == MotionModelSpec.Task).Select(m => $"{m.Manifest.Id} on {m.Provider}")))
            : HealthCheckResult.Unhealthy("motion models are still loading"));
}
