using TalkingFace.Contracts;

namespace TalkingFace.Gateway.Pipeline;

/// <summary>Bound from the <c>Pipeline</c> configuration section: how jobs are dispatched, retried and timed out.</summary>
public sealed class PipelineOptions
{
    public const string Section = "Pipeline";

    /// <summary>Device classes jobs may ask for (besides <c>auto</c>).</summary>
    /// <remarks>Null means the default set (cpu, rtx, jetson, apple); the binder would append to a pre-filled array.</remarks>
    public string[]? DeviceClasses { get; set; }

    public IReadOnlyList<string> KnownDeviceClasses => DeviceClasses is { Length: > 0 } configured ? configured : Contracts.DeviceClasses.Defaults;

    /// <summary>Where <c>auto</c> goes until fleet-aware dispatch picks per job.</summary>
    public string DefaultDeviceClass { get; set; } = Contracts.DeviceClasses.Cpu;

    /// <summary>Attempts per stage (the first included) before the job fails.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Wait before attempt 2, 3, ...; the last value repeats (default 2 s, 10 s, 30 s). Kept in the database: no broker plugin needed.</summary>
    /// <remarks>Null by default because the configuration binder appends to a pre-filled array instead of replacing it.</remarks>
    public TimeSpan[]? RetryBackoff { get; set; }

    private static readonly TimeSpan[] DefaultRetryBackoff = [TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)];

    /// <summary>A queued stage that no worker started within this time is re-sent or, out of attempts, failed.</summary>
    public TimeSpan QueueDeadline { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>A running stage whose worker has not reported for this long is presumed dead.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>No stage attempt may run longer than this.</summary>
    public TimeSpan RunDeadline { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How often the sweeper looks for due, stale and overdue stages.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A worker not heard from for this long is shown as dead in the fleet.</summary>
    public TimeSpan WorkerTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>A worker not heard from for this long is dropped from the fleet registry.</summary>
    public TimeSpan ForgetWorkersAfter { get; set; } = TimeSpan.FromHours(1);

    public TimeSpan BackoffBefore(int attempt)
    {
        var backoff = RetryBackoff is { Length: > 0 } configured ? configured : DefaultRetryBackoff;
        return backoff[Math.Clamp(attempt - 2, 0, backoff.Length - 1)];
    }
}
