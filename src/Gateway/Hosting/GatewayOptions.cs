namespace TalkingFace.Gateway.Hosting;

public enum HostingMode { Standalone, Distributed }

/// <summary>Bound from the <c>Gateway</c> configuration section.</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Standalone (default): this process also hosts every worker, on the in-memory bus, a local database file and a local folder store.</summary>
    public HostingMode Mode { get; set; } = HostingMode.Standalone;

    /// <summary>Largest request body accepted on submit; bigger uploads get 413.</summary>
    public long MaxUploadBytes { get; set; } = 200L * 1024 * 1024;

    /// <summary>Most files in one batch.</summary>
    public int MaxBatchItems { get; set; } = 1000;

    /// <summary>How often <c>GET /api/jobs/{id}/events</c> looks at the job for changes.</summary>
    public TimeSpan EventStreamPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A <c>ping</c> event after this long without a change, so idle connections are not cut by proxies.</summary>
    public TimeSpan EventStreamKeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>An event stream ends after this long even if the job has not finished; EventSource reconnects.</summary>
    public TimeSpan EventStreamMaxDuration { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Job submissions handled at once; the rest wait in order (up to <see cref="SubmitQueueLimit"/>, then 503).
    /// Keeps a burst of clients from exhausting database connections or the object store's sockets.
    /// </summary>
    public int MaxConcurrentSubmits { get; set; } = 16;

    public int SubmitQueueLimit { get; set; } = 10000;
}
