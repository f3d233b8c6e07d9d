using System.Text.Json;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Workers;
using TalkingFace.Workers.Motion.AudioToMotion;
using static TalkingFace.Tests.Motion.MotionTestKit;

namespace TalkingFace.Tests.Motion;

/// <summary>Batch preparation: frame alignment, padding with a mask, F0 at 25 Hz, the dimension check, the seeded latent.</summary>
public sealed class BatchPreparationTests
{
    private static MotionBatch Prepare(NpyArray features, NpyArray f0, MotionModelSpec spec, int seed = 0, double temperature = 0.2, string featureModel = "hubert-large") =>
        BatchPreparation.Prepare(features, f0, spec, "geneface-a2m", featureModel, seed, temperature);

    private static NpyArray F0(params float[] values) => new(values, [values.Length]);

    [Theory]
    [InlineData(1, 1, 8)]
    [InlineData(2, 1, 8)]
    [InlineData(15, 8, 8)]
    [InlineData(16, 8, 8)]
    [InlineData(17, 9, 16)]
    [InlineData(101, 51, 56)]
    [InlineData(593, 297, 304)]
    public void Odd_50_hz_counts_get_one_more_frame_and_every_frame_is_kept(int featureFrames, int frames, int padded)
    {
        var spec = Spec();
        var features = CountingFeatures(featureFrames, 1024);
        var batch = Prepare(features, F0(new float[featureFrames]), spec);

        Assert.Equal(frames, batch.Frames);
        Assert.Equal(padded, batch.PaddedFrames);
        Assert.Equal(0, batch.PaddedFrames % spec.FrameMultiple);
        Assert.Equal(2 * padded * 1024, batch.Features.Length);
        // every real feature frame is where it was
        Assert.True(features.Data.AsSpan().SequenceEqual(batch.Features.AsSpan(0, featureFrames * 1024)));
        // an odd count repeats the last feature frame for the last motion frame
        if (featureFrames % 2 == 1)
            Assert.True(features.Data.AsSpan((featureFrames - 1) * 1024, 1024).SequenceEqual(batch.Features.AsSpan(featureFrames * 1024, 1024)));
        // beyond the real frames: zeros, masked out
        Assert.All(batch.Features.Skip(2 * frames * 1024), v => Assert.Equal(0f, v));
        Assert.Equal(Enumerable.Repeat(1f, frames).Concat(Enumerable.Repeat(0f, padded - frames)), batch.Mask);
    }

    [Theory]
    [InlineData(1, 8)]
    [InlineData(8, 8)]
    [InlineData(9, 16)]
    [InlineData(300, 304)]
    public void Features_at_25_hz_are_one_frame_per_motion_frame(int featureFrames, int padded)
    {
        var spec = Spec(25, 768);
        var features = CountingFeatures(featureFrames, 768);
        var batch = Prepare(features, F0(new float[2 * featureFrames]), spec, featureModel: "fast-hubert");

        Assert.Equal(featureFrames, batch.Frames);
        Assert.Equal(padded, batch.PaddedFrames);
        Assert.Equal(padded * 768, batch.Features.Length);
        Assert.True(features.Data.AsSpan().SequenceEqual(batch.Features.AsSpan(0, featureFrames * 768)));
        Assert.Equal(featureFrames, (int)batch.Mask.Sum());
    }

    [Fact]
    public void Padding_to_the_frame_multiple_never_drops_a_frame()
    {
        var spec = Spec();
        for (var featureFrames = 1; featureFrames <= 200; featureFrames++)
        {
            var batch = Prepare(CountingFeatures(featureFrames, 1024), F0(new float[featureFrames]), spec);
            Assert.Equal((featureFrames + 1) / 2, batch.Frames);
            Assert.InRange(batch.PaddedFrames - batch.Frames, 0, spec.FrameMultiple - 1);
            Assert.Equal(0, batch.PaddedFrames % 8);
            Assert.Equal(batch.Frames, (int)batch.Mask.Sum());
            Assert.Equal(batch.PaddedFrames, batch.F0.Length);
            Assert.Equal(16 * batch.PaddedFrames / 4, batch.Z.Length);
        }
    }

