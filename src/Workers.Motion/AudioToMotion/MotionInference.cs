using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using TalkingFace.Models;

namespace TalkingFace.Workers.Motion.AudioToMotion;

/// <summary>Bound from <c>Motion:Inference</c>.</summary>
public sealed class MotionInferenceOptions
{
    public const string Section = "Motion:Inference";

    /// <summary>Motion frames each model run produces (rounded up to the model's frame multiple); GeneFace++ runs 20 s at once.</summary>
    public TimeSpan WindowLength { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Extra frames the model sees on each side of a window, taken from the neighbouring windows' audio but not kept
    /// (rounded up to the frame multiple). Long enough for the VAE's convolutions, so a window's kept frames see what
    /// they would see in one pass over the whole clip.
    /// </summary>
    public TimeSpan WindowContext { get; set; } = TimeSpan.FromSeconds(3.2);
}

/// <summary>Expression coefficients of the real frames, [Frames, ExpDim] row-major, and how they were computed.</summary>
/// <param name="Windows">Model runs made.</param>
/// <param name="LargestWindow">Most motion frames (kept plus context) any one run saw: what bounds the tensors' size.</param>
public sealed record MotionResult(float[] Exp, int Frames, int ExpDim, int Windows, int LargestWindow);

/// <summary>
/// Runs the audio-to-motion model over a prepared clip in windows, so memory stays bounded however long the audio
/// (GeneFace++ runs the whole clip at once and runs out of memory past ~30 s). Window w keeps the motion frames
/// [w·W, (w+1)·W) and the model also sees up to C context frames on each side; every boundary is a multiple of the
/// frame multiple, so features, F0, mask and the latent slice line up exactly. The latent is drawn once for the
/// whole clip, so the result does not depend on the window length beyond what the context leaves out.
/// </summary>
public sealed class MotionInference(IOptions<MotionInferenceOptions> options)
{
    public MotionResult Run(LoadedModel model, MotionModelSpec spec, MotionBatch batch, CancellationToken ct, Action<double>? progress = null)
    {
        var o = options.Value;
        var window = RoundUp(o.WindowLength.TotalSeconds * spec.FrameRate, spec.FrameMultiple);
        var context = o.WindowContext <= TimeSpan.Zero ? 0 : RoundUp(o.WindowContext.TotalSeconds * spec.FrameRate, spec.FrameMultiple);
        return Run(model, spec, batch, window, context, ct, progress);
    }

    /// <param name="window">Frames kept per run; a multiple of <see cref="MotionModelSpec.FrameMultiple"/>.</param>
    /// <param name="context">Frames of context on each side; a multiple of <see cref="MotionModelSpec.FrameMultiple"/>.</param>
    public static MotionResult Run(LoadedModel model, MotionModelSpec spec, MotionBatch batch, int window, int context, CancellationToken ct, Action<double>? progress = null)
    {
        if (window <= 0 || window % spec.FrameMultiple != 0 || context < 0 || context % spec.FrameMultiple != 0)
            throw new ArgumentException($"window {window} and context {context} must be multiples of {spec.FrameMultiple}");
        if (batch.PaddedFrames % spec.FrameMultiple != 0)
            throw new ArgumentException($"the batch has {batch.PaddedFrames} frames, not a multiple of {spec.FrameMultiple}");

        var exp = new float[batch.Frames * spec.ExpDim];
        var windows = 0;
        var largest = 0;
        for (var k0 = 0; k0 < batch.Frames; k0 += window)
        {
            ct.ThrowIfCancellationRequested();
            var start = Math.Max(0, k0 - context);
            var end = Math.Min(batch.PaddedFrames, k0 + window + context);
            var output = RunWindow(model, spec, batch, start, end, ct);
            var keepTo = Math.Min(batch.Frames, k0 + window);
            output.AsSpan((k0 - start) * spec.ExpDim, (keepTo - k0) * spec.ExpDim).CopyTo(exp.AsSpan(k0 * spec.ExpDim));
            windows++;
            largest = Math.Max(largest, end - start);
            progress?.Invoke((double)keepTo / batch.Frames);
        }
        return new MotionResult(exp, batch.Frames, spec.ExpDim, windows, largest);
    }

    /// <summary>One model run over motion frames [start, end) of the batch; returns exp as [end - start, ExpDim].</summary>
    private static float[] RunWindow(LoadedModel model, MotionModelSpec spec, MotionBatch batch, int start, int end, CancellationToken ct)
    {
        var frames = end - start;
        var k = batch.FeatureFramesPerFrame;
        var steps = frames / batch.LatentDownsample;
        var z = new float[batch.LatentChannels * steps];
        for (var c = 0; c < batch.LatentChannels; c++)
            batch.Z.AsSpan(c * batch.LatentSteps + start / batch.LatentDownsample, steps).CopyTo(z.AsSpan(c * steps));

        var memory = OrtMemoryInfo.DefaultInstance;
        using var features = OrtValue.CreateTensorValueFromMemory(memory, batch.Features.AsMemory(start * k * batch.FeatureDim, frames * k * batch.FeatureDim), [1, frames * k, batch.FeatureDim]);
        using var f0 = spec.UsesF0 ? OrtValue.CreateTensorValueFromMemory(memory, batch.F0.AsMemory(start, frames), [1, frames]) : null;
        using var mask = OrtValue.CreateTensorValueFromMemory(memory, batch.Mask.AsMemory(start, frames), [1, frames]);
        using var latent = OrtValue.CreateTensorValueFromMemory(z, [1, batch.LatentChannels, steps]);
        using var run = new RunOptions();
        using var cancel = ct.Register(() => run.Terminate = true);
        OrtValue[] values = f0 is null ? [features, mask, latent] : [features, f0, mask, latent];
        using var outputs = model.Session.Run(run, spec.InputNames, values, [MotionModelSpec.ExpOutput]);
        var result = outputs[0];
        var shape = result.GetTensorTypeAndShape().Shape;
        if (shape is not [1, var t, var d] || t != frames || d != spec.ExpDim)
            throw new ModelStoreException($"{model.Manifest.Id}: output '{MotionModelSpec.ExpOutput}' has shape [{string.Join(", ", shape)}] for {frames} frames; expected [1, {frames}, {spec.ExpDim}]");
        return result.GetTensorDataAsSpan<float>().ToArray();
    }

    private static int RoundUp(double frames, int multiple) => Math.Max(1, (int)Math.Ceiling(Math.Round(frames, 6) / multiple)) * multiple;
}
