using TalkingFace.Contracts;
using TalkingFace.Gateway.Persistence;

namespace TalkingFace.Gateway.Pipeline;

/// <summary>
/// The pipeline's rules, as pure functions over a loaded job: each stage event moves the job on.
/// Events for another attempt than the stage's current one, or for a finished stage, are stale and ignored,
/// which makes at-least-once delivery safe.
/// </summary>
public static class JobStateMachine
{
    public static bool IsCurrent(StageRecord stage, int attempt) => !stage.IsTerminal && stage.Attempt == attempt;

    public static void Started(JobRecord job, StageRecord stage, StageStarted e, DateTimeOffset now)
    {
        stage.State = StageState.Running;
        stage.Reason = WaitingNote.Strip(stage.Reason);
        stage.StartedAt = e.At;
        stage.LastHeartbeatAt = now;
        Assign(stage, e.Worker);
        if (stage.DispatchedAt is { } sent) stage.QueueWaitSeconds = Math.Max(0, (e.At - sent).TotalSeconds);
        if (job.State == JobState.Queued) job.State = JobState.Running;
        job.UpdatedAt = now;
    }

    public static void Progressed(JobRecord job, StageRecord stage, StageProgress e, DateTimeOffset now)
    {
        if (stage.State is StageState.Queued or StageState.Pending)
        {
            stage.State = StageState.Running;
            stage.Reason = WaitingNote.Strip(stage.Reason);
        }
        stage.LastHeartbeatAt = now;
        stage.Progress = e.Fraction;
        stage.CurrentStep = e.Step;
        if (job.State == JobState.Queued) job.State = JobState.Running;
    }

    /// <summary>Records the stage's results; returns the next stage to dispatch, or null when the job is done.</summary>
    public static StageRecord? Completed(JobRecord job, StageRecord stage, StageCompleted e, DateTimeOffset now)
    {
        Assign(stage, e.Worker);
        stage.State = StageState.Succeeded;
        stage.Provider = e.Provider;
        stage.Model = e.Model;
        stage.Progress = 1;
        stage.CurrentStep = null;
        stage.Reason = null;
        Finish(stage, e.StartedAt, e.FinishedAt, e.Timings);
        stage.Warnings = [.. e.Warnings ?? []];
        AddArtifacts(job, stage.Name, e.Artifacts, now);

        var next = job.Stages.Where(s => s.Order > stage.Order && s.State == StageState.Pending).MinBy(s => s.Order);
        if (next is null)
        {
            job.State = JobState.Succeeded;
            job.Reason = null;
            job.FinishedAt = now;
        }
        else
        {
            next.DispatchAfter = now;
        }
        job.UpdatedAt = now;
        return next;
    }

    /// <summary>Records a failed attempt; retries it (after backoff) when that can help, else fails the job.</summary>
    public static void Failed(JobRecord job, StageRecord stage, StageFailed e, PipelineOptions options, DateTimeOffset now)
    {
        Assign(stage, e.Worker);
        Finish(stage, e.StartedAt, e.FinishedAt, e.Timings);
        AddArtifacts(job, stage.Name, e.Artifacts, now);
        if (e.Retryable) RetryOrFail(job, stage, e.Reason, options, now);
        else Fail(job, stage, e.Reason, now);
    }

    /// <summary>A new attempt if any is left, else a failed job; used for retryable failures, dead workers and missed deadlines.</summary>
    public static void RetryOrFail(JobRecord job, StageRecord stage, string reason, PipelineOptions options, DateTimeOffset now)
    {
        if (stage.Attempt < stage.MaxAttempts)
        {
            stage.Attempt++;
            stage.State = StageState.Pending;
            stage.Reason = $"attempt {stage.Attempt - 1} failed: {reason}";
            stage.DispatchAfter = now + options.BackoffBefore(stage.Attempt);
            stage.DispatchedAt = null;
            stage.StartedAt = null;
            stage.LastHeartbeatAt = null;
            stage.Progress = 0;
            job.UpdatedAt = now;
        }
        else
        {
            Fail(job, stage, stage.MaxAttempts > 1 ? $"{reason} (after {stage.Attempt} attempts)" : reason, now);
        }
    }

    public static void Fail(JobRecord job, StageRecord stage, string reason, DateTimeOffset now)
    {
        stage.State = StageState.Failed;
        stage.Reason = reason;
        stage.FinishedAt ??= now;
        job.State = JobState.Failed;
        job.Reason = $"{stage.Name} stage failed: {reason}";
        job.FinishedAt = now;
        job.UpdatedAt = now;
        foreach (var later in job.Stages.Where(s => !s.IsTerminal && s != stage))
        {
            later.State = StageState.Cancelled;
            later.Reason = $"not run: the {stage.Name} stage failed";
        }
    }

    public static void Cancel(JobRecord job, string reason, DateTimeOffset now)
    {
        job.State = JobState.Cancelled;
        job.Reason = reason;
        job.FinishedAt = now;
        job.UpdatedAt = now;
        foreach (var stage in job.Stages.Where(s => !s.IsTerminal))
        {
            stage.State = StageState.Cancelled;
            stage.Reason = reason;
        }
    }

    private static void Assign(StageRecord stage, WorkerIdentity worker)
    {
        stage.WorkerId = worker.WorkerId;
        stage.WorkerHost = worker.Host;
        stage.DeviceClass = worker.DeviceClass;
    }

    private static void Finish(StageRecord stage, DateTimeOffset startedAt, DateTimeOffset finishedAt, IReadOnlyList<StepTiming> timings)
    {
        stage.StartedAt ??= startedAt;
        stage.FinishedAt = finishedAt;
        stage.RunSeconds = Math.Max(0, (finishedAt - startedAt).TotalSeconds);
        stage.Timings = [.. timings];
        if (stage.QueueWaitSeconds is null && stage.DispatchedAt is { } sent)
            stage.QueueWaitSeconds = Math.Max(0, (startedAt - sent).TotalSeconds);
    }

    private static void AddArtifacts(JobRecord job, string stage, IEnumerable<StoredArtifact> artifacts, DateTimeOffset now)
    {
        foreach (var a in artifacts)
        {
            // Same name, same key: a redelivered stage updates its record instead of adding a second one.
            var existing = job.Artifacts.FirstOrDefault(x => x.Name == a.Name);
            if (existing is null)
            {
                job.Artifacts.Add(new ArtifactRecord
                {
                    Id = Guid.NewGuid(), JobId = job.Id, Stage = stage, Name = a.Name, Key = a.Key,
                    Size = a.Size, Sha256 = a.Sha256, ContentType = a.ContentType, CreatedAt = now,
                });
            }
            else
            {
                existing.Key = a.Key;
                existing.Size = a.Size;
                existing.Sha256 = a.Sha256;
                existing.ContentType = a.ContentType;
            }
        }
    }
}
