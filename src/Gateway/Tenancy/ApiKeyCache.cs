using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace TalkingFace.Gateway.Tenancy;

/// <summary>A key the gateway has checked: its record's id, hash, and the tenant it belongs to with that tenant's limits.</summary>
public sealed record KnownKey(Guid KeyId, string Hash, Guid TenantId, string TenantName, int? RequestsPerSecond, long? MaxUploadBytes);

/// <summary>
/// The valid API keys the gateway has looked up recently, by hash and by key id (stream tokens name the key id).
/// Bounded: at most <see cref="TenancyOptions.KeyCacheEntries"/> keys, each for <see cref="TenancyOptions.KeyCacheDuration"/>;
/// unknown and revoked keys are never stored, so made-up keys cannot fill it.
/// </summary>
public sealed class ApiKeyCache : IDisposable
{
    private readonly MemoryCache _cache;
    private readonly TimeSpan _duration;

    public ApiKeyCache(IOptions<TenancyOptions> options)
    {
        // Two entries per key (by hash and by id), so twice the key count.
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = 2L * options.Value.KeyCacheEntries });
        _duration = options.Value.KeyCacheDuration;
    }

    /// <summary>Entries held now (two per key).</summary>
    public long Count => _cache.Count;

    public bool TryGetByHash(string hash, out KnownKey? key) => _cache.TryGetValue(("hash", hash), out key);

    public bool TryGetById(Guid id, out KnownKey? key) => _cache.TryGetValue(("id", id), out key);

    public void Add(KnownKey key)
    {
        if (_duration <= TimeSpan.Zero) return; // Tenancy:KeyCacheDuration 0: every request asks the database
        var entry = new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = _duration };
        _cache.Set(("hash", key.Hash), key, entry);
        _cache.Set(("id", key.KeyId), key, entry);
    }

    public void Dispose() => _cache.Dispose();
}
