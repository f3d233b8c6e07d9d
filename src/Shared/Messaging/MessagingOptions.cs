namespace TalkingFace.Messaging;

public enum Transport { InMemory, RabbitMq }

/// <summary>Bound from the <c>Messaging</c> configuration section.</summary>
public sealed class MessagingOptions
{
    public const string Section = "Messaging";

    public Transport Transport { get; set; } = Transport.InMemory;

    public RabbitMqOptions RabbitMq { get; set; } = new();

    /// <summary>
    /// <c>x-max-priority</c> of the stage queues (RabbitMQ), so a job's priority 0-9 orders its class's queue; 0 turns
    /// priorities off. Changing it on a broker that already holds the queues needs them deleted first (RabbitMQ refuses
    /// a redeclaration with other arguments).
    /// </summary>
    public byte MaxPriority { get; set; } = 9;

    /// <summary>In-process retries of a throwing consumer before the message goes to the <c>_error</c> queue (default 0.2 s, 1 s, 3 s).</summary>
    /// <remarks>Null by default because the configuration binder appends to a pre-filled array instead of replacing it.</remarks>
    public TimeSpan[]? RetryIntervals { get; set; }

    public IReadOnlyList<TimeSpan> EffectiveRetryIntervals => RetryIntervals ?? [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)];
}

public enum QueueType { Classic, Quorum }

public sealed class RabbitMqOptions
{
    /// <summary>
    /// Classic (default) or Quorum: replicated, durable queues for a RabbitMQ cluster. Quorum queues on RabbitMQ 3.10
    /// ignore message priorities, so Classic stays the default wherever priority dispatch matters.
    /// </summary>
    public QueueType QueueType { get; set; } = QueueType.Classic;

    public string Host { get; set; } = "127.0.0.1";
    public ushort Port { get; set; } = 5672;
    public string VirtualHost { get; set; } = "/";
    public string Username { get; set; } = "guest";
    public string Password { get; set; } = "guest";
}
