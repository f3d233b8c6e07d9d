using TalkingFace.Contracts;
using TalkingFace.Models;
using TalkingFace.Workers;

namespace TalkingFace.Workers.Hair.Transfer;

/// <summary>
/// The hair stage. Face detection, alignment and the transfer chain are not in this build yet,
/// so the stage fails with that reason rather than returning a fake result.
/// </summary>
public sealed class HairStageRunner(ModelCatalog models) : IStageRunner<RunHairStage>
{
    public const string DetectorModel = "face-detector";

    public Task<StageOutcome> RunAsync(RunHairStage command, StageRun run, CancellationToken ct)
    {
        if (models.Find(DetectorModel) is null)
            throw new StageFailedException(models.NotConfigured(DetectorModel, "face detection"));
        throw new StageFailedException("face detection and hair transfer are not available in this build yet");
    }
}
