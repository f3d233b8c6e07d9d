using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TalkingFace.Contracts;

namespace TalkingFace.Workers;

/// <summary>Announces this worker to the gateway's fleet registry at a fixed interval.</summary>
internal sealed class WorkerHeartbeatService(IBus bus, WorkerInfo worker, ILogger<WorkerHeartbeatService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(worker.Options.HeartbeatInterval);
        do
        {
            try
            {
                foreach (var stage in worker.Stages)
                {
                    await bus.Publish(new WorkerHeartbeat(worker.Identity, stage, ExecutionProviders.Available,
                        worker.Options.Concurrency, worker.InFlight, DateTimeOffset.UtcNow), ct);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Heartbeat not sent");
            }
        }
        while (await timer.WaitForNextTickAsync(ct));
    }
}
