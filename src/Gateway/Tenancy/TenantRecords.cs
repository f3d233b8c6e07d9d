namespace TalkingFace.Gateway.Tenancy;

/// <summary>
/// Whoever owns jobs, batches and artifacts. Every query of the job API is filtered by the caller's tenant;
/// <see cref="Tenants.Local"/> owns everything in open (standalone, loopback-only) mode.
/// </summary>
public sealed class TenantRecord
{
    public Guid Id { get; set; }
    public required string Name { get; set; }
    /// <summary>Requests per second this tenant may make on the job API; null: <c>Tenancy:RequestsPerSecond</c>.</summary>
    public int? RequestsPerSecond { get; set; }
    /// <summary>Largest upload (request body) this tenant may send; null: <c>Gateway:MaxUploadBytes</c>. Never above it.</summary>
    public long? MaxUploadBytes { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>An API key: only its SHA-256 is stored; the key itself is shown once, when it is made.</summary>
public sealed class ApiKeyRecord
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    /// <summary>The first characters of the key, to tell keys apart in listings (not enough to use it).</summary>
    public required string Prefix { get; set; }
    /// <summary>Lower-case hex SHA-256 of the whole key.</summary>
    public required string Hash { get; set; }
    public string? Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

public static class Tenants
{
    /// <summary>The tenant of open mode (and of every record made before tenants existed).</summary>
    public static readonly Guid Local = Guid.Empty;
}
