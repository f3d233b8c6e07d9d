namespace TalkingFace.Gateway.Tenancy;

public enum AccessMode
{
    /// <summary>Every request to the job API needs an API key (<c>Authorization: Bearer KEY</c> or <c>X-Api-Key</c>); the distributed default.</summary>
    ApiKeys,
    /// <summary>No keys: every request is the local tenant, and only loopback clients are served; the standalone default.</summary>
    OpenLoopback,
}

/// <summary>Bound from the <c>Tenancy</c> configuration section.</summary>
public sealed class TenancyOptions
{
    public const string Section = "Tenancy";

    /// <summary>Null: <see cref="AccessMode.ApiKeys"/> in distributed mode, <see cref="AccessMode.OpenLoopback"/> standalone.</summary>
    public AccessMode? Access { get; set; }

    /// <summary>Default per-tenant rate of job API requests (token bucket refill per second); a tenant's own limit overrides it.</summary>
    public int RequestsPerSecond { get; set; } = 200;

    /// <summary>Bucket size as a multiple of the rate: how big a burst is allowed after a quiet spell.</summary>
    public double BurstSeconds { get; set; } = 2;

    /// <summary>How long a checked key is trusted before the database is asked again (revocation takes at most this long).</summary>
    public TimeSpan KeyCacheDuration { get; set; } = TimeSpan.FromSeconds(10);
}
