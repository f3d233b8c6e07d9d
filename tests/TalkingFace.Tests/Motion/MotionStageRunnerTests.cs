using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Storage;
using TalkingFace.Tests.Models;
using TalkingFace.Workers;
using TalkingFace.Workers.Motion.AudioToMotion;
using TalkingFace.Workers.Motion.Preview;
using static TalkingFace.Tests.Motion.MotionTestKit;

namespace TalkingFace.Tests.Motion;

/// <summary>The motion stage's runner on a local artifact store: its outputs, timings and failures with a reason.</summary>
public sealed class MotionStageRunnerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("talkingface-motion-runner-").FullName;
    private readonly LocalFolderArtifactStore _store;

    public MotionStageRunnerTests() => _store = new LocalFolderArtifactStore(Options.Create(new StorageOptions { LocalRoot = Path.Combine(_root, "artifacts") }));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static MotionStageRunner Runner(string modelsRoot, PreviewOptions? preview = null)
    {
        var registry = DemoModelTests.Registry(modelsRoot);
        var previewOptions = Options.Create(preview ?? new PreviewOptions());
        return new MotionStageRunner(new MotionModels(registry), new ModelCatalog(Options.Create(new ModelStoreOptions { Root = modelsRoot })),
            Inference(), new PreviewRenderer(previewOptions, NullLogger<PreviewRenderer>.Instance), previewOptions, NullLogger<MotionStageRunner>.Instance);
    }

    /// <summary>Stores what the audio stage would have stored for a clip of <paramref name="seconds"/> and returns the motion command.</summary>
    private async Task<(RunMotionStage Command, StageRun Run)> AudioStageOutputsAsync(MotionModelSpec spec, string featureModel, string motionModel, double seconds)
    {
        var job = Guid.NewGuid();
        var (features, f0) = SyntheticAudioStage(seconds, spec);
        var keys = new Dictionary<string, string>();
        async Task Put(string name, NpyArray array)
        {
            using var npy = new MemoryStream();
            Npy.Write(npy, array.Data, array.Shape);
            npy.Position = 0;
            keys[name] = ArtifactNames.Key(job, Stages.Audio, name);
            await _store.PutAsync(keys[name], name, npy, "application/x-npy", CancellationToken.None);
        }
        await Put(ArtifactNames.Features, features);
        await Put(ArtifactNames.F0, f0);
        var ticket = new StageTicket(job, Stages.Motion, 1, "cpu", DateTimeOffset.UtcNow);
        return (new RunMotionStage(ticket, keys, featureModel, motionModel, Seed: 5, Temperature: 0.2), new StageRun(ticket, _store));
    }

    [Fact]
    public async Task The_stage_stores_exp_and_landmarks_and_times_its_steps()
    {
        var model = Load(FastModel);
        var (command, run) = await AudioStageOutputsAsync(model.Spec, "fast-hubert", FastModel, 7.3);

        var outcome = await Runner(ModelsRoot, new PreviewOptions { Enabled = false }).RunAsync(command, run, CancellationToken.None);

        Assert.Equal(new StageOutcome("CPUExecutionProvider", "geneface-a2m-fast@demo-1"), outcome);
        Assert.Equal([MotionArtifacts.Exp, MotionArtifacts.Landmarks, MotionArtifacts.Landmarks2d], run.Artifacts.Select(a => a.Name));
        foreach (var step in new[] { Steps.BatchPreparation, Steps.AudioToMotion, MotionSteps.Landmarks })
            Assert.Contains(run.Timings, t => t.Step == step);
        Assert.DoesNotContain(run.Timings, t => t.Step == MotionSteps.Preview); // Motion:Preview:Enabled = false
        Assert.Equal(1.0, run.Progress);

        await using var stream = await _store.OpenReadAsync(run.Artifacts.Single(a => a.Name == MotionArtifacts.Landmarks2d).Key, CancellationToken.None);
        var landmarks2d = Npy.Read(stream);
        Assert.Equal([182, 68, 2], landmarks2d.Shape); // 7.3 s at 25 fps: 182 frames, none dropped to reach a multiple of 8
    }

    [Fact]
    public async Task Without_ffmpeg_the_stage_succeeds_without_a_preview_and_warns()
    {
        var model = Load(FastModel);
        var (command, run) = await AudioStageOutputsAsync(model.Spec, "fast-hubert", FastModel, 2);

        var outcome = await Runner(ModelsRoot, new PreviewOptions { FfmpegPath = "/nonexistent/ffmpeg" }).RunAsync(command, run, CancellationToken.None);

        Assert.Equal("geneface-a2m-fast@demo-1", outcome.Model);
        Assert.Equal([MotionArtifacts.Exp, MotionArtifacts.Landmarks, MotionArtifacts.Landmarks2d], run.Artifacts.Select(a => a.Name));
        Assert.Equal(["preview skipped: ffmpeg is not installed at '/nonexistent/ffmpeg' (Motion:Preview:FfmpegPath; apt-get install ffmpeg)"], run.Warnings);
        Assert.Equal(1.0, run.Progress);
        // With the default setting (ffmpeg looked up on PATH) the warning is the one the README quotes; the CLI's
        // fresh-machine test sees it with an empty PATH.
        Assert.Equal("preview skipped: ffmpeg is not installed (apt-get install ffmpeg)", MotionStageRunner.PreviewSkippedWarning("ffmpeg"));
    }

    [Fact]
    public async Task A_model_the_store_does_not_have_is_not_configured()
    {
        var empty = Path.Combine(_root, "no-models");
        Directory.CreateDirectory(empty);
        var (command, run) = await AudioStageOutputsAsync(Spec(), "hubert-large", HubertModel, 1);

        var error = await Assert.ThrowsAsync<StageFailedException>(() => Runner(empty).RunAsync(command, run, CancellationToken.None));

        Assert.Equal(new ModelCatalog(Options.Create(new ModelStoreOptions { Root = empty })).NotConfigured(HubertModel, "audio-to-motion"), error.Message);
        Assert.False(error.Retryable);
    }

    [Fact]
    public async Task A_model_that_is_not_an_audio_to_motion_model_is_refused_with_the_reason()
    {
        var (command, run) = await AudioStageOutputsAsync(Spec(), "hubert-large", "hubert-large", 1);
        var error = await Assert.ThrowsAsync<StageFailedException>(() => Runner(ModelsRoot).RunAsync(command, run, CancellationToken.None));
        Assert.Contains("audio-to-motion model 'hubert-large' cannot be used", error.Message);
        Assert.Contains("task is 'audio-features'", error.Message);
    }

    [Fact]
    public async Task Features_of_the_wrong_model_fail_the_stage_before_inference()
    {
        var fast = Load(FastModel);
        var (command, run) = await AudioStageOutputsAsync(fast.Spec, "fast-hubert", HubertModel, 1);
        var error = await Assert.ThrowsAsync<StageFailedException>(() => Runner(ModelsRoot).RunAsync(command, run, CancellationToken.None));
        Assert.Contains("takes 1024-dimensional features at 50 Hz", error.Message);
        Assert.DoesNotContain(run.Timings, t => t.Step == Steps.AudioToMotion);
    }

    [Fact]
    public async Task Missing_inputs_are_named()
    {
        var ticket = new StageTicket(Guid.NewGuid(), Stages.Motion, 1, "cpu", DateTimeOffset.UtcNow);
        var run = new StageRun(ticket, _store);
        var noFeatures = new RunMotionStage(ticket, new Dictionary<string, string>(), "hubert-large", HubertModel, 0, 0.2);
        Assert.Contains(ArtifactNames.Features, (await Assert.ThrowsAsync<StageFailedException>(() => Runner(ModelsRoot).RunAsync(noFeatures, run, CancellationToken.None))).Message);
        var noF0 = noFeatures with { InputKeys = new Dictionary<string, string> { [ArtifactNames.Features] = "x" } };
        Assert.Contains(ArtifactNames.F0, (await Assert.ThrowsAsync<StageFailedException>(() => Runner(ModelsRoot).RunAsync(noF0, run, CancellationToken.None))).Message);
    }
}
