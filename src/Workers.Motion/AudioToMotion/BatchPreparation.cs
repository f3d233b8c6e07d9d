using TalkingFace.Media;

namespace TalkingFace.Workers.Motion.AudioToMotion;

/// <summary>
/// One clip ready for the audio-to-motion model (batch of one): features, F0, mask and latent for
/// <see cref="PaddedFrames"/> motion frames, of which the first <see cref="Frames"/> are real.
/// </summary>
/// <param name="Features">[PaddedFrames · FeatureFramesPerFrame, FeatureDim], row-major.</param>
/// <param name="F0">[PaddedFrames], Hz at the motion rate, 0 = unvoiced; all zeros for a model without F0 (VAEModel).</param>
/// <param name="Mask">[PaddedFrames]: 1 for a real frame, 0 for padding.</param>
/// <param name="Z">[LatentChannels, PaddedFrames / LatentDownsample], row-major.</param>
public sealed record MotionBatch(
    float[] Features,
    int FeatureDim,
    int FeatureFramesPerFrame,
    float[] F0,
    float[] Mask,
    float[] Z,
    int LatentChannels,
    int LatentDownsample,
    int Frames,
    int PaddedFrames)
{
    public int FeatureFrames => PaddedFrames * FeatureFramesPerFrame;
    public int LatentSteps => PaddedFrames / LatentDownsample;
}

/// <summary>
/// GeneFace++'s batch preparation, without its losses: features at 50 Hz become T = ⌈frames / 2⌉ motion frames
/// (an odd count gets its last feature frame repeated) and 25 Hz features give T = frames; F0 is brought from
/// 50 Hz to 25 Hz the manifest's way; T is padded up to the model's frame multiple with a mask (GeneFace++ cuts
/// the clip down to a multiple instead, dropping audio), so every frame is kept and the output is trimmed back to T.
/// </summary>
public static class BatchPreparation
{
    /// <param name="f0">The audio stage's 50 Hz track; may be null for a model that takes no F0 (<see cref="MotionModelSpec.UsesF0"/> false).</param>
    public static MotionBatch Prepare(NpyArray features, NpyArray? f0, MotionModelSpec spec, string motionModel, string featureModel, int seed, double temperature)
    {
        var (frames, dim) = features.Shape switch
        {
            [var f, var d] => (f, d),
            [1, var f, var d] => (f, d),
            _ => throw new StageFailedException($"{ArtifactNameFeatures} has shape ({string.Join(", ", features.Shape)}); expected [frames, dim]"),
        };
        if (dim != spec.FeatureDim)
        {
            var takes = spec.FeatureModels.Count > 0 ? $" (features of {string.Join(", ", spec.FeatureModels)})" : "";
            throw new StageFailedException(
                $"motion model '{motionModel}' takes {spec.FeatureDim}-dimensional features at {spec.FeatureRate} Hz{takes}, " +
                $"but the features of '{featureModel}' are {dim}-dimensional: pick the motion model that matches the feature model");
        }
        if (spec.FeatureModels.Count > 0 && !spec.FeatureModels.Contains(featureModel, StringComparer.Ordinal))
            throw new StageFailedException(
                $"motion model '{motionModel}' takes the features of {string.Join(", ", spec.FeatureModels)}, not of '{featureModel}'");
        if (frames == 0) throw new StageFailedException("the audio is too short: it has no feature frames to animate");
        foreach (var value in features.Data)
        {
            if (!float.IsFinite(value)) throw new StageFailedException($"{ArtifactNameFeatures} holds NaN or infinite values");
        }

        if (f0 is null && spec.UsesF0) throw new StageFailedException($"motion model '{motionModel}' ({spec.Variant}) needs F0, and there is none");
        var f0Track = f0 is null ? [] : f0.Shape switch
        {
            [_] => f0.Data,
            [1, _] => f0.Data,
            _ => throw new StageFailedException($"f0.npy has shape ({string.Join(", ", f0.Shape)}); expected [frames]"),
        };

        var perFrame = spec.FeatureFramesPerFrame;
        var t = (frames + perFrame - 1) / perFrame;
        var padded = PaddedLength(t, spec.FrameMultiple);

        var x = new float[padded * perFrame * dim];
        features.Data.AsSpan(0, frames * dim).CopyTo(x);
        for (var extra = frames; extra < t * perFrame; extra++) // odd 50 Hz count: the last real motion frame gets the last feature frame twice
            features.Data.AsSpan((frames - 1) * dim, dim).CopyTo(x.AsSpan(extra * dim, dim));

        var pitch = spec.UsesF0 ? Fit(ToMotionRate(f0Track, spec.F0FromRate / spec.FrameRate, spec.F0Method), t, padded) : new float[padded];
        var mask = new float[padded];
        mask.AsSpan(0, t).Fill(1f);
        var z = LatentNoise.Sample(seed, spec.LatentChannels, padded / spec.LatentDownsample, temperature);
        return new MotionBatch(x, dim, perFrame, pitch, mask, z, spec.LatentChannels, spec.LatentDownsample, t, padded);
    }

    /// <summary>T rounded up to a multiple of <paramref name="multiple"/> (at least one multiple).</summary>
    public static int PaddedLength(int frames, int multiple) => Math.Max(1, (frames + multiple - 1) / multiple) * multiple;

    /// <summary>F0 at <paramref name="factor"/> times the motion rate brought down to it: <c>⌈n / factor⌉</c> values.</summary>
    public static float[] ToMotionRate(ReadOnlySpan<float> f0, int factor, F0Downsampling method)
    {
        if (factor <= 1) return f0.ToArray();
        var result = new float[(f0.Length + factor - 1) / factor];
        for (var i = 0; i < result.Length; i++)
        {
            var group = f0.Slice(i * factor, Math.Min(factor, f0.Length - i * factor));
            if (method == F0Downsampling.EveryOther)
            {
                result[i] = group[0];
                continue;
            }
            double sum = 0;
            var voiced = 0;
            foreach (var hz in group)
            {
                if (hz > 0)
                {
                    sum += hz;
                    voiced++;
                }
            }
            result[i] = voiced == 0 ? 0f : (float)(sum / voiced);
        }
        return result;
    }

    /// <summary>F0 fitted to T frames (cut, or padded unvoiced as GeneFace++ pads it), then zeros up to the padded length.</summary>
    private static float[] Fit(float[] f0, int frames, int padded)
    {
        var result = new float[padded];
        f0.AsSpan(0, Math.Min(f0.Length, frames)).CopyTo(result);
        for (var i = 0; i < frames; i++)
        {
            if (!float.IsFinite(result[i]) || result[i] < 0) result[i] = 0; // unvoiced rather than poison the model
        }
        return result;
    }

    private const string ArtifactNameFeatures = Contracts.ArtifactNames.Features;
}
