using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TalkingFace.Models;

namespace TalkingFace.Workers.Hair.Transfer;

/// <summary>A tensor going into or coming out of a chain stage: float32 or int64 data, row-major, with its shape.</summary>
public sealed class StageTensor
{
    private StageTensor(float[]? floats, long[]? longs, long[] shape)
    {
        var count = shape.Aggregate(1L, (a, b) => a * b);
        if ((floats?.LongLength ?? longs!.LongLength) != count)
            throw new ArgumentException($"{floats?.Length ?? longs!.Length} values do not fill shape [{string.Join(", ", shape)}]");
        Floats = floats;
        Longs = longs;
        Shape = shape;
    }

    public float[]? Floats { get; }
    public long[]? Longs { get; }
    public long[] Shape { get; }
    public string Dtype => Floats is not null ? "float32" : "int64";

    public static StageTensor Float(float[] data, params long[] shape) => new(data, null, shape);
    public static StageTensor Int64(long[] data, params long[] shape) => new(null, data, shape);
}

/// <summary>
/// A loaded hair transfer chain: one ONNX Runtime session per stage (parsing, embedding, shape, blend, synthesis),
/// each file checked against the manifest's size and sha256. Sessions are thread-safe for <see cref="Run"/>.
/// </summary>
public sealed class HairChain : IDisposable
{
    private readonly Dictionary<string, InferenceSession> _sessions;

    internal HairChain(HairChainManifest manifest, string directory, Dictionary<string, InferenceSession> sessions, string provider, TimeSpan loadTime)
    {
        Manifest = manifest;
        Directory = directory;
        _sessions = sessions;
        Provider = provider;
        LoadTime = loadTime;
    }

    public HairChainManifest Manifest { get; }
    public string Directory { get; }
    /// <summary>The execution provider(s) the stages run on, after any fallback (distinct, comma-separated).</summary>
    public string Provider { get; }
    public TimeSpan LoadTime { get; }

