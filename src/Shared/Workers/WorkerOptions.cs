using Microsoft.Extensions.Options;
using TalkingFace.Contracts;

namespace TalkingFace.Workers;

/// <summary>Bound from the <c>Worker</c> configuration section of a worker process.</summary>
public sealed class WorkerOptions
{
    public const string Section = "Worker";

    /// <summary>The device class this worker serves; it consumes the queues <c>{stage}.{class}</c>.</summary>
    public string DeviceClass { get; set; } = DeviceClasses.Cpu;

    /// <summary>Stable id of this worker; defaults to host name and process id.</summary>
    public string? WorkerId { get; set; }

    /// <summary>Stage commands this process runs at once.</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>How often a running stage reports progress (its liveness signal to the gateway).</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the worker announces itself to the fleet registry.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// On SIGTERM the worker stops taking commands and lets the running ones finish for this long; a command still
    /// running after it is not acknowledged, so RabbitMQ hands it to another worker (at-least-once, stages are idempotent).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a stage waits out an unreachable artifact store (rerunning itself) before failing as retryable.</summary>
    public TimeSpan StoreOutageTolerance { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Who this worker is, resolved once at start.</summary>
public sealed class WorkerInfo
{
    public WorkerInfo(IOptions<WorkerOptions> configured, IEnumerable<ServedStage> stages)
    {
        var options = configured.Value;
        Options = options;
        Stages = [.. stages.Select(s => s.Stage).Distinct()];
        Identity = new WorkerIdentity(
            options.WorkerId ?? $"{Environment.MachineName}-{Environment.ProcessId}",
            Environment.MachineName,
            options.DeviceClass);
    }

    public WorkerOptions Options { get; }
    public WorkerIdentity Identity { get; }
    public IReadOnlyList<string> Stages { get; }
    private int _inFlight;
    public int InFlight => Volatile.Read(ref _inFlight);
    internal void Enter() => Interlocked.Increment(ref _inFlight);
    internal void Leave() => Interlocked.Decrement(ref _inFlight);
}
