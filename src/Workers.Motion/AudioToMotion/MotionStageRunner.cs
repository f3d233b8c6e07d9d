using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Workers.Motion.Landmarks;
using TalkingFace.Workers.Motion.Preview;

namespace TalkingFace.Workers.Motion.AudioToMotion;

/// <summary>Step names of the motion stage beyond the shared <see cref="Steps"/>.</summary>
public static class MotionSteps
{
    public const string Landmarks = "landmarks";
    public const string Preview = "preview";
}

/// <summary>Names of the motion stage's outputs.</summary>
public static class MotionArtifacts
{
    public const string Exp = "exp.npy";
    public const string Landmarks = "landmarks.npy";
    public const string Landmarks2d = "landmarks2d.npy";
    public const string Preview = "preview.mp4";
}

/// <summary>
/// The motion stage: batch preparation (features and F0 of the audio stage aligned to 25 fps, padded with a mask,
/// seeded latent), the audio-to-motion model in bounded windows, then landmarks from the expression coefficients
/// and an MP4 preview of them with the job's audio. Stores <c>exp.npy</c> [T, 64], <c>landmarks.npy</c> [T, 68, 3],
/// <c>landmarks2d.npy</c> [T, 68, 2] (512 x 512 image space) and <c>preview.mp4</c>.
/// </summary>
public sealed class MotionStageRunner(
    MotionModels models,
    ModelCatalog catalog,
    MotionInference inference,
    PreviewRenderer preview,
    IOptions<PreviewOptions> previewOptions,
    ILogger<MotionStageRunner> logger) : IStageRunner<RunMotionStage>
{
    public async Task<StageOutcome> RunAsync(RunMotionStage command, StageRun run, CancellationToken ct)
    {
        if (!command.InputKeys.TryGetValue(ArtifactNames.Features, out var featuresKey))
            throw new StageFailedException($"no audio features to animate: the audio stage produced no {ArtifactNames.Features}");
        MotionModel? model;
        try
        {
            model = models.Get(command.MotionModel);
        }
        catch (ModelStoreException e)
        {
            throw new StageFailedException($"audio-to-motion model '{command.MotionModel}' cannot be used: {e.Message}", retryable: false, e);
        }
        if (model is null) throw new StageFailedException(catalog.NotConfigured(command.MotionModel, "audio-to-motion"));
        if (model.Model.Fallback is { } fallback) run.Warn(fallback);
        var spec = model.Spec;
        var hasF0 = command.InputKeys.TryGetValue(ArtifactNames.F0, out var f0Key);
        if (spec.UsesF0 && !hasF0)
            throw new StageFailedException($"no pitch to animate: the audio stage produced no {ArtifactNames.F0}, which '{command.MotionModel}' ({spec.Variant}) needs");

        var batch = await run.TimeAsync(Steps.BatchPreparation, async () =>
        {
            var features = await ReadNpyAsync(run, featuresKey, ArtifactNames.Features, ct);
            var f0 = spec.UsesF0 ? await ReadNpyAsync(run, f0Key!, ArtifactNames.F0, ct) : null; // a VAEModel takes no F0
            return BatchPreparation.Prepare(features, f0, spec, command.MotionModel, command.FeatureModel, command.Seed, command.Temperature);
        });
        run.Report(0.1, Steps.BatchPreparation);

        MotionResult motion;
        try
        {
            motion = await Task.Run(() => run.Time(Steps.AudioToMotion,
                () => inference.Run(model.Model, spec, batch, ct, done => run.Report(0.1 + 0.5 * done, Steps.AudioToMotion))), ct);
        }
        catch (ModelStoreException e)
        {
            throw new StageFailedException($"audio-to-motion model '{command.MotionModel}' gave unusable output: {e.Message}", retryable: false, e);
        }
        logger.LogInformation("Animated {Frames} frames of job {JobId} with {Model} in {Windows} window(s) of at most {Largest} frames",
            motion.Frames, run.Ticket.JobId, model.Manifest.Id, motion.Windows, motion.LargestWindow);

        run.WorkUnits = spec.FrameRate > 0 ? motion.Frames / (double)spec.FrameRate : null; // seconds of audio animated
        var (landmarks, landmarks2d) = run.Time(MotionSteps.Landmarks, () =>
        {
            var points = model.Landmarks.Reconstruct(motion.Exp, motion.Frames);
            return (points, model.Landmarks.Projection.Project(points));
        });
        await SaveNpyAsync(run, MotionArtifacts.Exp, motion.Exp, [motion.Frames, motion.ExpDim], ct);
        await SaveNpyAsync(run, MotionArtifacts.Landmarks, landmarks, [motion.Frames, LandmarkModel.Points, 3], ct);
        await SaveNpyAsync(run, MotionArtifacts.Landmarks2d, landmarks2d, [motion.Frames, LandmarkModel.Points, 2], ct);
        run.Report(0.7, MotionSteps.Landmarks);

        if (previewOptions.Value.Enabled)
        {
            try
            {
                await RenderPreviewAsync(command, run, landmarks2d, motion.Frames, spec.FrameRate, ct);
            }
            catch (FfmpegNotFoundException e)
            {
                // The preview is a convenience: the motion and landmarks are the result, so a missing tool only warns.
                logger.LogInformation("Skipped the preview of job {JobId}: {Reason}", run.Ticket.JobId, e.Message);
                run.Warn(PreviewSkippedWarning(e.Path));
            }
        }
        run.Report(1.0);
        return new StageOutcome(model.Model.Provider, model.Manifest.Id);
    }

    /// <summary>What a job without its preview says: the default path means ffmpeg is not installed; a configured one names it.</summary>
    public static string PreviewSkippedWarning(string ffmpegPath) => ffmpegPath == new PreviewOptions().FfmpegPath
        ? $"preview skipped: ffmpeg is not installed ({PreviewRenderer.InstallHint})"
        : $"preview skipped: ffmpeg is not installed at '{ffmpegPath}' (Motion:Preview:FfmpegPath; {PreviewRenderer.InstallHint})";

    private async Task RenderPreviewAsync(RunMotionStage command, StageRun run, float[] landmarks2d, int frames, int fps, CancellationToken ct)
    {
        var folder = Directory.CreateTempSubdirectory("talkingface-preview-");
        try
        {
            var video = Path.Combine(folder.FullName, MotionArtifacts.Preview);
            string? audio = null;
            if (command.InputKeys.TryGetValue(ArtifactNames.Audio16k, out var audioKey))
            {
                audio = Path.Combine(folder.FullName, ArtifactNames.Audio16k);
                await using var source = await run.OpenAsync(audioKey, ct);
                await using var target = File.Create(audio);
                await run.TimeAsync(Steps.ArtifactIo, async () => { await source.CopyToAsync(target, ct); return true; });
            }
            else
            {
                logger.LogWarning("Job {JobId} has no {Audio}: the preview is silent", run.Ticket.JobId, ArtifactNames.Audio16k);
            }
            await run.TimeAsync(MotionSteps.Preview, async () =>
            {
                await preview.RenderAsync(landmarks2d, frames, fps, audio, video, ct);
                return true;
            });
            await using var stream = File.OpenRead(video);
            await run.SaveAsync(MotionArtifacts.Preview, stream, "video/mp4", ct);
        }
        finally
        {
            try
            {
                folder.Delete(recursive: true);
            }
            catch (IOException e)
            {
                logger.LogWarning("Could not delete {Folder}: {Reason}", folder.FullName, e.Message);
            }
        }
    }

    private static async Task<NpyArray> ReadNpyAsync(StageRun run, string key, string name, CancellationToken ct)
    {
        await using var stream = await run.OpenAsync(key, ct);
        try
        {
            return await Task.Run(() => Npy.Read(stream), ct); // straight from the store: no second copy of a long clip's features
        }
        catch (InvalidDataException e)
        {
            throw new StageFailedException($"{name} from the audio stage cannot be read: {e.Message}", retryable: false, e);
        }
    }

    private static async Task SaveNpyAsync(StageRun run, string name, float[] data, int[] shape, CancellationToken ct)
    {
        using var npy = new MemoryStream();
        Npy.Write(npy, data, shape);
        npy.Position = 0;
        await run.SaveAsync(name, npy, "application/x-npy", ct);
    }
}
