using System.Text.Json;
using Microsoft.Extensions.Options;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Models;
using TalkingFace.Workers.Motion.AudioToMotion;
using TalkingFace.Workers.Motion.Landmarks;

namespace TalkingFace.Tests.Motion;

/// <summary>What the motion tests share: the shipped audio-to-motion models, hand-made specs and faces, ffprobe.</summary>
internal static class MotionTestKit
{
    /// <summary>The repository's model store (models/), where tools/models puts the demo audio-to-motion models.</summary>
    public static string ModelsRoot { get; } = Path.Combine(TestPaths.RepoRoot, "models");

    public const string HubertModel = "geneface-a2m";
    public const string FastModel = "geneface-a2m-fast";
    public const string Int8Model = "geneface-a2m-int8";
    /// <summary>GeneFace++'s VAEModel (no F0 input).</summary>
    public const string VaeModel = "geneface-a2m-vae";

    public static MotionModel Load(string name, string? root = null)
    {
        var models = new MotionModels(DemoModelTests.Registry(root ?? ModelsRoot));
        return models.Get(name) ?? throw new Xunit.Sdk.XunitException($"{root ?? ModelsRoot}/{name} is missing: tools/models builds it");
    }

    /// <summary>A spec as the HuBERT (50 Hz, 1024) or Fast-HuBERT (25 Hz, 768) manifests describe, without a model file.</summary>
    public static MotionModelSpec Spec(int featureRate = 50, int featureDim = 1024, F0Downsampling method = F0Downsampling.EveryOther, params string[] featureModels) => new()
    {
        FeatureModels = featureModels,
        FeatureDim = featureDim,
        FeatureRate = featureRate,
        F0Method = method,
        LandmarkMean = new ModelAsset("landmark-mean.npy", "0"),
        LandmarkBasis = new ModelAsset("landmark-basis.npy", "0"),
    };

    public static MotionInference Inference(double windowSeconds = 20, double contextSeconds = 3.2) =>
        new(Options.Create(new MotionInferenceOptions { WindowLength = TimeSpan.FromSeconds(windowSeconds), WindowContext = TimeSpan.FromSeconds(contextSeconds) }));

    public static NpyArray Array2(float[] data, int rows, int columns) => new(data, [rows, columns]);

    /// <summary>Features of <paramref name="frames"/> frames whose values say where they came from: row r holds r + c/1000.</summary>
    public static NpyArray CountingFeatures(int frames, int dim)
    {
        var data = new float[frames * dim];
        for (var r = 0; r < frames; r++)
            for (var c = 0; c < dim; c++) data[r * dim + c] = r + c / 1000f;
        return Array2(data, frames, dim);
    }

    /// <summary>Speech-like random features and F0 (voiced stretches of 100–250 Hz, unvoiced gaps) for a clip of <paramref name="seconds"/>.</summary>
    public static (NpyArray Features, NpyArray F0) SyntheticAudioStage(double seconds, MotionModelSpec spec, int seed = 1)
    {
        var random = new Random(seed);
        var featureFrames = (int)(seconds * spec.FeatureRate);
        var features = new float[featureFrames * spec.FeatureDim];
        for (var i = 0; i < features.Length; i++) features[i] = (float)(random.NextDouble() * 2 - 1);
        var f0Frames = (int)(seconds * 50);
        var f0 = new float[f0Frames];
        for (var i = 0; i < f0Frames; i++) f0[i] = (i / 40) % 3 == 2 ? 0 : (float)(100 + 150 * random.NextDouble());
        return (Array2(features, featureFrames, spec.FeatureDim), new NpyArray(f0, [f0Frames]));
    }

