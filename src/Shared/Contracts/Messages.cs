namespace TalkingFace.Contracts;

// Messages carry object keys, never payloads. Only the gateway writes job state: workers
// receive a stage command and answer with events.

/// <summary>Which job, stage and attempt a command is for, and where its outputs go.</summary>
/// <param name="Priority">The job's priority (0-9, higher first); also the message's priority on a RabbitMQ stage queue.</param>
public sealed record StageTicket(
    Guid JobId,
    string Stage,
    int Attempt,
    string DeviceClass,
    DateTimeOffset DispatchedAt,
    int Priority = 0);

/// <summary>A command that asks a worker to run one stage of one job.</summary>
public interface IStageCommand
{
    StageTicket Ticket { get; }
}

/// <summary>Decode any audio to 16 kHz mono, then extract features and F0.</summary>
/// <param name="InputName">The name of the user's file, for reasons and warnings (never the store key or a server path).</param>
public sealed record RunAudioStage(StageTicket Ticket, string AudioKey, string FeatureModel, string? InputName = null) : IStageCommand;

/// <summary>Do nothing and report back: the pipeline probe's one stage.</summary>
public sealed record RunProbeStage(StageTicket Ticket) : IStageCommand;

/// <summary>Turn features and F0 into expression coefficients, landmarks and a preview.</summary>
public sealed record RunMotionStage(
    StageTicket Ticket,
    IReadOnlyDictionary<string, string> InputKeys,
    string FeatureModel,
    string MotionModel,
    int Seed,
    double Temperature) : IStageCommand;

/// <summary>
/// Detect one face, align it and transfer hair shape and/or color. A reference is either an uploaded image
/// (<paramref name="ShapeKey"/>, <paramref name="ColorKey"/>: detected and aligned like the face) or a pre-aligned
/// gallery item of which only the id travels (<paramref name="ShapeGalleryId"/>, <paramref name="ColorGalleryId"/>).
/// </summary>
public sealed record RunHairStage(
    StageTicket Ticket,
    string FaceKey,
    string? ShapeKey,
    string? ColorKey,
    string Mode,
    string? ShapeGalleryId = null,
    string? ColorGalleryId = null) : IStageCommand;

/// <summary>Who ran a stage.</summary>
public sealed record WorkerIdentity(string WorkerId, string Host, string DeviceClass);

/// <summary>An object a stage wrote to the artifact store.</summary>
public sealed record StoredArtifact(string Name, string Key, long Size, string Sha256, string ContentType);

/// <summary>Seconds spent in one named step of a stage (see <see cref="Steps"/>).</summary>
public sealed record StepTiming(string Step, double Seconds);

public sealed record StageStarted(Guid JobId, string Stage, int Attempt, WorkerIdentity Worker, DateTimeOffset At);

/// <summary>Progress and liveness of a running stage; also sent periodically as the stage's heartbeat.</summary>
public sealed record StageProgress(Guid JobId, string Stage, int Attempt, string WorkerId, double Fraction, string? Step, DateTimeOffset At);

/// <summary>A stage that finished. <paramref name="Warnings"/>: what the user should know about a success (a skipped
/// optional output, a repaired input), in plain words; null or empty when there is nothing to say.</summary>
public sealed record StageCompleted(
    Guid JobId,
    string Stage,
    int Attempt,
    WorkerIdentity Worker,
    string Provider,
    string? Model,
    IReadOnlyList<StoredArtifact> Artifacts,
    IReadOnlyList<StepTiming> Timings,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    IReadOnlyList<string>? Warnings = null);

/// <summary>A stage that could not finish. <paramref name="Retryable"/> says whether another attempt can help.</summary>
public sealed record StageFailed(
    Guid JobId,
    string Stage,
    int Attempt,
    WorkerIdentity Worker,
    string Reason,
    bool Retryable,
    IReadOnlyList<StoredArtifact> Artifacts,
    IReadOnlyList<StepTiming> Timings,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt);

/// <summary>A model a worker can run: the newest version in its store, and whether it is loaded already.</summary>
public sealed record WorkerModel(string Name, string Version, bool Loaded);

/// <summary>
/// A worker's measured speed on one stage: an exponential moving average of seconds of run time per unit of work
/// (<see cref="WorkUnits"/>: seconds of audio, or images), over <paramref name="Samples"/> finished runs.
/// </summary>
public sealed record WorkerSpeed(double SecondsPerUnit, string Unit, int Samples);

/// <summary>A worker's periodic announcement of itself, for the fleet registry.</summary>
/// <param name="Providers">Execution providers this process's ONNX Runtime actually offers.</param>
/// <param name="Models">Models the worker can run (empty: the stage needs none, or the store is empty).</param>
/// <param name="Speed">Null until the worker has finished a run of this stage.</param>
/// <param name="Interval">How often this worker sends heartbeats; the registry counts missed ones against it.</param>
public sealed record WorkerHeartbeat(
    WorkerIdentity Worker,
    string Stage,
    IReadOnlyList<string> Providers,
    int Concurrency,
    int InFlight,
    DateTimeOffset At,
    IReadOnlyList<WorkerModel>? Models = null,
    WorkerSpeed? Speed = null,
    TimeSpan? Interval = null);

/// <summary>The unit a stage's work is measured in, for speeds and scheduling.</summary>
public static class WorkUnits
{
    public const string AudioSecond = "audio_second";
    public const string Image = "image";
    public const string Job = "job";

    public static string Of(string stage) => stage switch
    {
        Stages.Hair => Image,
        Stages.Probe => Job,
        _ => AudioSecond,
    };
}
