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
    public (InferenceSession Session, string Provider) Create(ModelManifest manifest, string modelPath, string deviceClass)
    {
        var o = options.Value;
        var wanted = o.ProvidersFor(deviceClass);
        var available = OrtEnv.Instance().GetAvailableProviders();
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
                append(sessionOptions);
                var (path, written) = CachedOrOriginal(manifest, modelPath, ortName, sessionOptions);
                var session = new InferenceSession(path, sessionOptions);
                if (written is not null) PublishCache(written, path == modelPath ? CacheName(manifest, ortName) : path);
                if (!provider.Equals(wanted[0], StringComparison.OrdinalIgnoreCase))
                    logger.LogWarning("Model {Model} runs on {Provider}, not the first choice {Wanted} for device class {Class}", manifest.Id, ortName, wanted[0], deviceClass);
                else
                    logger.LogInformation("Model {Model} runs on {Provider}", manifest.Id, ortName);
                return (session, ortName);
            }
            catch (Exception e) when (e is NotSupportedException or EntryPointNotFoundException or OnnxRuntimeException or DllNotFoundException)
            {
                sessionOptions.Dispose();
                logger.LogWarning("Execution provider {Provider} unavailable for {Model}: {Reason}; trying the next one", provider, manifest.Id, e.Message);
            }
        }
        throw new InvalidOperationException($"no execution provider could load {manifest.Id}");
    }

    /// <summary>Each configurable provider: ONNX Runtime's name for it, and how it is added to a session's options.</summary>
    private static readonly Dictionary<string, (string OrtName, Action<SessionOptions> Append)> Providers = new(StringComparer.OrdinalIgnoreCase)
    {
        // TensorRT with CUDA behind it for the nodes it does not take.
        ["TensorRT"] = ("TensorrtExecutionProvider", so => { so.AppendExecutionProvider_Tensorrt(0); so.AppendExecutionProvider_CUDA(0); }),
        ["CUDA"] = ("CUDAExecutionProvider", so => so.AppendExecutionProvider_CUDA(0)),
        ["CoreML"] = ("CoreMLExecutionProvider", so => so.AppendExecutionProvider_CoreML(CoreMLFlags.COREML_FLAG_ONLY_ENABLE_DEVICE_WITH_ANE)),
        ["ROCm"] = ("ROCMExecutionProvider", so => so.AppendExecutionProvider_ROCm(0)),
        ["OpenVINO"] = ("OpenVINOExecutionProvider", so => so.AppendExecutionProvider_OpenVINO("")),
        ["DirectML"] = ("DmlExecutionProvider", so => so.AppendExecutionProvider_DML(0)),
        ["CPU"] = ("CPUExecutionProvider", _ => { }),
    };

    private static (string OrtName, Action<SessionOptions> Append) Provider(string provider) =>
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
