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
                // One command at a time through MassTransit: the consumer acknowledges it once a run slot is free and
                // the run has started; the worker's own slots (Worker:Concurrency) bound how many stages run at once.
                e.ConcurrentMessageLimit = 1;
            });
        bus.AddSingleton(new ServedStage(stage));
        return bus;
    }

}

/// <summary>A stage this process serves; collected into <see cref="WorkerInfo.Stages"/> for heartbeats.</summary>
public sealed record ServedStage(string Stage);
