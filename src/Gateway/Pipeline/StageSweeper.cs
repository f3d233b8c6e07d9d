using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Fleet;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Scheduling;

namespace TalkingFace.Gateway.Pipeline;

/// <summary>
/// Makes sure no job hangs: sends stages whose backoff is over, re-sends or fails stages no worker took
/// within the queue deadline, and retries or fails running stages whose worker went silent or overran.
/// Queued stages whose class has no live worker are marked <c>waiting: no live worker for class X</c> (and unmarked when
/// one comes), and fail once they have waited <c>Fleet:NoWorkerDeadline</c> with still no live worker for their class.
/// Several gateway replicas can sweep at once: the concurrency tokens let one of them win each change.
/// </summary>
public sealed class StageSweeper(
    IServiceScopeFactory scopes,
    IOptions<PipelineOptions> options,
    IOptions<FleetOptions> fleetOptions,
    FleetRegistry registry,
    ILogger<StageSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval);
        while (await timer.WaitForNextTickAsync(ct))
        {
            try
            {
                await SweepAsync(ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Sweep failed; trying again in {Interval}", options.Value.SweepInterval);
            }
        }
    }

    public async Task SweepAsync(CancellationToken ct)
    {
        var o = options.Value;
        var now = DateTimeOffset.UtcNow;
        var queuedBefore = now - o.QueueDeadline;
        var silentBefore = now - o.HeartbeatTimeout;
        var startedBefore = now - o.RunDeadline;

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<JobsDbContext>();
        var dispatcher = scope.ServiceProvider.GetRequiredService<StageDispatcher>();

        var forgetBefore = now - o.ForgetWorkersAfter;
        await db.Workers.Where(w => w.LastSeenAt < forgetBefore).ExecuteDeleteAsync(ct);

        var noWorkerBefore = now - fleetOptions.Value.NoWorkerDeadline;
        var workers = registry.Snapshot();
        bool HasLiveWorker(StageRecord s) => workers.Any(w => w.Alive && w.Stage == s.Name && w.DeviceClass == s.DeviceClass);
        // A freshly started registry has not heard every worker yet: "no live worker" means nothing until it is warm.
        var warm = registry.IsWarm;
        IReadOnlyList<Guid> orphaned = warm ? await MarkWaitingAsync(db, workers, noWorkerBefore, ct) : [];

        var jobIds = await db.Stages
            .Where(s => (s.State == StageState.Pending && s.DispatchAfter != null && s.DispatchAfter <= now)
                     || (s.State == StageState.Queued && s.DispatchedAt < queuedBefore)
                     || (s.State == StageState.Running && (s.LastHeartbeatAt < silentBefore || s.StartedAt < startedBefore)))
            .Select(s => s.JobId).Distinct().OrderBy(id => id).Take(200).ToListAsync(ct);
        jobIds = [.. jobIds.Union(orphaned).Take(400)];

        foreach (var jobId in jobIds)
        {
            db.ChangeTracker.Clear();
            var job = await db.Jobs.Include(j => j.Stages).Include(j => j.Artifacts).FirstOrDefaultAsync(j => j.Id == jobId, ct);
            if (job is null) continue;
            if (job.IsTerminal)
            {
                foreach (var stage in job.Stages.Where(s => !s.IsTerminal))
                {
                    stage.State = StageState.Cancelled;
                    stage.Reason = $"not run: the job is {job.State.ToString().ToLowerInvariant()}";
                }
                await TrySaveAsync(db, ct);
                continue;
            }
            foreach (var stage in job.Stages.OrderBy(s => s.Order).ToList())
            {
                var queue = Stages.QueueName(stage.Name, stage.DeviceClass);
                if (warm && stage.State == StageState.Queued && stage.DispatchedAt < noWorkerBefore && !HasLiveWorker(stage)
                    && !(stage.DispatchedAt < queuedBefore && stage.Attempt < stage.MaxAttempts))
                {
                    JobStateMachine.Fail(job, stage, $"no live worker for class {stage.DeviceClass} came to take it from queue {queue} within {fleetOptions.Value.NoWorkerDeadline}", now);
                    if (!await TrySaveAsync(db, ct)) break;
                }
                else if (stage.State == StageState.Queued && stage.DispatchedAt < queuedBefore)
                {
                    JobStateMachine.RetryOrFail(job, stage, $"no worker took it from queue {queue} within {o.QueueDeadline} (is a {stage.DeviceClass} worker for {stage.Name} running?)", o, now);
                    if (!await TrySaveAsync(db, ct)) break;
                }
                else if (stage.State == StageState.Running && stage.StartedAt < startedBefore)
                {
                    JobStateMachine.RetryOrFail(job, stage, $"it ran past its deadline of {o.RunDeadline} on worker {stage.WorkerId}", o, now);
                    if (!await TrySaveAsync(db, ct)) break;
                }
                else if (stage.State == StageState.Running && stage.LastHeartbeatAt < silentBefore)
                {
                    JobStateMachine.RetryOrFail(job, stage, $"worker {stage.WorkerId} stopped reporting (silent for over {o.HeartbeatTimeout})", o, now);
                    if (!await TrySaveAsync(db, ct)) break;
                }

                if (!job.IsTerminal && stage.State == StageState.Pending && stage.DispatchAfter is { } due && due <= now)
                    await dispatcher.DispatchAsync(job, stage, ct);
            }
        }
    }

    /// <summary>
    /// Marks queued stages whose class has no live worker as waiting, unmarks those whose class has one again, and
    /// returns the jobs of stages that waited past the no-worker deadline.
    /// </summary>
    private async Task<IReadOnlyList<Guid>> MarkWaitingAsync(JobsDbContext db, IReadOnlyList<WorkerState> workers, DateTimeOffset noWorkerBefore, CancellationToken ct)
    {
        // Oldest first: when more than the cap are queued, those nearest the no-worker deadline are the ones to look at.
        var queued = await db.Stages.Where(s => s.State == StageState.Queued).OrderBy(s => s.DispatchedAt).ThenBy(s => s.Id).Take(5000).ToListAsync(ct);
        var overdue = new List<Guid>();
        var changed = false;
        foreach (var stage in queued)
        {
            var live = workers.Any(w => w.Alive && w.Stage == stage.Name && w.DeviceClass == stage.DeviceClass);
            var reason = WaitingNote.Apply(stage.Reason, live ? null : FleetScheduler.NoLiveWorker(stage.DeviceClass));
            if (reason != stage.Reason)
            {
                stage.Reason = reason;
                changed = true;
            }
            if (!live && stage.DispatchedAt < noWorkerBefore) overdue.Add(stage.JobId);
        }
        if (changed) await TrySaveAsync(db, ct);
        db.ChangeTracker.Clear();
        return overdue;
    }

    private async Task<bool> TrySaveAsync(JobsDbContext db, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateConcurrencyException)
        {
            logger.LogDebug("Sweep lost a race for a job; it will be seen again next time");
            return false;
        }
    }
}
