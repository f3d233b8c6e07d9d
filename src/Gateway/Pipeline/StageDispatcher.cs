using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Fleet;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Scheduling;
using TalkingFace.Messaging;

namespace TalkingFace.Gateway.Pipeline;

/// <summary>
/// Sends a pending stage to its queue <c>{stage}.{class}</c>. The class is the job's pinned one, or for <c>auto</c>
/// the one <see cref="FleetScheduler"/> expects to finish it earliest; without a live worker for it the stage is
/// still sent (a worker may come) and marked <c>waiting: no live worker for class X</c>. The stage is marked queued
/// in the database first (the concurrency token makes one gateway replica win), then sent with the job's priority;
/// if the send fails the stage goes back to pending and the sweeper tries again.
/// </summary>
public sealed class StageDispatcher(
    JobsDbContext db,
    SchedulerBacklog schedulerBacklog,
    ISendEndpointProvider sendEndpoints,
    IStageQueueDeclarer queues,
    FleetView fleet,
    IOptions<PipelineOptions> pipeline,
    IOptions<MessagingOptions> messaging,
    ILogger<StageDispatcher> logger)
{
    /// <summary>Where this stage of this job should go now.</summary>
    public async Task<Placement> PlaceAsync(JobRecord job, StageRecord stage, CancellationToken ct)
    {
        var pinned = job.DeviceClass == DeviceClasses.Auto ? null : job.DeviceClass;
        var capacity = await fleet.CapacityAsync(stage.Name, ct);
        var item = new WorkItem(stage.Name, fleet.UnitsOf(job.Kind, job.OptionsJson), job.Priority, FleetView.ModelOf(job.Kind, stage.Name, job.OptionsJson));
        return FleetScheduler.Place(capacity, item, pinned, pipeline.Value.DefaultDeviceClass);
    }

    public async Task<bool> DispatchAsync(JobRecord job, StageRecord stage, CancellationToken ct)
    {
        var placement = await QueueAsync(job, stage, ct);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException conflict)
        {
            // Another replica (or this gateway's sweeper) dispatched it, or an event just moved it on. Take the database's
            // values back, or the stale change stays tracked and fails the next save on this context (a batch's next item).
            foreach (var entry in conflict.Entries) await entry.ReloadAsync(CancellationToken.None);
            return false;
        }
        return await SendAsync(job, stage, placement, ct);
    }

    /// <summary>
    /// Places <paramref name="stage"/> and marks it queued on its class, unsaved: a new job's first stage is saved with
    /// the job in one write (<see cref="Jobs.JobSubmitter"/>), then sent with <see cref="SendAsync"/>.
    /// </summary>
    public async Task<Placement> QueueAsync(JobRecord job, StageRecord stage, CancellationToken ct)
    {
        var placement = await PlaceAsync(job, stage, ct);
        stage.DeviceClass = placement.DeviceClass;
        stage.Reason = WaitingNote.Apply(stage.Reason, placement.Waiting);
        stage.State = StageState.Queued;
        stage.DispatchedAt = DateTimeOffset.UtcNow;
        return placement;
    }

    /// <summary>Sends a stage already saved as queued; if the send fails it goes back to pending and the sweeper tries again.</summary>
    public async Task<bool> SendAsync(JobRecord job, StageRecord stage, Placement placement, CancellationToken ct)
    {
        var now = stage.DispatchedAt ?? DateTimeOffset.UtcNow;
        try
        {
            var queue = Stages.QueueName(stage.Name, stage.DeviceClass);
            var command = CreateCommand(job, stage, new StageTicket(job.Id, stage.Name, stage.Attempt, stage.DeviceClass, now, job.Priority));
            await queues.EnsureAsync(queue, ct);
            var endpoint = await sendEndpoints.GetSendEndpoint(StageQueues.SendAddress(queue, messaging.Value.Transport));
            var priority = StageQueues.MessagePriority(job.Priority, messaging.Value);
            await endpoint.Send(command, command.GetType(), Pipe.Execute<SendContext>(send => send.TrySetPriority(priority)), ct);
            schedulerBacklog.Dispatched(stage.Name, stage.DeviceClass, job.Priority, fleet.UnitsOf(job.Kind, job.OptionsJson));
            logger.LogInformation("Dispatched {Stage} of job {JobId} (attempt {Attempt}, priority {Priority}) to {Queue}, expected to finish in {Finish:F1} s{Waiting}",
                stage.Name, job.Id, stage.Attempt, job.Priority, queue, placement.ExpectedFinishSeconds, placement.Waiting is null ? "" : "; " + placement.Waiting);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not send {Stage} of job {JobId}; will retry", stage.Name, job.Id);
            stage.State = StageState.Pending;
            stage.DispatchedAt = null;
            stage.DispatchAfter = DateTimeOffset.UtcNow.AddSeconds(5);
            await db.SaveChangesAsync(CancellationToken.None);
            return false;
        }
    }

    private static IStageCommand CreateCommand(JobRecord job, StageRecord stage, StageTicket ticket)
    {
        string? KeyOf(string name) => job.Artifacts.FirstOrDefault(a => a.Name == name)?.Key;
        string Require(string name) => KeyOf(name) ?? throw new InvalidOperationException($"job {job.Id} has no '{name}' artifact");

        switch (stage.Name)
        {
            case Stages.Audio:
            {
                var options = JobOptionsJson.Read<TalkingFaceOptions>(job.OptionsJson);
                return new RunAudioStage(ticket, Require(ArtifactNames.InputAudio), options.FeatureModel, job.InputName);
            }
            case Stages.Motion:
            {
                var options = JobOptionsJson.Read<TalkingFaceOptions>(job.OptionsJson);
                var inputs = job.Artifacts.Where(a => a.Stage == Stages.Audio).ToDictionary(a => a.Name, a => a.Key);
                return new RunMotionStage(ticket, inputs, options.FeatureModel, options.MotionModel, options.Seed, options.Temperature);
            }
            case Stages.Hair:
            {
                var options = JobOptionsJson.Read<HairOptions>(job.OptionsJson);
                return new RunHairStage(ticket, Require(ArtifactNames.InputFace), KeyOf(ArtifactNames.InputShape), KeyOf(ArtifactNames.InputColor), options.Mode,
                    options.ShapeGalleryId, options.ColorGalleryId);
            }
            case Stages.Probe:
                return new RunProbeStage(ticket);
            default:
                throw new InvalidOperationException($"unknown stage '{stage.Name}'");
        }
    }
}
