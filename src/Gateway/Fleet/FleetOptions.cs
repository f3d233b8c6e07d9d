namespace TalkingFace.Gateway.Fleet;

/// <summary>Bound from the <c>Fleet</c> configuration section: worker liveness and what the scheduler assumes.</summary>
public sealed class FleetOptions
{
    public const string Section = "Fleet";

    /// <summary>A worker is dead after this many heartbeat intervals (its own, as it announces) without one.</summary>
    public int MissedHeartbeats { get; set; } = 3;

    /// <summary>Seconds per unit of work assumed for a class none of whose live workers has measured its speed yet, by class.</summary>
    public Dictionary<string, double> AssumedSecondsPerUnit { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Seconds per unit of work assumed when a class has neither a measurement nor an entry above.</summary>
    public double DefaultSecondsPerUnit { get; set; } = 0.05;

    /// <summary>Seconds of audio assumed for a job whose length could not be read at submit (not a WAV).</summary>
    public double DefaultAudioSeconds { get; set; } = 5;

    /// <summary>A stage waiting for a class with no live worker fails after this long (if still no worker is alive for it).</summary>
    public TimeSpan NoWorkerDeadline { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// After a gateway starts, its in-memory registry has not heard every worker yet: for this long the sweeper neither
    /// marks stages waiting nor fails them for want of a worker (longer than the workers' heartbeat interval).
    /// </summary>
    public TimeSpan RegistryWarmUp { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How old the backlog the scheduler places a stage by may be: it is read from the database at most this often and
    /// kept current in between with this gateway's own dispatches. Zero reads it for every dispatch.
    /// </summary>
    public TimeSpan SchedulerBacklogRefresh { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the fleet gauges (workers up/busy, speed, backlog) are refreshed from the registry and database.</summary>
    public TimeSpan MetricsInterval { get; set; } = TimeSpan.FromSeconds(5);
}
