using TalkingFace.Contracts;

namespace TalkingFace.Models;

/// <summary>Bound from the <c>Inference</c> configuration section.</summary>
public sealed class InferenceOptions
{
    public const string Section = "Inference";

    /// <summary>
    /// Execution providers to try, in order, per device class; CPU is always the last resort.
    /// Names: TensorRT, CUDA, CoreML, ROCm, OpenVINO, DirectML, CPU. Null: the defaults below.
    /// </summary>
    public Dictionary<string, string[]>? Providers { get; set; }

    /// <summary>Threads per inference (0: ONNX Runtime's default, one per core).</summary>
    public int IntraOpThreads { get; set; }

    public int InterOpThreads { get; set; } = 1;

    /// <summary>
    /// Trade a little speed for memory (edge devices): no pre-packed copies of the weights and no CPU memory arena,
    /// so a worker's resident memory stays close to the model file's size.
    /// </summary>
    public bool LowMemory { get; set; }

    /// <summary>Folder for ONNX Runtime's optimised models, so the graph optimisation runs once per model and provider. Empty: off.</summary>
    public string OptimizedModelCache { get; set; } = Path.Combine(".data", "ort-cache");

    /// <summary>Models to load and warm up at start (the seed measured ~10 s loads otherwise paid by the first job).</summary>
    public string[]? Preload { get; set; }

    /// <summary>
    /// Model precisions to run, in order of preference, per device class. A job asking for <c>fast-hubert</c> runs the
    /// first of these the store has as a variant (<c>fast-hubert-fp16</c> for fp16, <c>fast-hubert-int8</c> for int8,
    /// the model itself for its own precision); a job naming a variant runs exactly that. Precisions not listed are not
    /// preloaded (they load on first use). Null: the defaults below.
    /// </summary>
    public Dictionary<string, string[]>? Precision { get; set; }

    /// <summary>Execution-provider settings per device class (CUDA, TensorRT, CoreML); a class without an entry gets the defaults.</summary>
    public Dictionary<string, ProviderSettings>? ProviderSettings { get; set; }

    /// <summary>GPUs run fp16 at about twice fp32's speed; INT8 (dynamic, CPU kernels) is opt-in on CPU: it changes the numerics
    /// more (cosine >= 0.99 against fp32, where fp16 keeps >= 0.999), so the CPU class prefers fp32 and still preloads int8.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> DefaultPrecision = new Dictionary<string, string[]>
    {
        [DeviceClasses.Rtx] = ["fp16", "fp32"],
        [DeviceClasses.Jetson] = ["fp16", "fp32"],
        [DeviceClasses.Apple] = ["fp32", "fp16"],
        [DeviceClasses.Cpu] = ["fp32", "int8"],
    };

    public static readonly IReadOnlyList<string> Precisions = ["fp32", "fp16", "int8"];

    public IReadOnlyList<string> PrecisionFor(string deviceClass) =>
        Precision?.GetValueOrDefault(deviceClass) ?? DefaultPrecision.GetValueOrDefault(deviceClass) ?? ["fp32"];

    public ProviderSettings ProviderSettingsFor(string deviceClass) =>
        ProviderSettings?.GetValueOrDefault(deviceClass) ?? new ProviderSettings();

    /// <summary>Checked at start (ValidateOnStart): names that would otherwise fail only when a model loads.</summary>
    public IEnumerable<string> Problems()
    {
        foreach (var (cls, list) in Providers ?? [])
            foreach (var p in list.Where(p => !OnnxSessionFactory.KnownProviders.Contains(p)))
                yield return $"Inference:Providers:{cls} names '{p}'; known: {string.Join(", ", OnnxSessionFactory.KnownProviders)}";
        foreach (var (cls, list) in Precision ?? [])
        {
            if (list.Length == 0) yield return $"Inference:Precision:{cls} is empty; list at least one of {string.Join(", ", Precisions)}";
            foreach (var p in list.Where(p => !Precisions.Contains(p)))
                yield return $"Inference:Precision:{cls} names '{p}'; known: {string.Join(", ", Precisions)}";
        }
        foreach (var (cls, settings) in ProviderSettings ?? [])
            foreach (var problem in settings.Problems())
                yield return $"Inference:ProviderSettings:{cls}:{problem}";
        if (IntraOpThreads < 0) yield return $"Inference:IntraOpThreads is {IntraOpThreads}; 0 (ONNX Runtime's default) or more";
        if (InterOpThreads < 0) yield return $"Inference:InterOpThreads is {InterOpThreads}; 0 or more";
    }

    public static readonly IReadOnlyDictionary<string, string[]> DefaultProviders = new Dictionary<string, string[]>
    {
        [DeviceClasses.Rtx] = ["TensorRT", "CUDA", "CPU"],
        [DeviceClasses.Jetson] = ["TensorRT", "CUDA", "CPU"],
        [DeviceClasses.Apple] = ["CoreML", "CPU"],
        [DeviceClasses.Cpu] = ["CPU"],
    };

