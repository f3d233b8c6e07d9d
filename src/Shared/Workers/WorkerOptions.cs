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

    /// <summary>Weight of the newest run in the moving average of the measured speed (0-1].</summary>
    public double SpeedSmoothing { get; set; } = 0.3;

    /// <summary>
    /// A command delivered while every slot of this worker is busy is handed back to its queue after this long,
    /// so it is never held unacknowledged for long (see <see cref="StageConsumer{TCommand}"/>).
    /// </summary>
    public TimeSpan SlotWait { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// On SIGTERM the worker stops taking commands and lets the running ones finish for this long; a command still
    /// running after it is not acknowledged, so RabbitMQ hands it to another worker (at-least-once, stages are idempotent).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a stage waits out an unreachable artifact store (rerunning itself) before failing as retryable.</summary>
    public TimeSpan StoreOutageTolerance { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Serve the pipeline probe's no-op stage (<c>probe.{DeviceClass}</c>) besides this worker's own stage.</summary>
    public bool ServeProbe { get; set; } = true;
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

    /// <summary>Run slots: a stage holds one from its start to its end, after its command was acknowledged.</summary>
    internal SemaphoreSlim Slots => _slots ??= new SemaphoreSlim(Math.Max(1, Options.Concurrency));
    private SemaphoreSlim? _slots;

    private readonly Dictionary<string, WorkerSpeed> _speeds = new(StringComparer.Ordinal);

    /// <summary>The measured speed on <paramref name="stage"/>, or null before its first finished run.</summary>
    public WorkerSpeed? SpeedOf(string stage)
    {
        lock (_speeds) return _speeds.GetValueOrDefault(stage);
    }

    /// <summary>Adds one finished run to the stage's moving average of seconds per unit of work.</summary>
    public void RecordRun(string stage, double runSeconds, double workUnits)
    {
        if (workUnits <= 0 || runSeconds < 0 || double.IsNaN(runSeconds)) return;
        var perUnit = runSeconds / workUnits;
        var alpha = Math.Clamp(Options.SpeedSmoothing, 0.01, 1);
        lock (_speeds)
        {
            _speeds[stage] = _speeds.GetValueOrDefault(stage) is { } old
                ? new WorkerSpeed(alpha * perUnit + (1 - alpha) * old.SecondsPerUnit, old.Unit, old.Samples + 1)
                : new WorkerSpeed(perUnit, WorkUnits.Of(stage), 1);
        }
    }
}
