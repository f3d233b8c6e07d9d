using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using TalkingFace.Models;

namespace TalkingFace.Workers.Audio.Features;

/// <summary>Features of one clip: row-major [Frames, Dim] at the model's frame rate.</summary>
public sealed record FeatureMatrix(float[] Data, int Frames, int Dim);

/// <summary>Bound from <c>Audio:Features</c>.</summary>
public sealed class FeatureExtractionOptions
{
    public const string Section = "Audio:Features";

    /// <summary>Audio is run through the model in windows of this length (GeneFace++ uses 20 s).</summary>
    public TimeSpan ChunkLength { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Extra audio on each side of a window that the model sees but whose frames are taken from the neighbouring window.
    /// At least half the positional convolution's span (128 frames: 1.28 s at 50 Hz, 2.56 s at 25 Hz), so every kept frame sees what it would in one pass through that layer.
    /// </summary>
    public TimeSpan ChunkContext { get; set; } = TimeSpan.FromSeconds(3);
}

/// <summary>
/// Runs a feature model (HuBERT on the normalised waveform, Fast-HuBERT on Kaldi fbank) over a whole clip.
/// Long clips are cut into windows with context on both sides, and each output frame is taken from the window
/// where it is farthest from an edge; unlike GeneFace++ (hard 20 s cuts, its last frames dropped when shorter
/// than the conv kernel) every frame is kept and the result has exactly the frames the whole clip would give.
/// </summary>
public sealed class FeatureExtractor(IOptions<FeatureExtractionOptions> options)
{
    /// <summary>HuBERT's conv front end: 400-sample receptive field, 320-sample (20 ms) stride.</summary>
    public const int WaveformReceptiveField = 400;
    public const int WaveformHop = 320;

    /// <summary>Fast-HuBERT's subsampler: two stride-2 convolutions, so one output frame per 4 fbank frames.</summary>
    public const int FbankHop = 4;

    public FeatureMatrix Extract(LoadedModel model, float[] samples16k, CancellationToken ct)
    {
        var input = model.Manifest.Input ?? throw new ModelStoreException($"{model.Manifest.Id} has no input section");
        if (input.SampleRate != 16000) throw new ModelStoreException($"{model.Manifest.Id} expects {input.SampleRate} Hz audio; the audio stage makes 16 kHz");
        var o = options.Value;
        switch (input.Kind)
        {
            case "waveform":
            {
                var wave = input.NormalizeWaveform ? Normalize(samples16k) : samples16k;
                if (wave.Length < WaveformReceptiveField) Array.Resize(ref wave, WaveformReceptiveField); // one frame rather than none
                var framesPerSecond = 16000.0 / WaveformHop;
                return Chunked(model, wave, unitSize: 1, hop: WaveformHop, tail: WaveformReceptiveField - WaveformHop,
                    window: (int)(o.ChunkLength.TotalSeconds * framesPerSecond), context: (int)Math.Ceiling(o.ChunkContext.TotalSeconds * framesPerSecond), ct);
            }
            case "fbank":
            {
                var spec = input.Fbank ?? new FbankSpec();
                var fbank = KaldiFbank.Compute(samples16k, 16000, new FbankOptions { MelBins = spec.NumMelBins, FrameLengthMs = spec.FrameLengthMs, FrameShiftMs = spec.FrameShiftMs, Scale = spec.WaveformScale });
                var data = fbank.Data;
                if (fbank.Frames == 0) data = new float[spec.NumMelBins]; // one silent frame rather than none
                var framesPerSecond = 1000.0 / spec.FrameShiftMs / FbankHop;
                return Chunked(model, data, unitSize: spec.NumMelBins, hop: FbankHop, tail: 0,
                    window: (int)(o.ChunkLength.TotalSeconds * framesPerSecond), context: (int)Math.Ceiling(o.ChunkContext.TotalSeconds * framesPerSecond), ct);
            }
            default:
                throw new ModelStoreException($"{model.Manifest.Id} reads '{input.Kind}' input, which the audio stage cannot make");
        }
    }

    /// <summary>Zero mean, unit variance over the whole clip, as HuBERT's feature extractor does (do_normalize).</summary>
    public static float[] Normalize(ReadOnlySpan<float> samples)
    {
        double sum = 0, squares = 0;
        foreach (var x in samples) sum += x;
        var mean = samples.Length == 0 ? 0 : sum / samples.Length;
        foreach (var x in samples) squares += (x - mean) * (x - mean);
        var scale = 1.0 / Math.Sqrt((samples.Length == 0 ? 0 : squares / samples.Length) + 1e-7);
        var result = new float[samples.Length];
        for (var i = 0; i < result.Length; i++) result[i] = (float)((samples[i] - mean) * scale);
        return result;
    }

    /// <summary>
    /// Runs the model over [unit] windows: output frame k reads input units from k*hop. Window w covers output
    /// frames [k0, k0+window); the model sees <paramref name="context"/> more frames of input on each side.
    /// </summary>
    private static FeatureMatrix Chunked(LoadedModel model, float[] input, int unitSize, int hop, int tail, int window, int context, CancellationToken ct)
    {
        var units = input.Length / unitSize;
        window = Math.Max(1, window);
        var rows = new List<float[]>();
        var dim = 0;
        for (var k0 = 0; ; k0 += window)
        {
            ct.ThrowIfCancellationRequested();
            var startFrame = Math.Max(0, k0 - context);
            var start = startFrame * hop;
            var end = Math.Min(units, (k0 + window + context) * hop + tail);
            var isLast = end == units;
            var (output, frames, d) = Run(model, input.AsSpan(start * unitSize, (end - start) * unitSize), end - start, unitSize, ct);
            dim = d;
            var keepTo = isLast ? int.MaxValue : k0 + window;
            for (var j = 0; j < frames; j++)
            {
                var global = startFrame + j;
                if (global < k0 || global >= keepTo) continue;
                rows.Add(output.AsSpan(j * d, d).ToArray());
            }
            if (isLast) break;
        }
        var data = new float[rows.Count * dim];
        for (var i = 0; i < rows.Count; i++) rows[i].CopyTo(data, i * dim);
        return new FeatureMatrix(data, rows.Count, dim);
    }

    private static (float[] Output, int Frames, int Dim) Run(LoadedModel model, ReadOnlySpan<float> chunk, int units, int unitSize, CancellationToken ct)
    {
        var inputName = model.Manifest.Input!.Name;
        var outputName = model.Manifest.Output!.Name;
        long[] shape = unitSize == 1 ? [1, units] : [1, units, unitSize];
        using var tensor = OrtValue.CreateTensorValueFromMemory(chunk.ToArray(), shape);
        using var run = new RunOptions();
        using var cancel = ct.Register(() => run.Terminate = true);
        using var outputs = model.Session.Run(run, [inputName], [tensor], [outputName]);
        var result = outputs[0];
        var dims = result.GetTensorTypeAndShape().Shape;
        if (dims.Length != 3) throw new ModelStoreException($"{model.Manifest.Id}: output '{outputName}' has shape [{string.Join(", ", dims)}], expected [batch, frames, dim]");
        return (result.GetTensorDataAsSpan<float>().ToArray(), (int)dims[1], (int)dims[2]);
    }
}
