using TalkingFace.Media;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers.Motion.AudioToMotion;
using TalkingFace.Workers.Motion.Landmarks;
using static TalkingFace.Tests.Motion.MotionTestKit;

namespace TalkingFace.Tests.Motion;

/// <summary>
/// The shipped audio-to-motion demo models (models/geneface-a2m*, made by tools/models) on ONNX Runtime: parity with
/// PyTorch on the fixtures, windowed inference over long audio, and their landmark assets.
/// </summary>
public sealed class MotionInferenceTests
{
    public static TheoryData<string> Models => [HubertModel, FastModel, VaeModel];

    private static NpyArray Fixture(string model, string name) =>
        ReadNpy(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "models", model, name));

    [Theory]
    [InlineData(HubertModel, 1e-4)]
    [InlineData(FastModel, 1e-4)]
    [InlineData(Int8Model, 1e-3)] // one dynamically quantised MatMul: a rounding step may move (the fixture's meta.json)
    [InlineData(VaeModel, 1e-4)] // GeneFace++ VAEModel: no f0 input
    public void Onnx_output_matches_pytorch_on_the_fixtures(string name, double tolerance)
    {
        var model = Load(name);
        Assert.True(model.Manifest.Demo, "the shipped models are demo weights and must say so");
        var features = Fixture(name, "features.npy");
        var mask = Fixture(name, "mask.npy");
        var z = Fixture(name, "z.npy");
        var expected = Fixture(name, "exp.npy");
        var spec = model.Spec;
        var padded = mask.Shape[^1];
        Assert.Equal(name != VaeModel, spec.UsesF0);
        Assert.Equal(spec.UsesF0, File.Exists(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "models", name, "f0.npy")));
        var f0 = spec.UsesF0 ? Fixture(name, "f0.npy") : new NpyArray(new float[padded], [1, padded]);
        Assert.Equal([1, padded * spec.FeatureFramesPerFrame, spec.FeatureDim], features.Shape);
        Assert.Equal([1, spec.LatentChannels, padded / spec.LatentDownsample], z.Shape);
        Assert.Equal([1, padded, spec.ExpDim], expected.Shape);
        var frames = (int)mask.Data.Sum();
        Assert.All(mask.Data.Take(frames), m => Assert.Equal(1f, m)); // real frames first, then padding

        var batch = new MotionBatch(features.Data, spec.FeatureDim, spec.FeatureFramesPerFrame, f0.Data, mask.Data, z.Data,
            spec.LatentChannels, spec.LatentDownsample, frames, padded);
        var result = MotionInference.Run(model.Model, spec, batch, padded, 0, CancellationToken.None);

        Assert.Equal(frames * spec.ExpDim, result.Exp.Length);
        var diff = MaxAbsDiff(expected.Data.AsSpan(0, frames * spec.ExpDim), result.Exp);
        Assert.True(diff <= tolerance, $"{name}: max abs diff {diff:E2} > {tolerance}");
        Assert.Contains(expected.Data.Take(frames * spec.ExpDim), v => Math.Abs(v) > 1e-3); // the fixture is not all zeros
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Five_minutes_of_audio_run_in_bounded_windows_and_every_frame_comes_out(string name)
    {
        var model = Load(name);
        var spec = model.Spec;
        var (features, f0) = SyntheticAudioStage(300, spec);
        var batch = BatchPreparation.Prepare(features, f0, spec, name, spec.FeatureModels[0], seed: 3, temperature: 0.2);
        Assert.Equal(7500, batch.Frames);
        var progress = new List<double>();

        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var result = Inference().Run(model.Model, spec, batch, CancellationToken.None, progress.Add);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.Equal(7500, result.Frames);
        Assert.Equal(7500 * spec.ExpDim, result.Exp.Length);
        Assert.All(result.Exp, v => Assert.True(float.IsFinite(v)));
        // 20 s windows (504 frames, a multiple of 8) with 3.2 s (80 frames) of context each side
        Assert.Equal((7500 + 503) / 504, result.Windows);
        Assert.True(result.LargestWindow <= 504 + 2 * 80, $"a window of {result.LargestWindow} frames");
        Assert.Equal(result.Windows, progress.Count);
        Assert.Equal(1.0, progress[^1]);
        Assert.Equal(progress.Order(), progress);
        // managed memory: the result plus per-window buffers, never a whole-clip tensor copy (7500 x 2 x 1024 floats = 61 MB)
        Assert.True(allocated < 24L * 1024 * 1024, $"allocated {allocated / 1048576.0:F1} MiB");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Windows_with_context_give_what_one_pass_over_the_clip_gives(string name)
    {
        var model = Load(name);
        var spec = model.Spec;
        var (features, f0) = SyntheticAudioStage(30, spec, seed: 5);
        var batch = BatchPreparation.Prepare(features, f0, spec, name, spec.FeatureModels[0], seed: 9, temperature: 0.2);

        var whole = MotionInference.Run(model.Model, spec, batch, batch.PaddedFrames, 0, CancellationToken.None);
        var windowed = MotionInference.Run(model.Model, spec, batch, 200, 80, CancellationToken.None);

        Assert.Equal(1, whole.Windows);
        Assert.Equal(4, windowed.Windows);
        var diff = MaxAbsDiff(whole.Exp, windowed.Exp);
        Assert.True(diff <= 1e-4, $"{name}: windowed vs one pass max abs diff {diff:E2}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void The_same_seed_gives_the_same_motion_and_another_seed_other_motion(string name)
    {
        var model = Load(name);
        var spec = model.Spec;
        var (features, f0) = SyntheticAudioStage(4, spec);
        float[] Run(int seed, double temperature) => Inference().Run(model.Model, spec,
            BatchPreparation.Prepare(features, f0, spec, name, spec.FeatureModels[0], seed, temperature), CancellationToken.None).Exp;

        Assert.Equal(Run(1, 0.2), Run(1, 0.2));
        Assert.True(MaxAbsDiff(Run(1, 0.2), Run(2, 0.2)) > 0, "the latent noise reaches the output");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Cancelling_stops_between_windows(string name)
    {
        var model = Load(name);
        var (features, f0) = SyntheticAudioStage(60, model.Spec);
        var batch = BatchPreparation.Prepare(features, f0, model.Spec, name, model.Spec.FeatureModels[0], 0, 0.2);
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            MotionInference.Run(model.Model, model.Spec, batch, 200, 80, cancel.Token, _ => cancel.Cancel()));
    }

    [Fact]
    public void Int8_motion_stays_close_to_fp32()
    {
        var fp32 = Load(HubertModel);
        var int8 = Load(Int8Model);
        Assert.Equal("int8", int8.Manifest.Precision);
        Assert.Equal(fp32.Spec.FeatureModels, int8.Spec.FeatureModels);
        var (features, f0) = SyntheticAudioStage(10, fp32.Spec, seed: 2);
        var batch = BatchPreparation.Prepare(features, f0, fp32.Spec, HubertModel, "hubert-large", seed: 4, temperature: 0.2);
        var a = Inference().Run(fp32.Model, fp32.Spec, batch, CancellationToken.None).Exp;
        var b = Inference().Run(int8.Model, int8.Spec, batch, CancellationToken.None).Exp;
        var scale = a.Max(Math.Abs);
        Assert.True(MaxAbsDiff(a, b) <= 0.05 * scale, $"int8 vs fp32 max abs diff {MaxAbsDiff(a, b):E2} for outputs up to {scale:E2}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void The_model_declares_its_contract_and_its_landmarks_are_a_face(string name)
    {
        var model = Load(name);
        var spec = model.Spec;
        var hubert = name != FastModel; // geneface-a2m and geneface-a2m-vae read HuBERT-large, -fast Fast-HuBERT
        Assert.Equal(hubert ? (1024, 50) : (768, 25), (spec.FeatureDim, spec.FeatureRate));
        Assert.Equal(hubert ? "hubert-large" : "fast-hubert", spec.FeatureModels[0]);
        Assert.Equal(name == VaeModel ? MotionModelSpec.PlainVariant : MotionModelSpec.PitchVariant, spec.Variant);
        Assert.Equal((16, 4, 8, 64), (spec.LatentChannels, spec.LatentDownsample, spec.FrameMultiple, spec.ExpDim));

        var points = model.Landmarks.Projection.Project(model.Landmarks.Mean);
        var ys = Enumerable.Range(0, 68).Select(p => points[2 * p + 1]).ToArray();
        var xs = Enumerable.Range(0, 68).Select(p => points[2 * p]).ToArray();
        Assert.All(xs.Concat(ys), v => Assert.InRange(v, 0, LandmarkProjection.DefaultSize));
        Assert.True(ys[8] > ys[57] && ys[57] > ys[33] && ys[33] > ys[27], "chin, mouth, nose tip and nose root from bottom to top");
        Assert.True(xs[36] < xs[45] && xs[0] < xs[16], "left to right as in iBUG-68");
    }
}
