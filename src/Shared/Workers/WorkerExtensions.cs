using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TalkingFace.Contracts;

namespace TalkingFace.Workers;

public static class WorkerExtensions
{
    /// <summary>Worker identity, options and heartbeat; shared by every worker process (and the standalone gateway).</summary>
    public static IHostApplicationBuilder AddWorkerDefaults(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WorkerOptions>().Bind(builder.Configuration.GetSection(WorkerOptions.Section));
        builder.Services.AddSingleton<WorkerInfo>();
        builder.Services.AddSingleton<StageRuns>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StageRuns>());
        builder.Services.AddHostedService<WorkerHeartbeatService>();
        builder.Services.AddScoped<IStageRunner<RunProbeStage>, Probe.ProbeStageRunner>();
        var shutdown = builder.Configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>()?.ShutdownTimeout ?? new WorkerOptions().ShutdownTimeout;
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = shutdown); // graceful stop: finish in-flight stages first
        builder.Services.Configure<MassTransitHostOptions>(m => m.StopTimeout = shutdown);
        return builder;
    }

    /// <summary>
    /// Adds the consumer of one stage on its queue <c>{stage}.{deviceClass}</c> (a priority queue on RabbitMQ).
    /// The runner is resolved from DI, so each worker registers its <see cref="IStageRunner{TCommand}"/>.
    /// </summary>
    public static IBusRegistrationConfigurator AddStageConsumer<TCommand>(this IBusRegistrationConfigurator bus, IConfiguration configuration, string stage)
        where TCommand : class, IStageCommand
    {
        var options = configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>() ?? new WorkerOptions();
        bus.AddConsumer<StageConsumer<TCommand>>()
            .Endpoint(e =>
            {
                e.Name = Stages.QueueName(stage, options.DeviceClass);
                // As many commands at once as the worker has run slots (Worker:Concurrency): each is acknowledged once a
                // slot is free and its run has started, so with every slot busy at most that many wait unacknowledged
                // (each handed back after Worker:SlotWait). One at a time made a worker's intake one StageStarted publish
                // confirm after another: about 50 commands/s however short the stage (bench/load).
                var slots = Math.Max(1, options.Concurrency);
                e.ConcurrentMessageLimit = slots;
                e.PrefetchCount = slots;
            });
        bus.AddSingleton(new ServedStage(stage));
        return bus;
    }

}

/// <summary>A stage this process serves; collected into <see cref="WorkerInfo.Stages"/> for heartbeats.</summary>
public sealed record ServedStage(string Stage);
