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

        builder.Services.AddMassTransit(bus =>
        {
            registerConsumers(bus);
            bus.AddConfigureEndpointsCallback((_, _, endpoint) =>
            {
                var intervals = options.EffectiveRetryIntervals;
                if (intervals.Count > 0) endpoint.UseMessageRetry(r => r.Intervals([.. intervals]));
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
}