    /// <summary>
    /// A hand-made iBUG-68 face in a 3DMM-like frame (y up, units of about half a face width): jaw, brows, nose,
    /// eyes, lips in their annotation order.
    /// </summary>
    public static float[] SyntheticFace(bool yUp = true)
    {
        var points = new List<(double X, double Y, double Z)>();
        for (var i = 0; i < 17; i++) { var a = Math.PI * i / 16; points.Add((-Math.Cos(a) * 0.8, 0.1 + Math.Sin(a) * 0.9, 0)); }
        for (var i = 0; i < 5; i++) points.Add((-0.7 + 0.13 * i, -0.45 - 0.08 * Math.Sin(Math.PI * i / 4), 0));
        for (var i = 0; i < 5; i++) points.Add((0.18 + 0.13 * i, -0.45 - 0.08 * Math.Sin(Math.PI * i / 4), 0));
        for (var i = 0; i < 4; i++) points.Add((0, -0.3 + 0.12 * i, 0.1));
        for (var i = 0; i < 5; i++) points.Add((-0.16 + 0.08 * i, 0.2 + 0.03 * (1 - Math.Abs(i - 2) / 2.0), 0.05));
        foreach (var c in new[] { -0.4, 0.4 })
            for (var i = 0; i < 6; i++) { var a = 2 * Math.PI * i / 6 + Math.PI; points.Add((c + 0.15 * Math.Cos(a), -0.25 + 0.06 * Math.Sin(a), 0)); }
        for (var i = 0; i < 12; i++) { var a = 2 * Math.PI * i / 12 + Math.PI; points.Add((0.35 * Math.Cos(a), 0.5 + 0.14 * Math.Sin(a), 0)); }
        for (var i = 0; i < 8; i++) { var a = 2 * Math.PI * i / 8 + Math.PI; points.Add((0.25 * Math.Cos(a), 0.5 + 0.05 * Math.Sin(a), 0)); }
        Assert.Equal(LandmarkModel.Points, points.Count);
        return [.. points.SelectMany(p => new[] { (float)p.X, (float)(yUp ? -p.Y : p.Y), (float)p.Z })];
    }

    /// <summary>2D landmarks of a face opening and closing its mouth and turning slightly, for <paramref name="frames"/> frames.</summary>
    public static float[] TalkingLandmarks2d(int frames)
    {
        var face = SyntheticFace();
        var projection = LandmarkProjection.Fit(face);
        var result = new float[frames * LandmarkModel.Points * 2];
        for (var t = 0; t < frames; t++)
        {
            var open = (float)(0.5 + 0.5 * Math.Sin(2 * Math.PI * t / 12.0));
            var frame = (float[])face.Clone();
            for (var p = 57; p <= 59; p++) frame[3 * p + 1] -= 0.12f * open;
            for (var p = 64; p <= 67; p++) frame[3 * p + 1] -= 0.12f * open;
            for (var p = 6; p <= 10; p++) frame[3 * p + 1] -= 0.08f * open;
            for (var p = 0; p < LandmarkModel.Points; p++) frame[3 * p] += 0.05f * (float)Math.Sin(2 * Math.PI * t / 50.0);
            projection.Project(frame).CopyTo(result, t * LandmarkModel.Points * 2);
        }
        return result;
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (var i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    public static NpyArray ReadNpy(string path)
    {
        using var stream = File.OpenRead(path);
        return Npy.Read(stream);
    }

    public sealed record ProbedStream(string CodecType, string CodecName, int? Width, int? Height, string? FrameRate, double? Duration);

    /// <summary><c>ffprobe -v error -show_entries stream=codec_type,codec_name,width,height,r_frame_rate,duration -of json</c>.</summary>
    public static IReadOnlyList<ProbedStream> Probe(string path)
    {
        var json = ExternalTool.Run("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height,r_frame_rate,duration", "-of", "json", path])
            ?? throw new Xunit.Sdk.XunitException("ffprobe is not installed: apt-get install ffmpeg");
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.GetProperty("streams").EnumerateArray().Select(s => new ProbedStream(
            s.GetProperty("codec_type").GetString()!,
            s.GetProperty("codec_name").GetString()!,
            s.TryGetProperty("width", out var w) ? w.GetInt32() : null,
            s.TryGetProperty("height", out var h) ? h.GetInt32() : null,
            s.TryGetProperty("r_frame_rate", out var r) ? r.GetString() : null,
            s.TryGetProperty("duration", out var d) && double.TryParse(d.GetString(), System.Globalization.CultureInfo.InvariantCulture, out var seconds) ? seconds : null))];
    }

    /// <summary>Asserts an MP4 has H.264 video of <paramref name="size"/>² at 25 fps and AAC audio.</summary>
    public static void AssertPreview(string path, int size = 512)
    {
        var streams = Probe(path);
        var video = Assert.Single(streams, s => s.CodecType == "video");
        Assert.Equal("h264", video.CodecName);
        Assert.Equal(size, video.Width);
        Assert.Equal(size, video.Height);
        Assert.Equal("25/1", video.FrameRate);
        var audio = Assert.Single(streams, s => s.CodecType == "audio");
        Assert.Equal("aac", audio.CodecName);
    }
}