    [Fact]
    public void F0_is_halved_by_taking_every_other_value()
    {
        var halved = BatchPreparation.ToMotionRate([100, 110, 0, 130, 140, 0, 160], 2, F0Downsampling.EveryOther);
        Assert.Equal([100f, 0f, 140f, 160f], halved);
    }

    [Fact]
    public void F0_is_halved_by_the_mean_of_the_voiced_values_of_each_pair()
    {
        var halved = BatchPreparation.ToMotionRate([100, 110, 0, 130, 0, 0, 160], 2, F0Downsampling.MeanOfVoicedPairs);
        Assert.Equal([105f, 130f, 0f, 160f], halved);
    }

    [Fact]
    public void F0_is_fitted_to_the_motion_frames_and_padding_is_unvoiced()
    {
        var spec = Spec();
        // 10 feature frames -> 5 motion frames; 12 F0 values -> 6 at 25 Hz, one too many: cut
        var batch = Prepare(CountingFeatures(10, 1024), F0(100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111), spec);
        Assert.Equal([100f, 102f, 104f, 106f, 108f, 0f, 0f, 0f], batch.F0);

        // too few F0 values (as Fast-HuBERT's frame count can be one more): unvoiced, as GeneFace++ pads
        var fast = Prepare(CountingFeatures(5, 768), F0(200, 201, 202, 203, 204, 205, 206, 207), Spec(25, 768), featureModel: "fast-hubert");
        Assert.Equal([200f, 202f, 204f, 206f, 0f, 0f, 0f, 0f], fast.F0);

        var mean = Prepare(CountingFeatures(8, 1024), F0(100, 0, 0, 0, 120, 140), Spec(method: F0Downsampling.MeanOfVoicedPairs));
        Assert.Equal([100f, 0f, 130f, 0f, 0f, 0f, 0f, 0f], mean.F0);
    }

    [Fact]
    public void Features_of_the_wrong_dimension_are_refused_with_what_was_expected()
    {
        var spec = Spec(50, 1024, F0Downsampling.EveryOther, "hubert-large", "hubert-large-int8");
        var error = Assert.Throws<StageFailedException>(() =>
            BatchPreparation.Prepare(CountingFeatures(20, 768), F0(new float[20]), spec, "geneface-a2m", "fast-hubert", 0, 0.2));
        Assert.False(error.Retryable);
        Assert.Contains("'geneface-a2m' takes 1024-dimensional features at 50 Hz", error.Message);
        Assert.Contains("hubert-large", error.Message);
        Assert.Contains("'fast-hubert' are 768-dimensional", error.Message);
    }

    [Fact]
    public void Features_of_a_model_the_motion_model_does_not_take_are_refused()
    {
        // hubert-base is 768-d like Fast-HuBERT, but at 50 Hz: the dimension alone cannot tell
        var spec = Spec(25, 768, F0Downsampling.EveryOther, "fast-hubert", "fast-hubert-int8");
        var error = Assert.Throws<StageFailedException>(() =>
            BatchPreparation.Prepare(CountingFeatures(20, 768), F0(new float[40]), spec, "geneface-a2m-fast", "hubert-base", 0, 0.2));
        Assert.Contains("takes the features of fast-hubert, fast-hubert-int8, not of 'hubert-base'", error.Message);
    }

