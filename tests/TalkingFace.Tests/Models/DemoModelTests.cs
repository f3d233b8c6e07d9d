using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers;
using TalkingFace.Workers.Audio;
using TalkingFace.Workers.Audio.Conversion;
using TalkingFace.Workers.Audio.Features;

namespace TalkingFace.Tests.Models;

/// <summary>
/// The shipped demo models (models/, fixed-seed weights made by tools/models) on ONNX Runtime, against what
/// PyTorch computed with the same weights on the same input (tests/fixtures/models, made by tools/models/make_fixtures.py).
/// </summary>
public sealed class DemoModelTests
{
    private static readonly string ModelsRoot = Path.Combine(TestPaths.RepoRoot, "models");

    public static ModelRegistry Registry(string root, string deviceClass = "cpu", InferenceOptions? inference = null)
    {
        var options = Options.Create(inference ?? new InferenceOptions { OptimizedModelCache = "" });
        return new(
            new ModelCatalog(Options.Create(new ModelStoreOptions { Root = root })),
            new OnnxSessionFactory(options, NullLogger<OnnxSessionFactory>.Instance),
            Options.Create(new WorkerOptions { DeviceClass = deviceClass }),
            options,
            NullLogger<ModelRegistry>.Instance);
    }

    [Theory]
    [InlineData("hubert-large")]
    [InlineData("hubert-base")]
    [InlineData("fast-hubert")]
    public void Onnx_output_matches_pytorch_on_the_same_weights(string name)
    {
        using var registry = Registry(ModelsRoot);
        var model = registry.Get(name) ?? throw new Xunit.Sdk.XunitException($"models/{name} is missing");
        Assert.True(model.Manifest.Demo, "the shipped models are demo weights and must say so");
        var input = Fixture(name, "input.npy");
        var expected = Fixture(name, "output.npy");

        var actual = Run(model, input);

        Assert.Equal(expected.Data.Length, actual.Length);
        var maxDiff = expected.Data.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 1e-4, $"{name}: max abs diff {maxDiff:E2} > 1e-4");
        Assert.True(Cosine(expected.Data, actual) >= 0.9999, $"{name}: cosine {Cosine(expected.Data, actual):F6}");
    }

    [Fact]
    public void Int8_features_stay_close_to_fp32()
    {
        using var registry = Registry(ModelsRoot);
        var fp32 = registry.Get("fast-hubert")!;
        var int8 = registry.Get("fast-hubert-int8")!;
        Assert.Equal("int8", int8.Manifest.Precision);
        Assert.True(new FileInfo(Path.Combine(int8.Directory, int8.Manifest.File)).Length < new FileInfo(Path.Combine(fp32.Directory, fp32.Manifest.File)).Length);
        var input = Fixture("fast-hubert", "input.npy");
        var cosine = Cosine(Run(fp32, input), Run(int8, input));
        Assert.True(cosine >= 0.99, $"int8 vs fp32 cosine {cosine:F4}");
    }

    [Fact]
    public void A_model_file_that_does_not_match_its_manifest_is_refused()
    {
        var root = CopyModel("fast-hubert");
        try
        {
            var file = Directory.EnumerateFiles(Path.Combine(root, "fast-hubert"), "*.onnx", SearchOption.AllDirectories).Single();
            var bytes = File.ReadAllBytes(file);
            bytes[^10] ^= 0xFF;
            File.WriteAllBytes(file, bytes);
            using var registry = Registry(root);
            var error = Assert.Throws<ModelStoreException>(() => registry.Get("fast-hubert"));
            Assert.Contains("sha256", error.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("0", "must be a positive number")]
    [InlineData("-32768", "must be a positive number")]
    [InlineData("\"loud\"", "not a valid manifest")]
    public void A_fast_hubert_manifest_with_a_bad_fbank_scale_is_refused(string value, string expected)
    {
        var root = CopyModel("fast-hubert");
        try
        {
            var manifest = Directory.EnumerateFiles(Path.Combine(root, "fast-hubert"), "manifest.json", SearchOption.AllDirectories).Single();
            var text = File.ReadAllText(manifest);
            Assert.Contains("\"waveformScale\": 32768.0", text); // the demo Fast-HuBERT takes 16-bit-scale fbank, as upstream
            File.WriteAllText(manifest, text.Replace("\"waveformScale\": 32768.0", $"\"waveformScale\": {value}", StringComparison.Ordinal));
            using var registry = Registry(root);
            var error = Assert.Throws<ModelStoreException>(() => registry.Get("fast-hubert"));
            Assert.Contains(expected, error.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_shipped_fast_hubert_takes_16_bit_scale_fbank()
    {
        using var registry = Registry(ModelsRoot);
        Assert.Equal(32768, registry.Get("fast-hubert")!.Manifest.Input!.Fbank!.WaveformScale);
        Assert.Equal(32768, registry.Get("fast-hubert-int8")!.Manifest.Input!.Fbank!.WaveformScale);
    }

    [Fact]
    public void A_model_the_store_lacks_is_not_configured()
    {
        using var registry = Registry(ModelsRoot);
        Assert.Null(registry.Get("no-such-model"));
        Assert.Null(registry.Get("../models"));
    }

    [Fact]
    public void A_gpu_device_class_falls_back_to_the_cpu_provider_this_build_has()
    {
        using var registry = Registry(ModelsRoot, deviceClass: "rtx");
        var model = registry.Get("fast-hubert")!;
        Assert.Equal("CPUExecutionProvider", model.Provider);
    }

    [Theory]
    [InlineData("hubert-large")]
    [InlineData("fast-hubert")]
    public async Task Long_audio_in_windows_keeps_every_frame_of_the_whole_clip(string name)
    {
        using var registry = Registry(ModelsRoot);
        var model = registry.Get(name)!;
        await using var input = File.OpenRead(TestPaths.MacronSpeech);
        var audio = await new AudioConverter(Options.Create(new AudioConversionOptions())).ConvertAsync(input);

        var whole = Extractor(TimeSpan.FromMinutes(5), TimeSpan.Zero).Extract(model, audio.Samples, CancellationToken.None);
        var windowed = Extractor(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(3)).Extract(model, audio.Samples, CancellationToken.None);
        var fullContext = Extractor(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(5)).Extract(model, audio.Samples, CancellationToken.None);

        Assert.Equal(whole.Frames, windowed.Frames);
        Assert.Equal(whole.Dim, windowed.Dim);
        if (name.StartsWith("hubert", StringComparison.Ordinal))
            Assert.Equal(AudioStageRunner.HubertFrameCount(audio.Samples.Length), whole.Frames);
        // With context that covers the clip, each window sees all of it: the same numbers as one pass.
        var maxDiff = whole.Data.Zip(fullContext.Data, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff < 1e-3, $"windows with full context differ by {maxDiff:E2}");
        // With the default 3 s of context (more than the positional convolution reaches) the windows agree closely with the whole clip.
        Assert.True(Cosine(whole.Data, windowed.Data) > 0.99, $"windowed vs whole cosine {Cosine(whole.Data, windowed.Data):F4}");
    }

    private static FeatureExtractor Extractor(TimeSpan chunk, TimeSpan context) =>
        new(Options.Create(new FeatureExtractionOptions { ChunkLength = chunk, ChunkContext = context }));

    private static NpyArray Fixture(string model, string file)
    {
        var path = Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "models", model, file);
        using var stream = File.OpenRead(path);
        return Npy.Read(stream);
    }

    private static float[] Run(LoadedModel model, NpyArray input)
    {
        using var tensor = OrtValue.CreateTensorValueFromMemory(input.Data.ToArray(), input.Shape.Select(d => (long)d).ToArray());
        using var run = new RunOptions();
        using var outputs = model.Session.Run(run, [model.Manifest.Input!.Name], [tensor], [model.Manifest.Output!.Name]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double Cosine(IReadOnlyList<float> a, IReadOnlyList<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Count; i++)
        {
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    private static string CopyModel(string name)
    {
        var root = Path.Combine(Path.GetTempPath(), "talkingface-models-" + Guid.NewGuid().ToString("N"));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(ModelsRoot, name), "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(root, Path.GetRelativePath(ModelsRoot, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return root;
    }
}
