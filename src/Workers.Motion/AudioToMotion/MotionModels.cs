using System.Runtime.CompilerServices;
using TalkingFace.Models;
using TalkingFace.Workers.Motion.Landmarks;

namespace TalkingFace.Workers.Motion.AudioToMotion;

/// <summary>An audio-to-motion model ready to run: its ONNX session, its manifest's extra fields and its landmark model.</summary>
public sealed record MotionModel(LoadedModel Model, MotionModelSpec Spec, LandmarkModel Landmarks)
{
    public ModelManifest Manifest => Model.Manifest;
}

/// <summary>
/// The audio-to-motion models of the model store, on top of <see cref="ModelRegistry"/> (which checks the ONNX file
/// and opens the session): reads each one's extra manifest fields and its landmark assets once, checking their sha256.
/// </summary>
public sealed class MotionModels(ModelRegistry registry)
{
    private readonly ConditionalWeakTable<LoadedModel, MotionModel> _ready = [];
    private readonly Lock _gate = new();

    /// <summary>The model, or null when the store has none of that name ("not configured").</summary>
    /// <exception cref="ModelStoreException">The model exists but is not a usable audio-to-motion model.</exception>
    public MotionModel? Get(string name)
    {
        var model = registry.Get(name);
        if (model is null) return null;
        lock (_gate)
        {
            if (_ready.TryGetValue(model, out var ready)) return ready;
            var spec = MotionModelSpec.Read(model.Manifest, Path.Combine(model.Directory, "manifest.json"));
            foreach (var input in spec.InputNames)
            {
                if (!model.Session.InputMetadata.ContainsKey(input))
                    throw new ModelStoreException($"{model.Manifest.Id}: the ONNX graph has no input '{input}' (it has {string.Join(", ", model.Session.InputMetadata.Keys)})");
            }
            var unfed = model.Session.InputMetadata.Keys.Except(spec.InputNames).ToList();
            if (unfed.Count > 0)
                throw new ModelStoreException($"{model.Manifest.Id}: the ONNX graph takes {string.Join(", ", unfed)}, which a {spec.Variant} is not fed (it gets {string.Join(", ", spec.InputNames)})");
            if (!model.Session.OutputMetadata.ContainsKey(MotionModelSpec.ExpOutput))
                throw new ModelStoreException($"{model.Manifest.Id}: the ONNX graph has no output '{MotionModelSpec.ExpOutput}' (it has {string.Join(", ", model.Session.OutputMetadata.Keys)})");
            ready = new MotionModel(model, spec, LandmarkModel.Load(model.Directory, spec, model.Manifest.Id));
            _ready.Add(model, ready);
            return ready;
        }
    }
}
