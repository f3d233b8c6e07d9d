using System.Net.Http.Json;
using TalkingFace.Contracts;
using TalkingFace.Media;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Standalone;

/// <summary>The standalone gateway with the demo models the repository ships (models/).</summary>
public sealed class DemoModelsGatewayFactory() : StandaloneGatewayFactory(new Dictionary<string, string?>
{
    ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
    ["Inference:OptimizedModelCache"] = "",
});

/// <summary>The audio stage for real on the shipped demo models: features and F0 stored and handed to the motion stage.</summary>
public sealed class FeaturePipelineTests(DemoModelsGatewayFactory factory) : IClassFixture<DemoModelsGatewayFactory>
{
    [Theory]
    [InlineData("hubert-large", 1024, 50)]
    [InlineData("fast-hubert", 768, 25)]
    [InlineData("fast-hubert-int8", 768, 25)]
    public async Task Audio_stage_stores_features_and_f0_for_the_motion_stage(string featureModel, int dim, int rate)
    {
        var client = factory.CreateClient();
        var audio = await File.ReadAllBytesAsync(TestPaths.MacronSpeech);
        using var response = await client.SubmitTalkingFaceAsync(audio, "MacronSpeech.wav", null, ("featureModel", featureModel));
        var submitted = await response.ReadJobAsync(System.Net.HttpStatusCode.Accepted);
        var job = await client.WaitUntilFinishedAsync(submitted.Id);

        var stage = Assert.Single(job.Stages, s => s.Name == Stages.Audio);
        Assert.True(stage.State == "succeeded", $"audio stage {stage.State}: {stage.Reason}");
        Assert.Equal("CPUExecutionProvider", stage.Provider);
        Assert.StartsWith(featureModel + "@", stage.Model);
        Assert.Contains(stage.Timings, t => t.Step == Steps.F0Extraction);
        // The motion stage then ran with the features (its own tests check what it made).
        Assert.NotEqual("cancelled", Assert.Single(job.Stages, s => s.Name == Stages.Motion).State);

        var features = await client.ReadNpyAsync( job.Id, ArtifactNames.Features);
        var f0 = await client.ReadNpyAsync( job.Id, ArtifactNames.F0);
        var samples16k = 189_782; // 12 s at 48 kHz resampled to 16 kHz
        var hubertFrames = (samples16k - 80) / 320;
        Assert.Equal([hubertFrames], f0.Shape);
        Assert.Equal(dim, features.Shape[1]);
        var expectedFrames = rate == 50 ? hubertFrames : (int)Math.Ceiling(Math.Ceiling((1 + (samples16k - 400) / 160) / 2.0) / 2.0);
        Assert.InRange(features.Shape[0], expectedFrames - 1, expectedFrames + 1);
        Assert.All(features.Data, v => Assert.True(float.IsFinite(v)));
        var voiced = f0.Data.Count(v => v > 0);
        Assert.InRange(voiced, f0.Data.Length / 3, f0.Data.Length * 3 / 4); // speech: about half the frames voiced
    }

    [Fact]
    public async Task The_same_audio_with_the_same_model_is_extracted_once()
    {
        var client = factory.CreateClient();
        var audio = await File.ReadAllBytesAsync(Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav"));
        var first = await client.WaitUntilFinishedAsync((await (await client.SubmitTalkingFaceAsync(audio, "a.wav", null, ("featureModel", "fast-hubert"))).ReadJobAsync(System.Net.HttpStatusCode.Accepted)).Id);
        var second = await client.WaitUntilFinishedAsync((await (await client.SubmitTalkingFaceAsync(audio, "b.wav", null, ("featureModel", "fast-hubert"), ("seed", "7"))).ReadJobAsync(System.Net.HttpStatusCode.Accepted)).Id);

        var firstAudio = Assert.Single(first.Stages, s => s.Name == Stages.Audio);
        var secondAudio = Assert.Single(second.Stages, s => s.Name == Stages.Audio);
        Assert.Contains(firstAudio.Timings, t => t.Step == Steps.FeatureExtraction);
        Assert.DoesNotContain(secondAudio.Timings, t => t.Step == Steps.FeatureExtraction);
        Assert.Contains(secondAudio.Timings, t => t.Step == "feature_cache");
        Assert.Equal(first.Artifacts.Single(a => a.Name == ArtifactNames.Features).Sha256, second.Artifacts.Single(a => a.Name == ArtifactNames.Features).Sha256);
    }
}
