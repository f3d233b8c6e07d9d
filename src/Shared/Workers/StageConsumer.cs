using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Messaging;
using TalkingFace.Storage;
using TalkingFace.Telemetry;

namespace TalkingFace.Workers;

/// <summary>
/// Consumes one stage's commands. A stage can run far longer than RabbitMQ's <c>consumer_timeout</c> (30 min by
/// default; per-queue timeouts need RabbitMQ 3.11.15+, this project's broker is 3.10), so the command is not held
/// unacknowledged for the run: the consumer waits for a free run slot, publishes <see cref="StageStarted"/> and
/// returns, which acknowledges the command; the run continues in the background and reports progress, then
/// completed or failed. From the start on, the gateway's stage record owns recovery: a worker that dies mid-run
/// stops reporting progress and its sweeper retries the stage after <c>Pipeline:HeartbeatTimeout</c>.
/// A command that finds every slot busy for <see cref="WorkerOptions.SlotWait"/> is handed back to its queue
/// (with its priority) instead of waiting unacknowledged. An unexpected exception is retried in place
/// (<c>Messaging:RetryIntervals</c>), then the command is moved to <c>{queue}_error</c> and the stage fails with the
/// exception's message.
/// </summary>
public sealed class StageConsumer<TCommand>(
    WorkerInfo worker,
    StageRuns runs,
    IOptions<MessagingOptions> messaging,
    ILogger<StageConsumer<TCommand>> logger) : IConsumer<TCommand>
    where TCommand : class, IStageCommand
{
    public async Task Consume(ConsumeContext<TCommand> context)
    {
        var command = context.Message;
        var ticket = command.Ticket;
        var queue = Stages.QueueName(ticket.Stage, worker.Identity.DeviceClass);
        if (!await worker.Slots.WaitAsync(worker.Options.SlotWait, context.CancellationToken))
        {
            logger.LogDebug("Every run slot is busy; handing {Stage} of job {JobId} back to {Queue}", ticket.Stage, ticket.JobId, queue);
            var back = await context.GetSendEndpoint(StageQueues.SendAddress(queue, messaging.Value.Transport));
            await back.Send(command, send => send.TrySetPriority(StageQueues.MessagePriority(ticket.Priority, messaging.Value)), context.CancellationToken);
            return;
        }

        var startedAt = DateTimeOffset.UtcNow;
        try
        {
            await context.Publish(new StageStarted(ticket.JobId, ticket.Stage, ticket.Attempt, worker.Identity, startedAt));
        }
        catch
        {
            worker.Slots.Release();
            throw; // not acknowledged: the broker gives the command to a worker again
        }
        var parent = Activity.Current?.Context ?? default;
        runs.Start(stopping => StageRunner<TCommand>.RunAsync(runs.Services, command, parent, startedAt, stopping));
        logger.LogInformation("Running {Stage} for job {JobId} (attempt {Attempt}); its command is acknowledged", ticket.Stage, ticket.JobId, ticket.Attempt);
    }
}

