using MassTransit;
using Microsoft.EntityFrameworkCore;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Persistence;

namespace TalkingFace.Gateway.Fleet;

/// <summary>
/// Keeps the last heartbeat of every worker in the database (one shared queue: one replica records each), so every
/// replica and restart sees which workers exist. The details a heartbeat carries beyond that table (models, speed)
/// live in each replica's in-memory <see cref="FleetRegistry"/>, fed by <see cref="FleetRegistryConsumer"/>.
/// </summary>
public sealed class WorkerHeartbeatConsumer(JobsDbContext db) : IConsumer<WorkerHeartbeat>
{
    public async Task Consume(ConsumeContext<WorkerHeartbeat> context)
    {
        var h = context.Message;
        var record = await db.Workers.FindAsync([h.Worker.WorkerId, h.Stage], context.CancellationToken);
        if (record is null)
        {
            record = new WorkerRecord { WorkerId = h.Worker.WorkerId, Stage = h.Stage, Host = h.Worker.Host, DeviceClass = h.Worker.DeviceClass, FirstSeenAt = h.At };
            db.Workers.Add(record);
        }
        if (h.At < record.LastSeenAt) return; // an older heartbeat arriving late
        record.Host = h.Worker.Host;
        record.DeviceClass = h.Worker.DeviceClass;
        record.Providers = [.. h.Providers];
        record.Concurrency = h.Concurrency;
        record.InFlight = h.InFlight;
        record.LastSeenAt = h.At;
        try
        {
            await db.SaveChangesAsync(context.CancellationToken);
        }
        catch (DbUpdateException) when (db.Entry(record).State == EntityState.Added)
        {
            // Two heartbeats of a new worker raced; the next one updates the row.
        }
    }
}
