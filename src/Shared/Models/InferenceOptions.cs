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
