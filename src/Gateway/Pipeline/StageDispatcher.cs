using MassTransit;
using Microsoft.EntityFrameworkCore;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Persistence;

namespace TalkingFace.Gateway.Pipeline;

/// <summary>
/// Sends a pending stage to its queue <c>{stage}.{class}</c>. The stage is marked queued in the database
/// first (the concurrency token makes one gateway replica win), then sent; if the send fails the stage
/// goes back to pending and the sweeper tries again.
/// </summary>
public sealed class StageDispatcher(JobsDbContext db, ISendEndpointProvider sendEndpoints, ILogger<StageDispatcher> logger)
{
    public async Task<bool> DispatchAsync(JobRecord job, StageRecord stage, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        stage.State = StageState.Queued;
        stage.DispatchedAt = now;
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

        try
        {
            var command = CreateCommand(job, stage, new StageTicket(job.Id, stage.Name, stage.Attempt, stage.DeviceClass, now));
            var endpoint = await sendEndpoints.GetSendEndpoint(new Uri($"queue:{Stages.QueueName(stage.Name, stage.DeviceClass)}"));
            await endpoint.Send(command, command.GetType(), ct);
            logger.LogInformation("Dispatched {Stage} of job {JobId} (attempt {Attempt}) to {Queue}",
                stage.Name, job.Id, stage.Attempt, Stages.QueueName(stage.Name, stage.DeviceClass));
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not send {Stage} of job {JobId}; will retry", stage.Name, job.Id);
            stage.State = StageState.Pending;
            stage.DispatchedAt = null;
            stage.DispatchAfter = now.AddSeconds(5);
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
                return new RunAudioStage(ticket, Require(ArtifactNames.InputAudio), options.FeatureModel);
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
                return new RunHairStage(ticket, Require(ArtifactNames.InputFace), KeyOf(ArtifactNames.InputShape), KeyOf(ArtifactNames.InputColor), options.Mode);
            }
            default:
                throw new InvalidOperationException($"unknown stage '{stage.Name}'");
        }
    }
}
