using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.Logging;
using TalkingFace.Contracts;
using TalkingFace.Storage;
using TalkingFace.Telemetry;

namespace TalkingFace.Workers;

/// <summary>
/// Consumes one stage's commands: announces the start, reports progress while the runner works,
/// then publishes completed or failed. Unexpected exceptions are left to MassTransit's retry and,
/// after that, its <c>_error</c> queue; the gateway turns the resulting fault into a failed job.
/// </summary>
public sealed class StageConsumer<TCommand>(
    IStageRunner<TCommand> runner,
    IArtifactStore store,
    WorkerInfo worker,
    IBus bus,
    TalkingFaceMetrics metrics,
    ILogger<StageConsumer<TCommand>> logger) : IConsumer<TCommand>
    where TCommand : class, IStageCommand
{
    public async Task Consume(ConsumeContext<TCommand> context)
    {
        var ticket = context.Message.Ticket;
        var startedAt = DateTimeOffset.UtcNow;
        var run = new StageRun(ticket, store);
        using var activity = TalkingFaceMetrics.ActivitySource.StartActivity($"stage {ticket.Stage}");
        activity?.SetTag("talkingface.job_id", ticket.JobId);
        activity?.SetTag("talkingface.attempt", ticket.Attempt);

        worker.Enter();
        using var stopHeartbeat = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var heartbeat = ReportProgressAsync(run, stopHeartbeat.Token);
        var outcome = "succeeded";
        try
        {
            await context.Publish(new StageStarted(ticket.JobId, ticket.Stage, ticket.Attempt, worker.Identity, startedAt));
            logger.LogInformation("Running {Stage} for job {JobId} (attempt {Attempt})", ticket.Stage, ticket.JobId, ticket.Attempt);
            try
            {
                StageOutcome result;
                while (true)
                {
                    try
                    {
                        result = await runner.RunAsync(context.Message, run, context.CancellationToken);
                        break;
                    }
                    catch (Exception e) when (StoreOutage.IsOutage(e) && !context.CancellationToken.IsCancellationRequested)
                    {
                        // The store is unreachable: wait it out in place (progress keeps the gateway patient), then run the
                        // stage again from the start; artifact keys are fixed, so a rerun overwrites rather than adds.
                        if (DateTimeOffset.UtcNow - startedAt > worker.Options.StoreOutageTolerance)
                            throw new StageFailedException($"the artifact store was unreachable for over {worker.Options.StoreOutageTolerance.TotalSeconds:0} s: {e.Message}", retryable: true);
                        logger.LogWarning("Artifact store unreachable during {Stage} of job {JobId}; running it again in 2 s: {Error}", ticket.Stage, ticket.JobId, e.Message);
                        await Task.Delay(TimeSpan.FromSeconds(2), context.CancellationToken);
                        run = new StageRun(ticket, store);
                    }
                }
                await context.Publish(new StageCompleted(ticket.JobId, ticket.Stage, ticket.Attempt, worker.Identity,
                    result.Provider, result.Model, run.Artifacts, run.Timings, startedAt, DateTimeOffset.UtcNow));
            }
            catch (StageFailedException failure)
            {
                outcome = "failed";
                logger.LogWarning("Stage {Stage} of job {JobId} failed: {Reason}", ticket.Stage, ticket.JobId, failure.Message);
                await context.Publish(new StageFailed(ticket.JobId, ticket.Stage, ticket.Attempt, worker.Identity,
                    failure.Message, failure.Retryable, run.Artifacts, run.Timings, startedAt, DateTimeOffset.UtcNow));
            }
        }
        catch
        {
            outcome = "error";
            throw;
        }
        finally
        {
            await stopHeartbeat.CancelAsync();
            await heartbeat;
            worker.Leave();
            var tags = new TagList { { "stage", ticket.Stage }, { "device_class", worker.Identity.DeviceClass }, { "outcome", outcome } };
            metrics.StageRunTime.Record((DateTimeOffset.UtcNow - startedAt).TotalSeconds, tags);
            foreach (var step in run.Timings)
                metrics.StepTime.Record(step.Seconds, new TagList { { "stage", ticket.Stage }, { "step", step.Step }, { "device_class", worker.Identity.DeviceClass } });
        }
    }

    private async Task ReportProgressAsync(StageRun run, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(worker.Options.ProgressInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var t = run.Ticket;
                await bus.Publish(new StageProgress(t.JobId, t.Stage, t.Attempt, worker.Identity.WorkerId, run.Progress, run.CurrentStep, DateTimeOffset.UtcNow), ct);
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
