namespace TalkingFace.Gateway.Retention;

/// <summary>Bound from the <c>Retention</c> configuration section.</summary>
public sealed class RetentionOptions
{
    public const string Section = "Retention";

    /// <summary>How long a finished job (its record, stages, artifacts and their objects) is kept; null or zero keeps everything.</summary>
    public TimeSpan? JobTimeToLive { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often expired jobs are looked for.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Most jobs removed per sweep (the rest wait for the next one).</summary>
    public int BatchSize { get; set; } = 200;
}
