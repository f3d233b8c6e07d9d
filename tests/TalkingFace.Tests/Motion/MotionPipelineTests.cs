using System.Globalization;
using TalkingFace.Contracts;
using TalkingFace.Media;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;
using TalkingFace.Workers.Motion.AudioToMotion;
using Xunit.Abstractions;
using static TalkingFace.Tests.Motion.MotionTestKit;

namespace TalkingFace.Tests.Motion;

/// <summary>
/// A whole talking-face job on the standalone gateway with the demo models the repository ships (models/, as
/// <see cref="FeaturePipelineTests"/> uses them): audio stage, then motion with landmarks and the MP4 preview.
/// </summary>
public sealed class MotionPipelineTests(DemoModelsGatewayFactory factory, ITestOutputHelper output) : IClassFixture<DemoModelsGatewayFactory>
{
    [Theory]
    [InlineData("hubert-large", HubertModel, 2)]
    [InlineData("fast-hubert", FastModel, 1)]
    public async Task Hello_wav_becomes_expression_landmarks_and_a_preview_with_its_audio(string featureModel, string motionModel, int featureFramesPerFrame)
    {
        var job = await RunAsync(Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav"), featureModel);

        Assert.True(job.State == "succeeded", $"job {job.State}: {job.Reason}");
        var motion = Assert.Single(job.Stages, s => s.Name == Stages.Motion);
        Assert.Equal("CPUExecutionProvider", motion.Provider);
        Assert.StartsWith(motionModel + "@", motion.Model);
        foreach (var step in new[] { Steps.BatchPreparation, Steps.AudioToMotion, MotionSteps.Landmarks, MotionSteps.Preview })
            Assert.Contains(motion.Timings, t => t.Step == step);

        var client = factory.CreateClient();
        var features = await client.ReadNpyAsync( job.Id, ArtifactNames.Features);
        var frames = (features.Shape[0] + featureFramesPerFrame - 1) / featureFramesPerFrame; // every feature frame is animated
        var exp = await client.ReadNpyAsync( job.Id, MotionArtifacts.Exp);
        var landmarks = await client.ReadNpyAsync( job.Id, MotionArtifacts.Landmarks);
        var landmarks2d = await client.ReadNpyAsync( job.Id, MotionArtifacts.Landmarks2d);
        Assert.Equal([frames, 64], exp.Shape);
        Assert.Equal([frames, 68, 3], landmarks.Shape);
        Assert.Equal([frames, 68, 2], landmarks2d.Shape);
        Assert.All(landmarks.Data, v => Assert.True(float.IsFinite(v)));
        Assert.InRange(frames, 75, 80); // hello.wav is 3.14 s at 25 fps

        var artifact = Assert.Single(job.Artifacts, a => a.Name == MotionArtifacts.Preview);
        Assert.Equal("video/mp4", artifact.ContentType);
        var file = Path.Combine(factory.Root, $"{job.Id:N}-preview.mp4");
        await using (var stream = await client.GetStreamAsync($"/api/jobs/{job.Id}/artifacts/{MotionArtifacts.Preview}"))
        await using (var target = File.Create(file))
            await stream.CopyToAsync(target);
        AssertPreview(file);
        var video = Assert.Single(Probe(file), s => s.CodecType == "video");
        Assert.InRange(video.Duration ?? 0, (frames - 1) / 25.0, (frames + 1) / 25.0);
    }

    [Theory]
    [InlineData("hubert-large")]
    [InlineData("fast-hubert")]
    public async Task The_12_s_speech_clip_is_animated_and_its_step_times_are_recorded(string featureModel)
    {
        var job = await RunAsync(TestPaths.MacronSpeech, featureModel);

        Assert.True(job.State == "succeeded", $"job {job.State}: {job.Reason}");
        var motion = Assert.Single(job.Stages, s => s.Name == Stages.Motion);
        var audio = Assert.Single(job.Stages, s => s.Name == Stages.Audio);
        foreach (var stage in new[] { audio, motion })
        {
            output.WriteLine($"{featureModel} {stage.Name} ({stage.Model}): " +
                string.Join(", ", stage.Timings.Select(t => $"{t.Step} {t.Seconds.ToString("F3", CultureInfo.InvariantCulture)} s")));
        }
        var landmarks = await factory.CreateClient().ReadNpyAsync( job.Id, MotionArtifacts.Landmarks2d);
        Assert.InRange(landmarks.Shape[0], 295, 300); // 11.86 s at 25 fps
    }

    private async Task<Gateway.Jobs.JobView> RunAsync(string audioPath, string featureModel)
    {
        var client = factory.CreateClient();
        var audio = await File.ReadAllBytesAsync(audioPath);
        using var response = await client.SubmitTalkingFaceAsync(audio, Path.GetFileName(audioPath), null, ("featureModel", featureModel), ("seed", "11"));
        var submitted = await response.ReadJobAsync(System.Net.HttpStatusCode.Accepted);
        return await client.WaitUntilFinishedAsync(submitted.Id);
    }
}
