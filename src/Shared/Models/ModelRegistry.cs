using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using TalkingFace.Workers;

namespace TalkingFace.Models;

/// <summary>A model file that does not match its manifest, or a manifest that cannot be used.</summary>
public sealed class ModelStoreException(string message) : Exception(message);

/// <summary>A model loaded into an ONNX Runtime session, ready to run. Sessions are thread-safe for Run.</summary>
public sealed class LoadedModel(ModelManifest manifest, string directory, InferenceSession session, string provider, TimeSpan loadTime, string? fallback = null) : IDisposable
{
    public ModelManifest Manifest { get; } = manifest;
    public string Directory { get; } = directory;
    public InferenceSession Session { get; } = session;
    /// <summary>The execution provider actually used (after any fallback).</summary>
    public string Provider { get; } = provider;
    public TimeSpan LoadTime { get; } = loadTime;
    /// <summary>Why this model does not run on its device class's first-choice provider; null when it does. Stages put
    /// it on their record as a warning.</summary>
    public string? Fallback { get; } = fallback;

    public void Dispose() => Session.Dispose();
}

/// <summary>
/// The model store of a worker: finds models by name, picks the precision variant its device class prefers, validates
/// the manifest and sha256, opens each once with the class's execution providers, and keeps it loaded.
/// </summary>
public sealed class ModelRegistry(ModelCatalog catalog, OnnxSessionFactory sessions, IOptions<WorkerOptions> worker, IOptions<InferenceOptions> inference, ILogger<ModelRegistry> logger) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<LoadedModel?>> _loaded = new(StringComparer.Ordinal);

    /// <summary>
    /// The loaded model for a job asking for <paramref name="requested"/>: the variant of the device class's preferred
    /// precision (see <see cref="Resolve"/>), or null when the store has no model of that name ("not configured").
    /// </summary>
    /// <exception cref="ModelStoreException">The model exists but its manifest or file is invalid.</exception>
    public LoadedModel? Get(string requested)
    {
        var name = Resolve(requested);
        var lazy = _loaded.GetOrAdd(name, n => new Lazy<LoadedModel?>(() => Load(n), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _loaded.TryRemove(name, out _); // let a fixed store be retried
            throw;
        }
    }

    /// <summary>
    /// The store's model that runs for a request of <paramref name="name"/> on this worker's device class: for each
    /// precision in <c>Inference:Precision</c>'s order, the model itself when it has that precision, else its variant
    /// <c>{name}-{precision}</c> when the store has one of that precision. A name with no variant (or one that is a
    /// variant, like <c>fast-hubert-int8</c>) resolves to itself.
    /// </summary>
    public string Resolve(string name)
    {
        var location = catalog.Find(name);
        if (location is null) return name;
        var own = PeekPrecision(location);
        foreach (var precision in PreferredPrecisions)
        {
            if (precision == own) return name;
            if (catalog.Find($"{name}-{precision}") is { } variant && PeekPrecision(variant) == precision) return variant.Name;
        }
        return name;
    }

    /// <summary>The precisions this worker's device class runs, preferred first (<c>Inference:Precision</c>).</summary>
    public IReadOnlyList<string> PreferredPrecisions => inference.Value.PrecisionFor(worker.Value.DeviceClass);

    private static string? PeekPrecision(ModelLocation location)
    {
        try
        {
            return PeekManifest(location).Precision;
        }
        catch (ModelStoreException)
        {
            return null; // loading it says what is wrong
        }
    }

    public IReadOnlyList<LoadedModel> Loaded =>
        [.. _loaded.Values.Where(l => l.IsValueCreated && l.Value is not null).Select(l => l.Value!)];

    /// <summary>Parses a manifest without touching the model file: cheap, for deciding which models to load.</summary>
    public static ModelManifest PeekManifest(ModelLocation location)
    {
        try
        {
            return JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(location.ManifestPath), ModelManifest.Json)
                ?? throw new ModelStoreException($"{location.ManifestPath} is empty");
        }
        catch (JsonException e)
        {
            throw new ModelStoreException($"{location.ManifestPath} is not a valid manifest: {e.Message}");
        }
    }

    /// <summary>Reads and checks a manifest: required fields, file present, size and sha256 equal to the manifest's.</summary>
    public static ModelManifest ReadManifest(ModelLocation location)
    {
        var manifest = PeekManifest(location);
        if (manifest.Name != location.Name) throw new ModelStoreException($"{location.ManifestPath} names model '{manifest.Name}', but it sits in folder '{location.Name}'");
        if (manifest.Input is null || manifest.Output is null) throw new ModelStoreException($"{location.ManifestPath} has no input or output section");
        if (manifest.Input.Kind == "fbank") CheckFbank(manifest.Input.Fbank, location.ManifestPath);
        CheckedFile(manifest.Id, location, manifest.File, manifest.SizeBytes, manifest.Sha256, "model file", location.ManifestPath + ": file");
        return manifest;
    }

    /// <summary>The fbank settings of an fbank-input model: the C# KaldiFbank must be able to make exactly that input.</summary>
    public static void CheckFbank(FbankSpec? fbank, string manifestPath)
    {
        if (fbank is null)
            throw new ModelStoreException($"{manifestPath}: input kind 'fbank' needs an input.fbank section (numMelBins, frameLengthMs, frameShiftMs, waveformScale)");
        if (!double.IsFinite(fbank.WaveformScale) || fbank.WaveformScale <= 0)
            throw new ModelStoreException($"{manifestPath}: input.fbank.waveformScale {fbank.WaveformScale} must be a positive number: the factor the [-1, 1] samples are multiplied by before the fbank (32768 for Fast-HuBERT, 1 for fbank of the samples as they are)");
        if (fbank.NumMelBins < 4)
            throw new ModelStoreException($"{manifestPath}: input.fbank.numMelBins {fbank.NumMelBins} must be at least 4");
        if (!double.IsFinite(fbank.FrameLengthMs) || !double.IsFinite(fbank.FrameShiftMs) || fbank.FrameLengthMs <= 0 || fbank.FrameShiftMs <= 0)
            throw new ModelStoreException($"{manifestPath}: input.fbank frameLengthMs {fbank.FrameLengthMs} and frameShiftMs {fbank.FrameShiftMs} must be positive");
    }

    /// <summary>
    /// A file a manifest names, checked: inside the model folder, present, and of the manifest's size and sha256.
    /// <paramref name="kind"/> names it in errors ("model file", "stage file"); <paramref name="outsideSubject"/> starts the
    /// error for a path that leaves the folder.
    /// </summary>
    public static string CheckedFile(string modelId, ModelLocation location, string relativeFile, long sizeBytes, string sha256, string kind, string outsideSubject)
    {
        if (relativeFile.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(relativeFile))
            throw new ModelStoreException($"{outsideSubject} '{relativeFile}' must be inside the model folder");
        var file = Path.Combine(location.Directory, relativeFile);
        if (!File.Exists(file)) throw new ModelStoreException($"{modelId}: {kind} {file} is missing");
        var size = new FileInfo(file).Length;
        if (sizeBytes > 0 && size != sizeBytes)
            throw new ModelStoreException($"{modelId}: {file} is {size:N0} bytes, the manifest says {sizeBytes:N0}");
        using var stream = File.OpenRead(file);
        var sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (!sha.Equals(sha256, StringComparison.OrdinalIgnoreCase))
            throw new ModelStoreException($"{modelId}: sha256 of {file} is {sha}, the manifest says {sha256}: the file is corrupted or was replaced");
        return file;
    }

    private LoadedModel? Load(string name)
    {
        var location = catalog.Find(name);
        if (location is null) return null;
        var watch = Stopwatch.StartNew();
        var manifest = ReadManifest(location);
        var (session, provider, fallback) = sessions.Create(manifest, Path.Combine(location.Directory, manifest.File), worker.Value.DeviceClass);
        foreach (var input in manifest.Inputs.Where(i => !session.InputMetadata.ContainsKey(i.Name)))
        {
            session.Dispose();
            throw new ModelStoreException($"{manifest.Id}: the manifest lists input '{input.Name}' but the ONNX graph has {string.Join(", ", session.InputMetadata.Keys)}");
        }
        var model = new LoadedModel(manifest, location.Directory, session, provider, watch.Elapsed, fallback);
        logger.LogInformation("Loaded {Model} ({Precision}{Demo}) on {Provider} in {Seconds:F2} s",
            manifest.Id, manifest.Precision, manifest.Demo ? ", demo weights" : "", provider, watch.Elapsed.TotalSeconds);
        return model;
    }

    public void Dispose()
    {
        foreach (var model in Loaded) model.Dispose();
    }
}
