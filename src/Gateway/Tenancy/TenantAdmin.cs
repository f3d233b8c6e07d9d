using Microsoft.EntityFrameworkCore;
using TalkingFace.Gateway.Persistence;

namespace TalkingFace.Gateway.Tenancy;

public sealed record CreatedKey(Guid TenantId, string TenantName, Guid KeyId, string Key);

public sealed record KeyListing(Guid KeyId, string Prefix, string? Name, Guid TenantId, string TenantName, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>Tenants and their keys: what the CLI's <c>keys</c> commands (and the tests) use, straight on the database.</summary>
public sealed class TenantAdmin(JobsDbContext db)
{
    /// <summary>A new key for the tenant <paramref name="tenantName"/>, creating the tenant if it does not exist yet.</summary>
    public async Task<CreatedKey> CreateKeyAsync(string tenantName, string? keyName = null, int? requestsPerSecond = null, long? maxUploadBytes = null, CancellationToken ct = default)
    {
        try
        {
            return await TryCreateKeyAsync(tenantName, keyName, requestsPerSecond, maxUploadBytes, ct);
        }
        catch (DbUpdateException)
        {
            db.ChangeTracker.Clear(); // someone made the same new tenant at the same moment: use theirs
            return await TryCreateKeyAsync(tenantName, keyName, requestsPerSecond, maxUploadBytes, ct);
        }
    }

    private async Task<CreatedKey> TryCreateKeyAsync(string tenantName, string? keyName, int? requestsPerSecond, long? maxUploadBytes, CancellationToken ct)
    {
        tenantName = tenantName.Trim();
        if (tenantName.Length is 0 or > 100) throw new ArgumentException("a tenant name has 1 to 100 characters", nameof(tenantName));
        var tenant = await db.Tenants.FirstOrDefaultAsync(t => t.Name == tenantName, ct);
        if (tenant is null)
        {
            tenant = new TenantRecord { Id = Guid.NewGuid(), Name = tenantName, CreatedAt = DateTimeOffset.UtcNow };
            db.Tenants.Add(tenant);
        }
        if (requestsPerSecond is not null) tenant.RequestsPerSecond = requestsPerSecond;
        if (maxUploadBytes is not null) tenant.MaxUploadBytes = maxUploadBytes;
        var key = ApiKeys.NewKey();
        var record = new ApiKeyRecord
        {
            Id = Guid.NewGuid(),
            TenantId = tenant.Id,
            Prefix = key[..ApiKeys.ShownPrefixLength],
            Hash = ApiKeys.Hash(key),
            Name = keyName,
            CreatedAt = DateTimeOffset.UtcNow,
        };
        db.ApiKeys.Add(record);
        await db.SaveChangesAsync(ct);
        return new CreatedKey(tenant.Id, tenant.Name, record.Id, key);
    }

    public async Task<IReadOnlyList<KeyListing>> ListAsync(CancellationToken ct = default)
    {
        var keys = await db.ApiKeys.AsNoTracking().ToListAsync(ct);
        var tenants = await db.Tenants.AsNoTracking().ToDictionaryAsync(t => t.Id, t => t.Name, ct);
        return [.. keys.OrderBy(k => tenants.GetValueOrDefault(k.TenantId)).ThenBy(k => k.CreatedAt)
            .Select(k => new KeyListing(k.Id, k.Prefix, k.Name, k.TenantId, tenants.GetValueOrDefault(k.TenantId) ?? "?", k.CreatedAt, k.RevokedAt))];
    }

    /// <summary>Revokes a key by id or by its shown prefix; false if there is no such key.</summary>
    public async Task<bool> RevokeAsync(string idOrPrefix, CancellationToken ct = default)
    {
        var matches = Guid.TryParse(idOrPrefix, out var id)
            ? await db.ApiKeys.Where(k => k.Id == id).ToListAsync(ct)
            : await db.ApiKeys.Where(k => k.Prefix == idOrPrefix).ToListAsync(ct);
        if (matches.Count != 1) return false;
        matches[0].RevokedAt ??= DateTimeOffset.UtcNow;
        await db.SaveChangesAsync(ct);
        return true;
    }
}
