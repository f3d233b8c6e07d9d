using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace TalkingFace.Gateway.Tenancy;

/// <summary>
/// How many database lookups of unknown keys each client address may cause (<see cref="TenancyOptions.KeyLookupsPerSecond"/>).
/// Asked before every lookup of a key that is not in <see cref="ApiKeyCache"/>, so a flood of made-up keys is answered
/// 429 without touching the database, while tenants whose keys are cached are not slowed at all.
/// </summary>
public sealed class KeyLookupLimiter(IOptions<TenancyOptions> options) : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address =>
        RateLimitPartition.GetTokenBucketLimiter(address, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = 2 * options.Value.KeyLookupsPerSecond,
            TokensPerPeriod = options.Value.KeyLookupsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>True when a lookup may go ahead; else false and how long to wait.</summary>
    public bool TryAcquire(IPAddress? client, out TimeSpan retryAfter)
    {
        using var lease = _limiter.AttemptAcquire(client ?? IPAddress.None);
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}
