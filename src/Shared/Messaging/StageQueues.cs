using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace TalkingFace.Messaging;

/// <summary>
/// The stage queues <c>{stage}.{class}</c> are RabbitMQ priority queues (<c>x-max-priority</c>), so a job's priority
/// (0-9) orders the commands waiting for a class. Workers declare them through their receive endpoints, and the
/// gateway declares them (same exchange, queue, binding and arguments) before its first send, because MassTransit's
/// send topology would declare a queue without arguments, which RabbitMQ refuses as inequivalent.
/// The in-memory transport has no priorities: there a class's commands are taken in the order they were sent.
/// </summary>
public static class StageQueues
{
    /// <summary>Queue arguments every declaration of a stage queue uses; empty when priorities are off.</summary>
    public static IReadOnlyDictionary<string, object> Arguments(MessagingOptions options) =>
        options.MaxPriority > 0
            ? new Dictionary<string, object> { ["x-max-priority"] = (int)Math.Min(options.MaxPriority, (byte)255) }
            : new Dictionary<string, object>();

    /// <summary>Applies the stage-queue arguments to a worker's receive endpoint (RabbitMQ only).</summary>
    public static void Configure(IReceiveEndpointConfigurator endpoint, MessagingOptions options)
    {
        if (endpoint is not IRabbitMqReceiveEndpointConfigurator rabbit) return;
        foreach (var (key, value) in Arguments(options)) rabbit.SetQueueArgument(key, value);
    }

    /// <summary>The address the gateway (and a worker handing a command back) sends stage commands to: the queue's own exchange.</summary>
    public static Uri SendAddress(string queue, Transport transport) =>
        transport == Transport.RabbitMq ? new Uri($"exchange:{queue}") : new Uri($"queue:{queue}");

    /// <summary>Clamps a job priority (0-9) to the queue's range.</summary>
    public static byte MessagePriority(int priority, MessagingOptions options) =>
        (byte)Math.Clamp(priority, 0, Math.Max(0, (int)options.MaxPriority));
}

/// <summary>Makes sure a stage queue exists, with the stage-queue arguments, before a command is sent to it.</summary>
public interface IStageQueueDeclarer
{
    Task EnsureAsync(string queue, CancellationToken ct);
}

/// <summary>In-memory transport: queues exist as soon as they are named.</summary>
public sealed class InMemoryStageQueueDeclarer : IStageQueueDeclarer
{
    public Task EnsureAsync(string queue, CancellationToken ct) => Task.CompletedTask;
}

/// <summary>
/// Declares stage queues over its own RabbitMQ connection (exchange and queue named alike, fanout, durable, bound:
/// the topology MassTransit gives a receive endpoint), once per queue and process.
/// </summary>
public sealed class RabbitMqStageQueueDeclarer(IOptions<MessagingOptions> options, ILogger<RabbitMqStageQueueDeclarer> logger)
    : IStageQueueDeclarer, IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<string> _declared = new(StringComparer.Ordinal);
    private IConnection? _connection;

    public async Task EnsureAsync(string queue, CancellationToken ct)
    {
        lock (_declared)
            if (_declared.Contains(queue)) return;
        await _gate.WaitAsync(ct);
        try
        {
            if (_connection is not { IsOpen: true })
            {
                if (_connection is not null) await _connection.DisposeAsync();
                var rabbit = options.Value.RabbitMq;
                _connection = await new ConnectionFactory
                {
                    HostName = rabbit.Host, Port = rabbit.Port, VirtualHost = rabbit.VirtualHost,
                    UserName = rabbit.Username, Password = rabbit.Password, ClientProvidedName = "talkingface-stage-queues",
                }.CreateConnectionAsync(ct);
            }
            await using var channel = await _connection.CreateChannelAsync(cancellationToken: ct);
            await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: StageQueues.Arguments(options.Value).ToDictionary(a => a.Key, a => (object?)a.Value), cancellationToken: ct);
            await channel.QueueBindAsync(queue, queue, "", cancellationToken: ct);
            lock (_declared) _declared.Add(queue);
            logger.LogDebug("Declared stage queue {Queue}", queue);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
        _gate.Dispose();
    }
}
