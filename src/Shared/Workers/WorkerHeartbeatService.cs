using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TalkingFace.Contracts;
using TalkingFace.Models;

namespace TalkingFace.Workers;

/// <summary>
/// Announces this worker to the gateway's fleet registry at a fixed interval: class, host, stage, the execution
/// providers ONNX Runtime offers here, the models the store holds (and which are loaded), concurrency, runs in
/// flight and the measured speed per stage.
/// </summary>
internal sealed class WorkerHeartbeatService(IBus bus, WorkerInfo worker, IServiceProvider services, ILogger<WorkerHeartbeatService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        services.GetService<TalkingFace.Telemetry.TalkingFaceMetrics>()?.StartCountersAtZero(worker.Stages, [worker.Identity.DeviceClass]);
        using var timer = new PeriodicTimer(worker.Options.HeartbeatInterval);
        do
        {
            try
            {
                var models = Models();
                foreach (var stage in worker.Stages)
                {
                    await bus.Publish(new WorkerHeartbeat(worker.Identity, stage, ExecutionProviders.Available,
                        worker.Options.Concurrency, worker.InFlight, DateTimeOffset.UtcNow,
                        models, worker.SpeedOf(stage), worker.Options.HeartbeatInterval), ct);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Heartbeat not sent");
            }
        }
        while (await timer.WaitForNextTickAsync(ct));
    }

    private List<WorkerModel> Models()
    {
        var catalog = services.GetService<ModelCatalog>();
        if (catalog is null) return [];
        var loaded = services.GetService<ModelRegistry>()?.Loaded.Select(m => m.Manifest.Name).ToHashSet(StringComparer.Ordinal) ?? [];
        try
        {
            return [.. catalog.All().Select(m => new WorkerModel(m.Name, m.Version, loaded.Contains(m.Name))).OrderBy(m => m.Name, StringComparer.Ordinal)];
        }
        catch (IOException e)
        {
            logger.LogWarning(e, "Model store not readable for the heartbeat");
            return [];
        }
    }
}
