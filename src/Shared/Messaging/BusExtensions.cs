using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace TalkingFace.Messaging;

public static class BusExtensions
{
    /// <summary>
    /// Registers the MassTransit bus on the transport chosen by <c>Messaging:Transport</c>.
    /// <paramref name="registerConsumers"/> adds this process's consumers; each consumer names its own queue.
    /// Redelivery uses in-process retry intervals only: the delayed-message plugin is not assumed,
    /// and longer backoff between attempts is the gateway's job (it re-dispatches from the database).
    /// </summary>
    public static IHostApplicationBuilder AddTalkingFaceBus(this IHostApplicationBuilder builder, Action<IBusRegistrationConfigurator> registerConsumers)
    {
        var options = builder.Configuration.GetSection(MessagingOptions.Section).Get<MessagingOptions>() ?? new MessagingOptions();
        builder.Services.AddOptions<MessagingOptions>().Bind(builder.Configuration.GetSection(MessagingOptions.Section));

        if (options.Transport == Transport.RabbitMq) builder.Services.AddSingleton<IStageQueueDeclarer, RabbitMqStageQueueDeclarer>();
        else builder.Services.AddSingleton<IStageQueueDeclarer, InMemoryStageQueueDeclarer>();

        builder.Services.AddMassTransit(bus =>
        {
            registerConsumers(bus);
            bus.AddConfigureEndpointsCallback((_, name, endpoint) =>
            {
                var intervals = options.EffectiveRetryIntervals;
                if (intervals.Count > 0) endpoint.UseMessageRetry(r => r.Intervals([.. intervals]));
                // A stage queue's prefetch and concurrency are the worker's run slots (AddStageConsumer).
                if (IsStageQueue(name)) StageQueues.Configure(endpoint, options);
                // Quorum queues (an option; classic is the default): RabbitMQ 3.x quorum queues take no x-max-priority,
                // so run them with Messaging:MaxPriority=0.
                if (options.Transport == Transport.RabbitMq && options.RabbitMq.QueueType == QueueType.Quorum &&
                    endpoint is IRabbitMqReceiveEndpointConfigurator rabbitEndpoint)
                {
                    rabbitEndpoint.SetQuorumQueue();
                }
            });

            switch (options.Transport)
            {
                case Transport.RabbitMq:
                    bus.UsingRabbitMq((context, cfg) =>
                    {
                        var rabbit = options.RabbitMq;
                        cfg.Host(rabbit.Host, rabbit.Port, rabbit.VirtualHost, h =>
                        {
                            h.Username(rabbit.Username);
                            h.Password(rabbit.Password);
                            h.PublisherConfirmation = true;
                        });
                        cfg.ConfigureEndpoints(context);
                    });
                    break;
                default:
                    bus.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context));
                    break;
            }
        });
        return builder;
    }

    private static bool IsStageQueue(string name) =>
        TalkingFace.Contracts.Stages.All.Any(stage => name.StartsWith(stage + ".", StringComparison.Ordinal) && !name.EndsWith("_error", StringComparison.Ordinal));
}
