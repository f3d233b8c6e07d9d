using System.Net.Http.Json;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;
using TalkingFace.Workers.Audio.Conversion;
using TalkingFace.Workers.Audio.Features;
using TalkingFace.Workers.Motion.AudioToMotion;
using static TalkingFace.Tests.Motion.MotionTestKit;

namespace TalkingFace.Tests.Models;

/// <summary>
/// The fp16 variants in models/ (tools/models/fp16.py) against their fp32 models on the shared real speech clip, and
/// the per-class choice of precision: a GPU class asking for <c>fast-hubert</c> runs <c>fast-hubert-fp16</c>, the CPU
/// class the fp32 model, a named variant exactly that; the stage record says which ran and why not on the GPU.
/// </summary>
public sealed class PrecisionVariantTests
{
    private static readonly string ModelsRoot = Path.Combine(TestPaths.RepoRoot, "models");

    private static float[] Speech16k()
    {
        using var input = File.OpenRead(TestPaths.MacronSpeech);
        return new AudioConverter(Options.Create(new AudioConversionOptions())).ConvertAsync(input).GetAwaiter().GetResult().Samples;
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    [Theory]
    [InlineData("hubert-large")]
    [InlineData("hubert-base")]
    [InlineData("fast-hubert")]
    public void Fp16_feature_model_keeps_cosine_0999_with_its_fp32_model_on_real_speech(string name)
    {
        using var registry = DemoModelTests.Registry(ModelsRoot);
        var fp32 = registry.Get(name)!;
        var fp16 = registry.Get(name + "-fp16")!;
        Assert.Equal("fp32", fp32.Manifest.Precision);
        Assert.Equal("fp16", fp16.Manifest.Precision);
        Assert.Equal(fp32.Manifest.Inputs.Select(i => (i.Name, i.Dtype)), fp16.Manifest.Inputs.Select(i => (i.Name, i.Dtype))); // float32 in and out: callers are unchanged
        Assert.All(fp16.Session.InputMetadata.Values, m => Assert.Equal(typeof(float), m.ElementType));
        Assert.True(fp16.Manifest.SizeBytes < 0.7 * fp32.Manifest.SizeBytes, $"{name}-fp16 is {fp16.Manifest.SizeBytes} bytes: its weights are not half precision");

        var samples = Speech16k();
        var extractor = new FeatureExtractor(Options.Create(new FeatureExtractionOptions()));
        var a = extractor.Extract(fp32, samples, CancellationToken.None);
        var b = extractor.Extract(fp16, samples, CancellationToken.None);

        Assert.Equal((a.Frames, a.Dim), (b.Frames, b.Dim));
        var whole = Cosine(a.Data, b.Data);
        Assert.True(whole >= 0.999, $"{name}: cosine {whole:F6} < 0.999 over the clip");
        var worstFrame = Enumerable.Range(0, a.Frames).Min(f => Cosine(a.Data.AsSpan(f * a.Dim, a.Dim), b.Data.AsSpan(f * b.Dim, b.Dim)));
        Assert.True(worstFrame >= 0.99, $"{name}: the worst frame's cosine is {worstFrame:F6}");
    }

    [Theory]
    [InlineData(HubertModel)]
    [InlineData(FastModel)]
    [InlineData(VaeModel)]
    public void Fp16_motion_model_keeps_cosine_0999_with_its_fp32_model(string name)
    {
        var fp32 = Load(name);
        var fp16 = Load(name + "-fp16");
        Assert.Equal("fp16", fp16.Manifest.Precision);
        var (features, f0) = SyntheticAudioStage(12, fp32.Spec);
        var featureModel = fp32.Spec.FeatureModels.Count > 0 ? fp32.Spec.FeatureModels[0] : "";
        var batch = BatchPreparation.Prepare(features, fp32.Spec.UsesF0 ? f0 : null, fp32.Spec, name, featureModel, seed: 3, fp32.Spec.DefaultTemperature);

        var a = MotionInference.Run(fp32.Model, fp32.Spec, batch, batch.PaddedFrames, 0, CancellationToken.None);
        var b = MotionInference.Run(fp16.Model, fp16.Spec, batch, batch.PaddedFrames, 0, CancellationToken.None);

        Assert.Equal(a.Exp.Length, b.Exp.Length);
        var cosine = Cosine(a.Exp, b.Exp);
        Assert.True(cosine >= 0.999, $"{name}: cosine {cosine:F6} < 0.999");
    }

    [Theory]
    [InlineData("rtx", "fast-hubert", "fast-hubert-fp16")]
    [InlineData("jetson", "hubert-large", "hubert-large-fp16")]
    [InlineData("jetson", "geneface-a2m", "geneface-a2m-fp16")]
    [InlineData("cpu", "fast-hubert", "fast-hubert")]
    [InlineData("apple", "fast-hubert", "fast-hubert")]
    [InlineData("rtx", "fast-hubert-int8", "fast-hubert-int8")] // a named variant is run as named
    [InlineData("cpu", "fast-hubert-fp16", "fast-hubert-fp16")]
    [InlineData("rtx", "no-such-model", "no-such-model")] // "not configured" is said by Get, under the name asked for
    public void A_request_runs_the_variant_of_the_class_s_preferred_precision(string deviceClass, string requested, string expected)
    {
        using var registry = DemoModelTests.Registry(ModelsRoot, deviceClass);
        Assert.Equal(expected, registry.Resolve(requested));
    }

    [Fact]
    public void The_precision_order_is_configurable_per_class()
    {
        var options = new InferenceOptions { OptimizedModelCache = "", Precision = new() { ["cpu"] = ["int8", "fp32"] } };
        using var registry = DemoModelTests.Registry(ModelsRoot, "cpu", options);
        Assert.Equal("fast-hubert-int8", registry.Resolve("fast-hubert"));
        Assert.Equal("hubert-base", registry.Resolve("hubert-base")); // no INT8 variant: the model itself
        Assert.Equal("int8", registry.Get("hubert-large")!.Manifest.Precision);
    }

    [Fact]
    public void A_gpu_class_on_this_machine_records_why_its_model_runs_on_the_cpu()
    {
        using var registry = DemoModelTests.Registry(ModelsRoot, "rtx");
        var model = registry.Get("fast-hubert")!;
        Assert.Equal("fast-hubert-fp16", model.Manifest.Name);
        if (model.Provider != "CPUExecutionProvider") return; // a machine with a working GPU: nothing to explain
        Assert.NotNull(model.Fallback);
        Assert.Contains("not TensorRT", model.Fallback);
        Assert.Contains("TensorRT unavailable (", model.Fallback);
        Assert.Contains("CUDA unavailable (", model.Fallback);
    }

    [Fact]
    public void Unknown_provider_precision_and_bad_settings_are_named_at_start()
    {
        var options = new InferenceOptions
        {
            Providers = new() { ["rtx"] = ["Cuda", "Vulkan"] },
            Precision = new() { ["rtx"] = ["fp8"], ["cpu"] = [] },
            ProviderSettings = new() { ["rtx"] = new ProviderSettings { Cuda = { CudnnConvAlgoSearch = "FASTEST" }, TensorRt = { WorkspaceBytes = 0 } }, ["apple"] = new ProviderSettings { CoreMl = { ComputeUnits = "GPU" } } },
        };
        var problems = options.Problems().ToList();
        Assert.Contains(problems, p => p.Contains("Inference:Providers:rtx names 'Vulkan'", StringComparison.Ordinal));
        Assert.DoesNotContain(problems, p => p.Contains("'Cuda'", StringComparison.Ordinal)); // provider names ignore case
        Assert.Contains(problems, p => p.Contains("Inference:Precision:rtx names 'fp8'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Inference:Precision:cpu is empty", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Inference:ProviderSettings:rtx:Cuda:CudnnConvAlgoSearch is 'FASTEST'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Inference:ProviderSettings:rtx:TensorRt:WorkspaceBytes is 0", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Inference:ProviderSettings:apple:CoreMl:ComputeUnits is 'GPU'", StringComparison.Ordinal));
        Assert.Empty(new InferenceOptions().Problems());
    }

    [Fact]
    public void Provider_settings_become_onnx_runtime_s_option_keys()
    {
        var settings = new ProviderSettings
        {
            Cuda = { DeviceId = 1, MemoryLimitBytes = 2L << 30, CudnnConvAlgoSearch = "HEURISTIC" },
            TensorRt = { DeviceId = 1, Fp16 = false, WorkspaceBytes = 1L << 28 },
            CoreMl = { ComputeUnits = "CPUAndNeuralEngine" },
        };
        Assert.Equal(new Dictionary<string, string> { ["device_id"] = "1", ["gpu_mem_limit"] = (2L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), ["cudnn_conv_algo_search"] = "HEURISTIC", ["arena_extend_strategy"] = "kSameAsRequested" }, settings.Cuda.ToOrt());
        var trt = settings.TensorRt.ToOrt("/cache/fast-hubert-fp16-demo-1-abc");
        Assert.Equal("0", trt["trt_fp16_enable"]);
        Assert.Equal("1", trt["trt_engine_cache_enable"]);
        Assert.Equal("/cache/fast-hubert-fp16-demo-1-abc", trt["trt_engine_cache_path"]);
        Assert.Equal((1L << 28).ToString(System.Globalization.CultureInfo.InvariantCulture), trt["trt_max_workspace_size"]);
        Assert.Equal("0", settings.TensorRt.ToOrt(null)["trt_engine_cache_enable"]);
        Assert.Equal("CPUAndNeuralEngine", settings.CoreMl.ToOrt()["MLComputeUnits"]);
    }
}

/// <summary>The standalone gateway's workers as an <c>rtx</c> worker (on this CPU machine).</summary>
public sealed class RtxDemoModelsGatewayFactory() : StandaloneGatewayFactory(new Dictionary<string, string?>
{
    ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
    ["Inference:OptimizedModelCache"] = "",
    ["Worker:DeviceClass"] = "rtx",
    ["Pipeline:DefaultDeviceClass"] = "rtx",
});

public sealed class PrecisionVariantPipelineTests(RtxDemoModelsGatewayFactory factory) : IClassFixture<RtxDemoModelsGatewayFactory>
{
    [Fact]
    public async Task An_rtx_worker_runs_the_fp16_variant_and_the_stage_says_so()
    {
        var client = factory.CreateClient();
        var audio = await File.ReadAllBytesAsync(Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav"));
        using var response = await client.SubmitTalkingFaceAsync(audio, "hello.wav", null, ("featureModel", "fast-hubert"));
        var job = await client.WaitUntilFinishedAsync((await response.ReadJobAsync(System.Net.HttpStatusCode.Accepted)).Id);

        Assert.True(job.State == "succeeded", $"job {job.State}: {job.Reason}");
        var stage = Assert.Single(job.Stages, s => s.Name == Stages.Audio);
        Assert.StartsWith("fast-hubert-fp16@", stage.Model);
        var motion = Assert.Single(job.Stages, s => s.Name == Stages.Motion);
        Assert.StartsWith("geneface-a2m-fast-fp16@", motion.Model);
        if (stage.Provider == "CPUExecutionProvider") // this machine: no GPU, and the record says why
            Assert.Contains(stage.Warnings, w => w.Contains("fast-hubert-fp16@demo-1 ran on CPUExecutionProvider, not TensorRT", StringComparison.Ordinal));
        var features = await client.ReadNpyAsync(job.Id, ArtifactNames.Features);
        Assert.All(features.Data, v => Assert.True(float.IsFinite(v)));
    }
}