    /// <summary>Runs one stage on named inputs whose dtypes and shapes must be exactly the manifest's; returns its outputs by name.</summary>
    /// <exception cref="ArgumentException">An input is missing or has the wrong dtype or shape.</exception>
    public IReadOnlyDictionary<string, StageTensor> Run(string stage, IReadOnlyDictionary<string, StageTensor> inputs, CancellationToken ct)
    {
        var spec = Manifest.Stage(stage);
        var session = _sessions[stage];
        var values = new List<OrtValue>(spec.Inputs.Count);
        try
        {
            foreach (var input in spec.Inputs)
            {
                if (!inputs.TryGetValue(input.Name, out var tensor))
                    throw new ArgumentException($"{Manifest.Id} stage '{stage}' needs input '{input.Name}'");
                var want = Dims(input);
                if (tensor.Dtype != input.Dtype || !tensor.Shape.SequenceEqual(want))
                    throw new ArgumentException($"{Manifest.Id} stage '{stage}' input '{input.Name}' is {tensor.Dtype} [{string.Join(", ", tensor.Shape)}], expected {input.Dtype} [{string.Join(", ", want)}]");
                values.Add(tensor.Floats is not null
                    ? OrtValue.CreateTensorValueFromMemory(tensor.Floats, tensor.Shape)
                    : OrtValue.CreateTensorValueFromMemory(tensor.Longs!, tensor.Shape));
            }
            using var run = new RunOptions();
            using var cancel = ct.Register(() => run.Terminate = true);
            var outputNames = spec.Outputs.Select(o => o.Name).ToArray();
            using var outputs = session.Run(run, [.. spec.Inputs.Select(i => i.Name)], values, outputNames);
            var result = new Dictionary<string, StageTensor>(StringComparer.Ordinal);
            for (var i = 0; i < outputNames.Length; i++)
            {
                var value = outputs[i];
                var info = value.GetTensorTypeAndShape();
                result[outputNames[i]] = info.ElementDataType == TensorElementType.Int64
                    ? StageTensor.Int64(value.GetTensorDataAsSpan<long>().ToArray(), info.Shape)
                    : StageTensor.Float(value.GetTensorDataAsSpan<float>().ToArray(), info.Shape);
            }
            ct.ThrowIfCancellationRequested();
            return result;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    internal static long[] Dims(TensorSpec spec) =>
        [.. spec.Shape.Select(d => d.ValueKind == JsonValueKind.Number ? d.GetInt64() : throw new ModelStoreException($"hair chain tensor '{spec.Name}' has a symbolic dimension '{d}'; the chain's shapes are fixed"))];

    public void Dispose()
    {
        foreach (var session in _sessions.Values) session.Dispose();
    }
}

/// <summary>Finds a hair chain in the model store, checks its manifest and every stage file, and opens the sessions.</summary>
public sealed class HairChainLoader(ModelCatalog catalog, OnnxSessionFactory sessions, IOptions<WorkerOptions> worker, ILogger<HairChainLoader> logger)
{
    /// <exception cref="ModelStoreException">The chain is not in the store, or its manifest or a stage file is invalid.</exception>
    public HairChain Load(string name)
    {
        var location = catalog.Find(name) ?? throw new ModelStoreException(catalog.NotConfigured(name, "hair transfer"));
        var watch = Stopwatch.StartNew();
        var manifest = HairChainManifest.Read(location.ManifestPath);
        Validate(manifest, location);
        var opened = new Dictionary<string, InferenceSession>(StringComparer.Ordinal);
        var providers = new List<string>();
        try
        {
            foreach (var stage in HairChainManifest.StageNames)
            {
                var spec = manifest.Stage(stage);
                var path = CheckedFile(manifest, location, spec);
                var stageManifest = new ModelManifest
                {
                    Name = $"{manifest.Name}-{stage}", Version = manifest.Version, Task = manifest.Task,
                    File = spec.File, Sha256 = spec.Sha256, SizeBytes = spec.SizeBytes, Demo = manifest.Demo,
                };
                var (session, provider) = sessions.Create(stageManifest, path, worker.Value.DeviceClass);
                opened[stage] = session;
                providers.Add(provider);
                var missing = spec.Inputs.Select(i => i.Name).Where(n => !session.InputMetadata.ContainsKey(n))
                    .Concat(spec.Outputs.Select(o => o.Name).Where(n => !session.OutputMetadata.ContainsKey(n))).ToList();
                if (missing.Count > 0)
                    throw new ModelStoreException($"{manifest.Id} stage '{stage}': the manifest lists {string.Join(", ", missing)}, which {spec.File} does not have");
            }
        }
        catch
        {
            foreach (var s in opened.Values) s.Dispose();
            throw;
        }
        var chain = new HairChain(manifest, location.Directory, opened, string.Join(", ", providers.Distinct()), watch.Elapsed);
        logger.LogInformation("Loaded hair chain {Model} ({Resolution}px{Demo}) on {Provider} in {Seconds:F2} s",
            manifest.Id, manifest.Resolution, manifest.Demo ? ", demo weights" : "", chain.Provider, watch.Elapsed.TotalSeconds);
        return chain;
    }

    private static void Validate(HairChainManifest manifest, ModelLocation location)
    {
        if (manifest.Name != location.Name) throw new ModelStoreException($"{location.ManifestPath} names model '{manifest.Name}', but it sits in folder '{location.Name}'");
        if (manifest.Task != HairChainManifest.TaskName) throw new ModelStoreException($"{manifest.Id} is a '{manifest.Task}' model, not a {HairChainManifest.TaskName} chain");
        if (manifest.Resolution <= 0 || manifest.MaskSize <= 0 || manifest.Resolution % manifest.MaskSize != 0)
            throw new ModelStoreException($"{manifest.Id}: resolution {manifest.Resolution} / mask size {manifest.MaskSize} are not usable");
        foreach (var stage in HairChainManifest.StageNames) manifest.Stage(stage);
    }

    private static string CheckedFile(HairChainManifest manifest, ModelLocation location, HairStageSpec spec) =>
        ModelRegistry.CheckedFile(manifest.Id, location, spec.File, spec.SizeBytes, spec.Sha256, "stage file", $"{manifest.Id}: stage file");
}