    [Fact]
    public void Empty_or_broken_features_are_refused()
    {
        Assert.Contains("too short", Assert.Throws<StageFailedException>(() => Prepare(new NpyArray([], [0, 1024]), F0(), Spec())).Message);
        var nan = CountingFeatures(4, 1024);
        nan.Data[5] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<StageFailedException>(() => Prepare(nan, F0(0, 0, 0, 0), Spec())).Message);
        Assert.Contains("shape", Assert.Throws<StageFailedException>(() => Prepare(new NpyArray(new float[1024], [1024]), F0(0), Spec())).Message);
    }

    [Fact]
    public void The_latent_is_the_same_for_the_same_seed_and_scales_with_the_temperature()
    {
        var spec = Spec();
        var features = CountingFeatures(200, 1024);
        var a = Prepare(features, F0(new float[200]), spec, seed: 42, temperature: 0.2);
        var b = Prepare(features, F0(new float[200]), spec, seed: 42, temperature: 0.2);
        var other = Prepare(features, F0(new float[200]), spec, seed: 43, temperature: 0.2);
        var hot = Prepare(features, F0(new float[200]), spec, seed: 42, temperature: 0.4);

        Assert.Equal(16 * 104 / 4, a.Z.Length);
        Assert.Equal(a.Z, b.Z);
        Assert.NotEqual(a.Z, other.Z);
        for (var i = 0; i < a.Z.Length; i++) Assert.Equal(2 * a.Z[i], hot.Z[i], 5);
        Assert.All(Prepare(features, F0(new float[200]), spec, seed: 42, temperature: 0).Z, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void The_latent_is_standard_normal_noise_and_a_longer_clip_starts_with_the_same_noise()
    {
        var z = LatentNoise.Sample(7, 16, 10_000, 1.0);
        var mean = z.Average();
        var std = Math.Sqrt(z.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, -0.02, 0.02);
        Assert.InRange(std, 0.98, 1.02);
        Assert.InRange(z.Count(v => Math.Abs(v) < 1) / (double)z.Length, 0.67, 0.70); // 68.3 % within one sigma

        // [16, steps] channel-major, drawn step by step: step s of a short clip equals step s of a long one
        var shortZ = LatentNoise.Sample(7, 16, 10, 1.0);
        for (var c = 0; c < 16; c++)
            for (var s = 0; s < 10; s++) Assert.Equal(z[c * 10_000 + s], shortZ[c * 10 + s]);

        // pinned values: a change to the generator would change every job's motion for the same seed
        var pinned = LatentNoise.Sample(0, 2, 2, 1.0);
        Assert.Equal(LatentNoise.Sample(0, 2, 2, 1.0), pinned);
        Assert.All(pinned, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void The_manifest_fields_are_read_from_the_manifest_file()
    {
        var manifest = new ModelManifest { Name = "geneface-a2m", Version = "demo-1", Task = "audio-to-motion", File = "model.onnx", Sha256 = "0", Output = new ModelOutput { Name = "exp", FeatureDim = 64, FrameRate = 25 } };
        using var json = JsonDocument.Parse("""
            {
              "accepts": {"featureModels": ["hubert-large", "hubert-large-int8"], "featureDim": 1024, "featureRate": 50},
              "latent": {"channels": 16, "downsample": 4, "temperature": 0.2},
              "f0": {"rate": 25, "fromRate": 50, "method": "mean of voiced pairs"},
              "frameMultiple": 8,
              "assets": {"landmarkMean": {"file": "landmark-mean.npy", "sha256": "aa"}, "landmarkBasis": {"file": "landmark-basis.npy", "sha256": "bb"}}
            }
            """);
        var spec = MotionModelSpec.Parse(manifest, json.RootElement, "test");
        Assert.Equal(["hubert-large", "hubert-large-int8"], spec.FeatureModels);
        Assert.Equal(1024, spec.FeatureDim);
        Assert.Equal(2, spec.FeatureFramesPerFrame);
        Assert.Equal(16, spec.LatentChannels);
        Assert.Equal(4, spec.LatentDownsample);
        Assert.Equal(0.2, spec.DefaultTemperature);
        Assert.Equal(F0Downsampling.MeanOfVoicedPairs, spec.F0Method);
        Assert.Equal(8, spec.FrameMultiple);
        Assert.Equal(64, spec.ExpDim);
        Assert.Equal(new ModelAsset("landmark-basis.npy", "bb"), spec.LandmarkBasis);

        using var broken = JsonDocument.Parse("""{"accepts": {"featureDim": 1024, "featureRate": 50}, "f0": {"method": "cubic spline"}, "assets": {"landmarkMean": {"file": "a", "sha256": "b"}, "landmarkBasis": {"file": "c", "sha256": "d"}}}""");
        Assert.Contains("f0.method 'cubic spline' is not known", Assert.Throws<ModelStoreException>(() => MotionModelSpec.Parse(manifest, broken.RootElement, "test")).Message);
        using var noAssets = JsonDocument.Parse("""{"accepts": {"featureDim": 1024, "featureRate": 50}}""");
        Assert.Contains("assets", Assert.Throws<ModelStoreException>(() => MotionModelSpec.Parse(manifest, noAssets.RootElement, "test")).Message);
    }

    [Fact]
    public void The_variant_says_whether_the_model_takes_f0_and_must_agree_with_its_inputs()
    {
        const string rest = """ "accepts": {"featureDim": 1024, "featureRate": 50}, "assets": {"landmarkMean": {"file": "a", "sha256": "b"}, "landmarkBasis": {"file": "c", "sha256": "d"}} """;
        static ModelManifest With(params string[] inputs) => new()
        {
            Name = "m", Version = "1", Task = "audio-to-motion", File = "model.onnx", Sha256 = "0",
            Output = new ModelOutput { Name = "exp", FeatureDim = 64, FrameRate = 25 },
            Inputs = [.. inputs.Select(n => new TensorSpec(n, "float32", []))],
        };
        MotionModelSpec Parse(ModelManifest manifest, string variant)
        {
            using var json = JsonDocument.Parse("{" + variant + rest + "}");
            return MotionModelSpec.Parse(manifest, json.RootElement, "test");
        }

        var plain = Parse(With("features", "mask", "z"), """ "variant": "VAEModel", "f0": null, """);
        Assert.False(plain.UsesF0);
        Assert.Equal(["features", "mask", "z"], plain.InputNames);
        var pitch = Parse(With("features", "f0", "mask", "z"), """ "variant": "PitchContourVAEModel", """);
        Assert.True(pitch.UsesF0);
        Assert.Equal(["features", "f0", "mask", "z"], pitch.InputNames);
        Assert.True(Parse(With("features", "f0", "mask", "z"), "").UsesF0); // manifests from before the field: PitchContourVAEModel

        Assert.Contains("variant 'LSTM' is not", Assert.Throws<ModelStoreException>(() => Parse(With(), """ "variant": "LSTM", """)).Message);
        Assert.Contains("has no 'f0' input, but the manifest's inputs list one",
            Assert.Throws<ModelStoreException>(() => Parse(With("features", "f0", "mask", "z"), """ "variant": "VAEModel", """)).Message);
        Assert.Contains("takes an 'f0' input, but the manifest's inputs do not list one",
            Assert.Throws<ModelStoreException>(() => Parse(With("features", "mask", "z"), """ "variant": "PitchContourVAEModel", """)).Message);
    }

    [Fact]
    public void A_model_without_f0_needs_no_f0_track()
    {
        var spec = Spec() with { Variant = MotionModelSpec.PlainVariant };
        var batch = BatchPreparation.Prepare(CountingFeatures(99, 1024), null, spec, "geneface-a2m-vae", "hubert-large", seed: 0, temperature: 0.2);
        Assert.Equal(50, batch.Frames);
        Assert.All(batch.F0, v => Assert.Equal(0f, v));
        Assert.Contains("needs F0", Assert.Throws<StageFailedException>(() =>
            BatchPreparation.Prepare(CountingFeatures(99, 1024), null, Spec(), "geneface-a2m", "hubert-large", seed: 0, temperature: 0.2)).Message);
    }

    [Theory]
    [InlineData("every other value", F0Downsampling.EveryOther)]
    [InlineData("every-other", F0Downsampling.EveryOther)]
    [InlineData("f0[::2]", F0Downsampling.EveryOther)]
    [InlineData("stride", F0Downsampling.EveryOther)]
    [InlineData("mean-of-voiced-pairs", F0Downsampling.MeanOfVoicedPairs)]
    [InlineData("voiced_mean", F0Downsampling.MeanOfVoicedPairs)]
    public void F0_method_names_are_understood(string name, F0Downsampling expected) =>
        Assert.Equal(expected, MotionModelSpec.ParseMethod(name));
}