/// <summary>One stage run after its command was acknowledged: the work, progress reports, the outcome, metrics and the speed.</summary>
internal static class StageRunner<TCommand> where TCommand : class, IStageCommand
{
    public static async Task RunAsync(IServiceProvider services, TCommand command, ActivityContext parent, DateTimeOffset startedAt, CancellationToken stopping)
    {
        await using var scope = services.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var worker = sp.GetRequiredService<WorkerInfo>();
        var bus = sp.GetRequiredService<IBus>();
        var metrics = sp.GetRequiredService<TalkingFaceMetrics>();
        var messaging = sp.GetRequiredService<IOptions<MessagingOptions>>().Value;
        var logger = sp.GetRequiredService<ILogger<StageConsumer<TCommand>>>();
        var ticket = command.Ticket;
        var queue = Stages.QueueName(ticket.Stage, worker.Identity.DeviceClass);

        using var activity = TalkingFaceMetrics.ActivitySource.StartActivity($"stage {ticket.Stage}", ActivityKind.Internal, parent);
        activity?.SetTag("talkingface.job_id", ticket.JobId);
        activity?.SetTag("talkingface.stage", ticket.Stage);
        activity?.SetTag("talkingface.attempt", ticket.Attempt);
        activity?.SetTag("talkingface.device_class", worker.Identity.DeviceClass);

        var run = new StageRun(ticket, sp.GetRequiredService<IArtifactStore>());
        worker.Enter();
        using var stopProgress = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var progress = ReportProgressAsync(bus, worker, run, logger, stopProgress.Token, stopping);
        string outcome = "succeeded", provider = "none", model = "none";
        try
        {
            var runner = sp.GetRequiredService<IStageRunner<TCommand>>();
            var intervals = messaging.EffectiveRetryIntervals;
            for (var retry = 0; ; retry++)
            {
                try
                {
                    var result = await runner.RunAsync(command, run, stopping);
                    provider = result.Provider;
                    model = result.Model ?? "none";
                    await bus.Publish(new StageCompleted(ticket.JobId, ticket.Stage, ticket.Attempt, worker.Identity,
                        result.Provider, result.Model, run.Artifacts, run.Timings, startedAt, DateTimeOffset.UtcNow, run.Warnings), CancellationToken.None);
                    if (run.Warnings.Count > 0)
                        logger.LogInformation("Stage {Stage} of job {JobId} succeeded with warnings: {Warnings}", ticket.Stage, ticket.JobId, string.Join("; ", run.Warnings));
                    var units = run.WorkUnits ?? (WorkUnits.Of(ticket.Stage) is WorkUnits.Image or WorkUnits.Job ? 1 : null);
                    if (units is { } u) worker.RecordRun(ticket.Stage, (DateTimeOffset.UtcNow - startedAt).TotalSeconds, u);
                    break;
                }
                catch (StageFailedException failure)
                {
                    outcome = "failed";
                    logger.LogWarning("Stage {Stage} of job {JobId} failed: {Reason}", ticket.Stage, ticket.JobId, failure.Message);
                    await PublishFailedAsync(bus, worker, run, ticket, startedAt, failure.Message, failure.Retryable);
                    break;
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    outcome = "error";
                    await PublishFailedAsync(bus, worker, run, ticket, startedAt, $"worker {worker.Identity.WorkerId} stopped during the run", retryable: true);
                    break;
                }
                catch (Exception e) when (StoreOutage.IsOutage(e) && !stopping.IsCancellationRequested &&
                                          DateTimeOffset.UtcNow - startedAt <= worker.Options.StoreOutageTolerance)
                {
                    // The store is unreachable: wait it out in place (progress keeps the gateway patient), then run the
                    // stage again from the start; artifact keys are fixed and the run keeps one artifact per name.
                    logger.LogWarning("Artifact store unreachable during {Stage} of job {JobId}; running it again in 2 s: {Error}", ticket.Stage, ticket.JobId, e.Message);
                    await Task.Delay(TimeSpan.FromSeconds(2), stopping);
                    retry--;
                }
                catch (Exception e) when (StoreOutage.IsOutage(e) && !stopping.IsCancellationRequested)
                {
                    outcome = "failed";
                    var reason = $"the artifact store was unreachable for over {worker.Options.StoreOutageTolerance.TotalSeconds:0} s: {e.Message}";
                    logger.LogWarning("Stage {Stage} of job {JobId} failed: {Reason}", ticket.Stage, ticket.JobId, reason);
                    await PublishFailedAsync(bus, worker, run, ticket, startedAt, reason, retryable: true);
                    break;
                }
                catch (Exception e) when (retry < intervals.Count)
                {
                    logger.LogWarning(e, "Stage {Stage} of job {JobId} threw; trying again in {Delay}", ticket.Stage, ticket.JobId, intervals[retry]);
                    await Task.Delay(intervals[retry], stopping);
                }
                catch (Exception e)
                {
                    outcome = "error";
                    logger.LogError(e, "Stage {Stage} of job {JobId} kept throwing; moving its command to {Queue}_error", ticket.Stage, ticket.JobId, queue);
                    var error = await bus.GetSendEndpoint(new Uri($"queue:{queue}_error"));
                    await error.Send(command, send => send.Headers.Set("TalkingFace-Exception", $"{e.GetType().FullName}: {e.Message}"), CancellationToken.None);
                    await PublishFailedAsync(bus, worker, run, ticket, startedAt,
                        $"the worker kept failing ({e.GetType().Name}: {e.Message}); the command was moved to the {queue}_error queue", retryable: false);
                    metrics.DeadLetters.Add(1, new KeyValuePair<string, object?>("stage", ticket.Stage), new("device_class", worker.Identity.DeviceClass));
                    break;
                }
            }
        }
        catch (Exception e)
        {
            // The outcome could not be reported: the gateway's sweeper sees the stage fall silent and retries it.
            outcome = "error";
            logger.LogError(e, "Could not finish or report {Stage} of job {JobId}", ticket.Stage, ticket.JobId);
        }
        finally
        {
            await stopProgress.CancelAsync();
            await progress;
            worker.Leave();
            worker.Slots.Release();
            activity?.SetTag("talkingface.outcome", outcome);
            if (outcome != "succeeded") activity?.SetStatus(ActivityStatusCode.Error, outcome);
            var tags = new TagList
            {
                { "stage", ticket.Stage }, { "device_class", worker.Identity.DeviceClass },
                { "provider", provider }, { "model", model }, { "outcome", outcome },
            };
            metrics.StageRunTime.Record((DateTimeOffset.UtcNow - startedAt).TotalSeconds, tags);
            foreach (var step in run.Timings)
                metrics.StepTime.Record(step.Seconds, new TagList { { "stage", ticket.Stage }, { "step", step.Step }, { "device_class", worker.Identity.DeviceClass } });
        }
    }

    private static Task PublishFailedAsync(IBus bus, WorkerInfo worker, StageRun run, StageTicket ticket, DateTimeOffset startedAt, string reason, bool retryable) =>
        bus.Publish(new StageFailed(ticket.JobId, ticket.Stage, ticket.Attempt, worker.Identity, reason, retryable,
            run.Artifacts, run.Timings, startedAt, DateTimeOffset.UtcNow), CancellationToken.None);

    /// <summary>
    /// Publishes the run's progress every <see cref="WorkerOptions.ProgressInterval"/> until <paramref name="stopTicks"/>
    /// (the run ended). A publish under way when the run ends is finished, not cancelled: only the worker stopping
    /// (<paramref name="stopping"/>) cancels one, so the normal end of a run never makes the bus log a send fault.
    /// </summary>
    private static async Task ReportProgressAsync(IBus bus, WorkerInfo worker, StageRun run, ILogger logger, CancellationToken stopTicks, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(worker.Options.ProgressInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopTicks))
            {
                var t = run.Ticket;
                await bus.Publish(new StageProgress(t.JobId, t.Stage, t.Attempt, worker.Identity.WorkerId, run.Progress, run.CurrentStep, DateTimeOffset.UtcNow), stopping);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Progress reporting stopped");
        }
    }
}
