using System.ComponentModel.DataAnnotations;

namespace TalkingFace.Gateway.Tenancy;

public enum AccessMode
{
    /// <summary>Every request to the job API needs an API key (<c>Authorization: Bearer KEY</c> or <c>X-Api-Key</c>); the distributed default.</summary>
    ApiKeys,
    /// <summary>No keys: every request is the local tenant, and only loopback clients are served; the standalone default.</summary>
    OpenLoopback,
}

/// <summary>Bound from the <c>Tenancy</c> configuration section; validated at start.</summary>
public sealed class TenancyOptions
{
    public const string Section = "Tenancy";

    /// <summary>Null: <see cref="AccessMode.ApiKeys"/> in distributed mode, <see cref="AccessMode.OpenLoopback"/> standalone.</summary>
    public AccessMode? Access { get; set; }

    /// <summary>Default per-tenant rate of job API requests (token bucket refill per second); a tenant's own limit overrides it.</summary>
    [Range(1, 1_000_000)]
    public int RequestsPerSecond { get; set; } = 200;

    /// <summary>Bucket size as a multiple of the rate: how big a burst is allowed after a quiet spell.</summary>
    [Range(0.1, 3600)]
    public double BurstSeconds { get; set; } = 2;

    /// <summary>How long a checked key is trusted before the database is asked again (revocation takes at most this long).</summary>
    public TimeSpan KeyCacheDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most keys the gateway remembers at once (only valid keys are remembered; the oldest go first beyond this).</summary>
    [Range(1, 10_000_000)]
    public int KeyCacheEntries { get; set; } = 10_000;

    /// <summary>
    /// Database lookups of keys not in the cache, per client address and second (a token bucket, burst twice this).
    /// Beyond it a caller gets 429 before any lookup: a flood of made-up keys costs neither queries nor cache entries.
    /// </summary>
    [Range(1, 100_000)]
    public int KeyLookupsPerSecond { get; set; } = 20;

    /// <summary>Requests per client address and second for callers without a valid key (public routes and 401s), burst twice this.</summary>
    [Range(1, 1_000_000)]
    public int AnonymousRequestsPerSecond { get; set; } = 50;

    /// <summary>
    /// How long a job read token (<c>POST /api/jobs/{id}/read-token</c>) stays valid: the page's event stream, preview
    /// video and download links use it, so about as long as a page stays open on a job (like a presigned URL's lifetime).
    /// </summary>
    public TimeSpan JobTokenLifetime { get; set; } = TimeSpan.FromHours(1);
}
