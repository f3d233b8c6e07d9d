using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Telemetry;

namespace TalkingFace.Gateway.Pipeline;

/// <summary>
/// Records what workers report and advances jobs. A concurrency conflict (another replica or event
/// changed the job meanwhile) throws, and MassTransit's retry replays the event on fresh state.
/// Faults (a command that kept throwing and went to its <c>_error</c> queue) fail the job with the exception's message.
/// </summary>
public sealed class StageEventsConsumer(
    JobsDbContext db,
    StageDispatcher dispatcher,
    IOptions<PipelineOptions> options,
    TalkingFaceMetrics metrics,
    ILogger<StageEventsConsumer> logger) :
    IConsumer<StageStarted>,
    IConsumer<StageProgress>,
    IConsumer<StageCompleted>,
    IConsumer<StageFailed>,
    IConsumer<Fault<RunAudioStage>>,
    IConsumer<Fault<RunMotionStage>>,
    IConsumer<Fault<RunHairStage>>,
    IConsumer<Fault<RunProbeStage>>
{
    /// <summary>
    /// One job's events are applied one at a time, in arrival order (16 partitions by job id): a short stage's
    /// StageStarted and StageCompleted arrive together, and applying them side by side only makes them conflict on the
    /// job's concurrency token and retry. Different jobs still run in parallel.
    /// </summary>
    public static void ApplyInOrderPerJob(IConsumerConfigurator<StageEventsConsumer> consumer)
    {
        var byJob = consumer.CreatePartitioner(16);
        consumer.Message<StageStarted>(m => m.UsePartitioner(byJob, x => x.Message.JobId));
        consumer.Message<StageProgress>(m => m.UsePartitioner(byJob, x => x.Message.JobId));
        consumer.Message<StageCompleted>(m => m.UsePartitioner(byJob, x => x.Message.JobId));
        consumer.Message<StageFailed>(m => m.UsePartitioner(byJob, x => x.Message.JobId));
    }

    public async Task Consume(ConsumeContext<StageStarted> context)
    {
        var e = context.Message;
        (string Stage, string DeviceClass, double Seconds)? wait = null;
        await Apply(e.JobId, e.Stage, e.Attempt, (job, stage, now) =>
        {
            JobStateMachine.Started(job, stage, e, now);
            if (stage.QueueWaitSeconds is { } seconds) wait = (stage.Name, stage.DeviceClass, seconds);
            return null;
        }, context.CancellationToken);
        // Recorded once the change is saved: a save that loses a race is retried, and must not count twice.
        if (wait is { } w) metrics.StageQueueWait.Record(w.Seconds, new("stage", w.Stage), new("device_class", w.DeviceClass));
    }

    public Task Consume(ConsumeContext<StageProgress> context)
    {
        var e = context.Message;
        return Apply(e.JobId, e.Stage, e.Attempt, (job, stage, now) =>
        {
            JobStateMachine.Progressed(job, stage, e, now);
            return null;
        }, context.CancellationToken);
    }

    public Task Consume(ConsumeContext<StageCompleted> context)
    {
        var e = context.Message;
        return Apply(e.JobId, e.Stage, e.Attempt, (job, stage, now) => JobStateMachine.Completed(job, stage, e, now), context.CancellationToken);
    }

    public Task Consume(ConsumeContext<StageFailed> context)
    {
        var e = context.Message;
        return Apply(e.JobId, e.Stage, e.Attempt, (job, stage, now) =>
        {
            JobStateMachine.Failed(job, stage, e, options.Value, now);
            return null;
        }, context.CancellationToken);
    }

    public Task Consume(ConsumeContext<Fault<RunAudioStage>> context) => OnFault(context.Message, context.Message.Message.Ticket, context.CancellationToken);
    public Task Consume(ConsumeContext<Fault<RunMotionStage>> context) => OnFault(context.Message, context.Message.Message.Ticket, context.CancellationToken);
    public Task Consume(ConsumeContext<Fault<RunHairStage>> context) => OnFault(context.Message, context.Message.Message.Ticket, context.CancellationToken);
    public Task Consume(ConsumeContext<Fault<RunProbeStage>> context) => OnFault(context.Message, context.Message.Message.Ticket, context.CancellationToken);

    private Task OnFault(Fault fault, StageTicket ticket, CancellationToken ct)
    {
        var error = fault.Exceptions.FirstOrDefault();
        var what = error is null ? "unknown error" : $"{error.ExceptionType.Split('.').Last()}: {error.Message}";
        var queue = Stages.QueueName(ticket.Stage, ticket.DeviceClass);
        metrics.DeadLetters.Add(1, new KeyValuePair<string, object?>("stage", ticket.Stage), new("device_class", ticket.DeviceClass));
        return Apply(ticket.JobId, ticket.Stage, ticket.Attempt, (job, stage, now) =>
        {
            JobStateMachine.Fail(job, stage, $"the worker kept failing ({what}); the command was moved to the {queue}_error queue", now);
            return null;
        }, ct);
    }

    private async Task Apply(Guid jobId, string stageName, int attempt, Func<JobRecord, StageRecord, DateTimeOffset, StageRecord?> change, CancellationToken ct)
    {
        var job = await db.Jobs.Include(j => j.Stages).Include(j => j.Artifacts).FirstOrDefaultAsync(j => j.Id == jobId, ct);
        var stage = job?.Stages.FirstOrDefault(s => s.Name == stageName);
        if (job is null || stage is null || job.IsTerminal || !JobStateMachine.IsCurrent(stage, attempt))
        {
            logger.LogDebug("Ignoring a stale {Stage} event for job {JobId} attempt {Attempt}", stageName, jobId, attempt);
            return;
        }

        var wasTerminal = job.IsTerminal;
        var next = change(job, stage, DateTimeOffset.UtcNow);
        await db.SaveChangesAsync(ct);

        if (!wasTerminal && job.IsTerminal)
            metrics.JobsFinished.Add(1, new KeyValuePair<string, object?>("kind", job.Kind), new("state", job.State.ToString().ToLowerInvariant()));
        if (stage.State == StageState.Pending && stage.Attempt > 1)
            metrics.StageRetries.Add(1, new KeyValuePair<string, object?>("stage", stage.Name));
        if (next is not null) await dispatcher.DispatchAsync(job, next, ct);
    }
}
