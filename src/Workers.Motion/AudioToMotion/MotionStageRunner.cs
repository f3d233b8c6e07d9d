using TalkingFace.Contracts;
using TalkingFace.Models;
using TalkingFace.Workers;

namespace TalkingFace.Workers.Motion.AudioToMotion;

/// <summary>
/// The motion stage. Batch preparation and the audio-to-motion network are not in this build yet,
/// so the stage says exactly that instead of pretending: the job fails with the reason.
/// </summary>
public sealed class MotionStageRunner(ModelCatalog models) : IStageRunner<RunMotionStage>
{
    public Task<StageOutcome> RunAsync(RunMotionStage command, StageRun run, CancellationToken ct)
    {
        if (!command.InputKeys.ContainsKey(ArtifactNames.Features))
            throw new StageFailedException($"no audio features to animate: the audio stage produced no {ArtifactNames.Features}");
        if (models.Find(command.MotionModel) is null)
            throw new StageFailedException(models.NotConfigured(command.MotionModel, "audio-to-motion"));
        throw new StageFailedException($"audio-to-motion model '{command.MotionModel}' is in the model store, but this build cannot run audio-to-motion inference yet");
    }
}
