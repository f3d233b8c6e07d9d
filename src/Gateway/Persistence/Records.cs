using TalkingFace.Contracts;

namespace TalkingFace.Gateway.Persistence;

public enum JobState { Queued, Running, Succeeded, Failed, Cancelled }

public enum StageState { Pending, Queued, Running, Succeeded, Failed, Cancelled }

/// <summary>A submitted job. <see cref="Version"/> is the optimistic-concurrency token: every save bumps it.</summary>
public sealed class JobRecord
{
    public Guid Id { get; set; }
    /// <summary>Who owns the job (and its artifacts); every read of the job API is filtered by it.</summary>
    public Guid TenantId { get; set; }
    public required string Kind { get; set; }
    public JobState State { get; set; }
    /// <summary>Why the job is in its state, in plain words (always set for failed and cancelled).</summary>
    public string? Reason { get; set; }
    public required string DeviceClass { get; set; }
    public int Priority { get; set; }
    /// <summary>Validated options as JSON (feature model, seed, mode...).</summary>
    public required string OptionsJson { get; set; }
    public string? IdempotencyKey { get; set; }
    /// <summary>sha256 of the request (options + input bytes), to tell a retried submit from a different one reusing a key.</summary>
    public string? RequestHash { get; set; }
    public Guid? BatchId { get; set; }
    public string? InputName { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public int Version { get; set; }
    public List<StageRecord> Stages { get; set; } = [];
    public List<ArtifactRecord> Artifacts { get; set; } = [];

    public bool IsTerminal => State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;
}

/// <summary>One stage of a job: attempts, who ran it where, and how long each part took.</summary>
public sealed class StageRecord
{
    public Guid Id { get; set; }
    public Guid JobId { get; set; }
    public required string Name { get; set; }
    public int Order { get; set; }
    public StageState State { get; set; }
    public int Attempt { get; set; }
    public int MaxAttempts { get; set; }
    public required string DeviceClass { get; set; }
    public string? WorkerId { get; set; }
    public string? WorkerHost { get; set; }
    public string? Provider { get; set; }
    public string? Model { get; set; }
    public string? Reason { get; set; }
    public double Progress { get; set; }
    public string? CurrentStep { get; set; }
    /// <summary>When a pending stage may be sent (backoff between attempts lives here, not in the broker).</summary>
    public DateTimeOffset? DispatchAfter { get; set; }
    public DateTimeOffset? DispatchedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public DateTimeOffset? LastHeartbeatAt { get; set; }
    public double? QueueWaitSeconds { get; set; }
    public double? RunSeconds { get; set; }
    public List<StepTiming> Timings { get; set; } = [];
    /// <summary>What the user should know about the stage's success (a skipped preview, a repaired input), in plain words.</summary>
    public List<string> Warnings { get; set; } = [];
    public int Version { get; set; }

    public bool IsTerminal => State is StageState.Succeeded or StageState.Failed or StageState.Cancelled;
}

/// <summary>An object in the artifact store that belongs to a job.</summary>
public sealed class ArtifactRecord
{
    public Guid Id { get; set; }
    public Guid JobId { get; set; }
    public required string Stage { get; set; }
    public required string Name { get; set; }
    public required string Key { get; set; }
    public long Size { get; set; }
    public required string Sha256 { get; set; }
    public required string ContentType { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>Many jobs submitted together, watched through one id.</summary>
public sealed class BatchRecord
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public string? Name { get; set; }
    public required string Kind { get; set; }
    public string? IdempotencyKey { get; set; }
    public string? RequestHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>The last heartbeat of a worker, per stage it serves.</summary>
public sealed class WorkerRecord
{
    public required string WorkerId { get; set; }
    public required string Stage { get; set; }
    public required string Host { get; set; }
    public required string DeviceClass { get; set; }
    public List<string> Providers { get; set; } = [];
    public int Concurrency { get; set; }
    public int InFlight { get; set; }
    public DateTimeOffset FirstSeenAt { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }
}
