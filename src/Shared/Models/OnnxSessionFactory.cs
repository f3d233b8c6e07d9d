using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace TalkingFace.Models;

/// <summary>
/// Opens ONNX Runtime sessions with the device class's execution providers, falling back (and saying so)
/// to the next one when a provider is not in this build or fails to start; CPU always works.
/// </summary>
public sealed class OnnxSessionFactory(IOptions<InferenceOptions> options, ILogger<OnnxSessionFactory> logger)
{
    public OpenedSession Create(ModelManifest manifest, string modelPath, string deviceClass)
    {
        var o = options.Value;
        var wanted = o.ProvidersFor(deviceClass);
        var settings = o.ProviderSettingsFor(deviceClass);
        var available = OrtEnv.Instance().GetAvailableProviders();
        var skipped = new List<string>();
        foreach (var provider in wanted.Append("CPU").Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var sessionOptions = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = o.IntraOpThreads,
                InterOpNumThreads = o.InterOpThreads,
            };
            if (o.LowMemory)
            {
                sessionOptions.EnableCpuMemArena = false;
                sessionOptions.AddSessionConfigEntry("session.disable_prepacking", "1");
            }
            try
            {
                // Asked first: appending a provider this build lacks fails on a missing entry point, which says less.
                var (ortName, append) = Provider(provider);
                if (!available.Contains(ortName))
                    throw new NotSupportedException($"{ortName} is not in this ONNX Runtime build (it has {string.Join(", ", available)})");
                append(sessionOptions, settings, EngineFolder(manifest, settings.TensorRt));
                var (path, written) = CachedOrOriginal(manifest, modelPath, ortName, sessionOptions);
                var session = new InferenceSession(path, sessionOptions);
                if (written is not null) PublishCache(written, path == modelPath ? CacheName(manifest, ortName) : path);
                string? fallback = null;
                if (!provider.Equals(wanted[0], StringComparison.OrdinalIgnoreCase))
                {
                    fallback = $"{manifest.Id} ran on {ortName}, not {wanted[0]} (the first choice for device class {deviceClass}): {string.Join("; ", skipped)}";
                    logger.LogWarning("Model {Model} runs on {Provider}, not the first choice {Wanted} for device class {Class}", manifest.Id, ortName, wanted[0], deviceClass);
                }
                else
                    logger.LogInformation("Model {Model} runs on {Provider}", manifest.Id, ortName);
                return new OpenedSession(session, ortName, fallback);
            }
            catch (Exception e) when (e is NotSupportedException or EntryPointNotFoundException or OnnxRuntimeException or DllNotFoundException)
            {
                sessionOptions.Dispose();
                skipped.Add($"{provider} unavailable ({e.Message})");
                logger.LogWarning("Execution provider {Provider} unavailable for {Model}: {Reason}; trying the next one", provider, manifest.Id, e.Message);
            }
        }
        throw new InvalidOperationException($"no execution provider could load {manifest.Id}: {string.Join("; ", skipped)}");
    }

    /// <summary>The configurable provider names (<c>Inference:Providers</c>).</summary>
    public static IReadOnlyCollection<string> KnownProviders => Providers.Keys;

    /// <summary>
    /// Each configurable provider: ONNX Runtime's name for it, and how it is added to a session's options with the
    /// device class's settings (<see cref="ProviderSettings"/>) and the model's TensorRT engine folder.
    /// </summary>
    private static readonly Dictionary<string, (string OrtName, Action<SessionOptions, ProviderSettings, string?> Append)> Providers = new(StringComparer.OrdinalIgnoreCase)
    {
        // TensorRT with CUDA behind it for the nodes it does not take.
        ["TensorRT"] = ("TensorrtExecutionProvider", (so, s, engines) => { AppendTensorRt(so, s.TensorRt, engines); AppendCuda(so, s.Cuda); }),
        ["CUDA"] = ("CUDAExecutionProvider", (so, s, _) => AppendCuda(so, s.Cuda)),
        ["CoreML"] = ("CoreMLExecutionProvider", (so, s, _) => so.AppendExecutionProvider("CoreML", s.CoreMl.ToOrt())),
        ["ROCm"] = ("ROCMExecutionProvider", (so, _, _) => so.AppendExecutionProvider_ROCm(0)),
        ["OpenVINO"] = ("OpenVINOExecutionProvider", (so, _, _) => so.AppendExecutionProvider_OpenVINO("")),
        ["DirectML"] = ("DmlExecutionProvider", (so, _, _) => so.AppendExecutionProvider_DML(0)),
        ["CPU"] = ("CPUExecutionProvider", (_, _, _) => { }),
    };

    private static void AppendCuda(SessionOptions so, CudaSettings settings)
    {
        using var cuda = new OrtCUDAProviderOptions();
        cuda.UpdateOptions(settings.ToOrt());
        so.AppendExecutionProvider_CUDA(cuda);
    }

    private static void AppendTensorRt(SessionOptions so, TensorRtSettings settings, string? engines)
    {
        if (engines is not null) Directory.CreateDirectory(engines);
        using var trt = new OrtTensorRTProviderOptions();
        trt.UpdateOptions(settings.ToOrt(engines));
        so.AppendExecutionProvider_Tensorrt(trt);
    }

    /// <summary>TensorRT engines of one model version (name, version, file hash): built once, reused by every later start.</summary>
    private static string? EngineFolder(ModelManifest manifest, TensorRtSettings settings) =>
        string.IsNullOrWhiteSpace(settings.EngineCache) ? null
            : System.IO.Path.GetFullPath(System.IO.Path.Combine(settings.EngineCache, $"{manifest.Name}-{manifest.Version}-{manifest.Sha256[..Math.Min(12, manifest.Sha256.Length)]}"));

    private static (string OrtName, Action<SessionOptions, ProviderSettings, string?> Append) Provider(string provider) =>
        Providers.TryGetValue(provider, out var known) ? known : throw new NotSupportedException($"unknown execution provider '{provider}'");

    /// <summary>
    /// With a cache folder, the first session writes ONNX Runtime's optimised graph (per model file and provider)
    /// and later sessions start from it, skipping most of the optimisation work at start.
    /// </summary>
    /// <remarks>Only for the CPU provider: graphs optimised for a GPU provider hold nodes only that provider can run.</remarks>
    private (string Path, string? Written) CachedOrOriginal(ModelManifest manifest, string modelPath, string provider, SessionOptions so)
    {
        var cached = CacheName(manifest, provider);
        if (cached is null || provider != "CPUExecutionProvider") return (modelPath, null);
        if (File.Exists(cached)) return (cached, null); // the layout passes left out below run at load; they are cheap
        // Saved at the extended level: the full level adds layout changes tuned to this CPU, which a shared cache must not carry.
        so.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(cached)!);
        // Written under a private name and renamed once complete, so a worker starting beside this one never reads half a file.
        var partial = cached + "." + Guid.NewGuid().ToString("N") + ".partial";
        so.OptimizedModelFilePath = partial;
        return (modelPath, partial);
    }

    private string? CacheName(ModelManifest manifest, string provider)
    {
        var folder = options.Value.OptimizedModelCache;
        return string.IsNullOrWhiteSpace(folder) ? null
            : System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, $"{manifest.Name}-{manifest.Version}-{manifest.Sha256[..Math.Min(12, manifest.Sha256.Length)]}-{provider}.onnx"));
    }

    private void PublishCache(string written, string? target)
    {
        try
        {
            if (target is not null && File.Exists(written)) File.Move(written, target, overwrite: true);
        }
        catch (IOException e)
        {
            logger.LogDebug(e, "Optimised model not cached");
        }
    }
}

/// <summary>A session and the provider it runs on; <paramref name="Fallback"/> says why it is not the class's first choice
/// (null when it is), for the stage record.</summary>
public sealed record OpenedSession(InferenceSession Session, string Provider, string? Fallback)
{
    public void Deconstruct(out InferenceSession session, out string provider) => (session, provider) = (Session, Provider);
}
