using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Pipeline;

namespace TalkingFace.Gateway.Fleet;

/// <summary>Keeps the last heartbeat of every worker in the database, so every gateway replica sees the same fleet.</summary>
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

public sealed record WorkerView(string WorkerId, string Stage, string Host, string DeviceClass, IReadOnlyList<string> Providers,
    int Concurrency, int InFlight, bool Alive, DateTimeOffset LastSeenAt);

public static class FleetEndpoints
{
    public static IEndpointRouteBuilder MapFleet(this IEndpointRouteBuilder app)
    {
        var fleet = app.MapGroup("/api/fleet").WithTags("Fleet");
        fleet.MapGet("/workers", async (JobsDbContext db, IOptions<PipelineOptions> options, CancellationToken ct) =>
        {
            var aliveAfter = DateTimeOffset.UtcNow - options.Value.WorkerTimeout;
            var workers = await db.Workers.AsNoTracking().ToListAsync(ct);
            return workers.OrderBy(w => w.Stage).ThenBy(w => w.DeviceClass).ThenBy(w => w.WorkerId)
                .Select(w => new WorkerView(w.WorkerId, w.Stage, w.Host, w.DeviceClass, w.Providers, w.Concurrency, w.InFlight,
                    w.LastSeenAt >= aliveAfter, w.LastSeenAt))
                .ToList();
        }).WithSummary("Workers seen by the gateway, with whether they are still alive");
        return app;
    }
}
