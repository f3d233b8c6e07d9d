using System.Text.Json;
using System.Text.Json.Serialization;

namespace TalkingFace.Models;

/// <summary>
/// <c>manifest.json</c> beside each model file (written by <c>tools/models</c>): what the model does,
/// what it reads and writes, and the file's sha256 so a corrupted or swapped file is refused.
/// </summary>
public sealed record ModelManifest
{
    public required string Name { get; init; }
    public required string Version { get; init; }
    /// <summary>e.g. <c>audio-features</c>.</summary>
    public required string Task { get; init; }
    public string? Architecture { get; init; }
    public required string File { get; init; }
    public required string Sha256 { get; init; }
    public long SizeBytes { get; init; }
    /// <summary><c>fp32</c>, <c>fp16</c> or <c>int8</c>.</summary>
    public string Precision { get; init; } = "fp32";
    /// <summary>True for fixed-seed weights made by our own export tool: the plumbing is real, the outputs mean nothing.</summary>
    public bool Demo { get; init; }
    public string? Licence { get; init; }
    public string? Source { get; init; }
    public string? QuantizedFrom { get; init; }
    public ModelInput? Input { get; init; }
    public ModelOutput? Output { get; init; }
    public IReadOnlyList<TensorSpec> Inputs { get; init; } = [];
    public IReadOnlyList<TensorSpec> Outputs { get; init; } = [];
    public int? Opset { get; init; }
    public JsonElement? Config { get; init; }

    public string Id => $"{Name}@{Version}";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };
}

/// <summary>What the caller feeds the model: raw (optionally normalised) waveform, or Kaldi fbank.</summary>
public sealed record ModelInput
{
    public required string Name { get; init; }
    /// <summary><c>waveform</c> or <c>fbank</c>.</summary>
    public required string Kind { get; init; }
    public int SampleRate { get; init; } = 16000;
    public bool NormalizeWaveform { get; init; }
    public FbankSpec? Fbank { get; init; }
}

/// <param name="WaveformScale">Factor the [-1, 1] samples are multiplied by before the fbank (<c>KaldiFbank</c>'s <c>FbankOptions.Scale</c>): 32768 for Fast-HuBERT, which computes its fbank at 16-bit scale; absent means 1. Checked positive at load (<c>ModelRegistry.CheckFbank</c>).</param>
public sealed record FbankSpec(int NumMelBins = 80, double FrameLengthMs = 25, double FrameShiftMs = 10, double WaveformScale = 1.0);

/// <summary>The features the model produces: their dimension and rate (frames per second).</summary>
public sealed record ModelOutput
{
    public required string Name { get; init; }
    public int FeatureDim { get; init; }
    public double FrameRate { get; init; }
}

public sealed record TensorSpec(string Name, string Dtype, IReadOnlyList<JsonElement> Shape);