    public IReadOnlyList<string> ProvidersFor(string deviceClass) =>
        Providers?.GetValueOrDefault(deviceClass) ?? DefaultProviders.GetValueOrDefault(deviceClass) ?? ["CPU"];
}

/// <summary>Settings of the GPU / accelerator execution providers for one device class (<c>Inference:ProviderSettings:{class}</c>).</summary>
public sealed class ProviderSettings
{
    public CudaSettings Cuda { get; set; } = new();
    public TensorRtSettings TensorRt { get; set; } = new();
    public CoreMlSettings CoreMl { get; set; } = new();

    public IEnumerable<string> Problems()
    {
        if (Cuda.DeviceId < 0) yield return $"Cuda:DeviceId is {Cuda.DeviceId}; 0 or more";
        if (Cuda.MemoryLimitBytes < 0) yield return $"Cuda:MemoryLimitBytes is {Cuda.MemoryLimitBytes}; 0 (no limit) or more";
        if (!CudaSettings.ConvSearches.Contains(Cuda.CudnnConvAlgoSearch))
            yield return $"Cuda:CudnnConvAlgoSearch is '{Cuda.CudnnConvAlgoSearch}'; one of {string.Join(", ", CudaSettings.ConvSearches)}";
        if (TensorRt.DeviceId < 0) yield return $"TensorRt:DeviceId is {TensorRt.DeviceId}; 0 or more";
        if (TensorRt.WorkspaceBytes <= 0) yield return $"TensorRt:WorkspaceBytes is {TensorRt.WorkspaceBytes}; more than 0";
        if (!CoreMlSettings.Units.Contains(CoreMl.ComputeUnits))
            yield return $"CoreMl:ComputeUnits is '{CoreMl.ComputeUnits}'; one of {string.Join(", ", CoreMlSettings.Units)}";
    }
}

/// <summary>ONNX Runtime's CUDA provider options.</summary>
public sealed class CudaSettings
{
    public static readonly IReadOnlyList<string> ConvSearches = ["EXHAUSTIVE", "HEURISTIC", "DEFAULT"];

    public int DeviceId { get; set; }
    /// <summary>The CUDA memory arena's limit (<c>gpu_mem_limit</c>); 0: no limit.</summary>
    public long MemoryLimitBytes { get; set; }
    /// <summary>cuDNN convolution algorithm search: EXHAUSTIVE (benchmarks every algorithm once per shape; ONNX Runtime's
    /// default), HEURISTIC (cuDNN's pick, fast start), DEFAULT (the first algorithm).</summary>
    public string CudnnConvAlgoSearch { get; set; } = "EXHAUSTIVE";

    /// <summary>The provider options as ONNX Runtime's <c>OrtCUDAProviderOptions.UpdateOptions</c> reads them.</summary>
    public Dictionary<string, string> ToOrt() => new()
    {
        ["device_id"] = DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["cudnn_conv_algo_search"] = CudnnConvAlgoSearch,
        ["gpu_mem_limit"] = (MemoryLimitBytes > 0 ? MemoryLimitBytes : long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["arena_extend_strategy"] = "kSameAsRequested",
    };
}

/// <summary>ONNX Runtime's TensorRT provider options. Engines are cached per model version, so each is built once.</summary>
public sealed class TensorRtSettings
{
    public int DeviceId { get; set; }
    /// <summary>Let TensorRT pick fp16 kernels (<c>trt_fp16_enable</c>).</summary>
    public bool Fp16 { get; set; } = true;
    /// <summary>Folder for built engines, one subfolder per model version (<c>trt_engine_cache_path</c>); empty: no cache.</summary>
    public string EngineCache { get; set; } = Path.Combine(".data", "trt-engines");
    /// <summary>TensorRT's builder workspace (<c>trt_max_workspace_size</c>), 1 GiB by default.</summary>
    public long WorkspaceBytes { get; set; } = 1L << 30;

    public Dictionary<string, string> ToOrt(string? engineFolder)
    {
        var o = new Dictionary<string, string>
        {
            ["device_id"] = DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["trt_fp16_enable"] = Fp16 ? "1" : "0",
            ["trt_max_workspace_size"] = WorkspaceBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["trt_engine_cache_enable"] = engineFolder is null ? "0" : "1",
        };
        if (engineFolder is not null) o["trt_engine_cache_path"] = engineFolder;
        return o;
    }
}

/// <summary>ONNX Runtime's CoreML provider options (Apple M-series).</summary>
public sealed class CoreMlSettings
{
    public static readonly IReadOnlyList<string> Units = ["ALL", "CPUAndNeuralEngine", "CPUAndGPU", "CPUOnly"];

    /// <summary>Which Apple compute units CoreML may use (<c>MLComputeUnits</c>).</summary>
    public string ComputeUnits { get; set; } = "ALL";

    public Dictionary<string, string> ToOrt() => new() { ["MLComputeUnits"] = ComputeUnits, ["ModelFormat"] = "MLProgram" };
}
