using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using TalkingFace.Gateway.Persistence;

namespace TalkingFace.Gateway.Tenancy;

/// <summary>The caller as a tenant: its id, and its own limits when it has them.</summary>
public static class TenantClaims
{
    public const string TenantId = "tf:tenant";
    public const string TenantName = "tf:tenant-name";
    public const string RequestsPerSecond = "tf:rps";
    public const string MaxUploadBytes = "tf:max-upload";

    public static Guid? TenantIdOf(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(TenantId), out var id) ? id : null;

    public static int? RequestsPerSecondOf(this ClaimsPrincipal user) =>
        int.TryParse(user.FindFirstValue(RequestsPerSecond), CultureInfo.InvariantCulture, out var n) ? n : null;

    public static long? MaxUploadBytesOf(this ClaimsPrincipal user) =>
        long.TryParse(user.FindFirstValue(MaxUploadBytes), CultureInfo.InvariantCulture, out var n) ? n : null;
}

/// <summary>
/// Authenticates the job API. With API keys: <c>Authorization: Bearer KEY</c> or <c>X-Api-Key: KEY</c>, looked up by
/// SHA-256 (cached for <see cref="TenancyOptions.KeyCacheDuration"/>); revoked or unknown keys get 401.
/// Open mode: every loopback caller is <see cref="Tenants.Local"/>; anyone else gets 401.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<TenancyOptions> tenancy,
    IMemoryCache cache,
    IServiceScopeFactory scopes) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyHeader = "X-Api-Key";

    private sealed record CachedTenant(Guid Id, string Name, int? RequestsPerSecond, long? MaxUploadBytes);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (tenancy.Value.Access == AccessMode.OpenLoopback)
        {
            var remote = Context.Connection.RemoteIpAddress;
            // No remote address: an in-process caller (the CLI's embedded gateway, tests).
            if (remote is not null && !IPAddress.IsLoopback(remote))
                return AuthenticateResult.Fail("this gateway runs open (no API keys) and serves loopback clients only");
            return Success(new CachedTenant(Tenants.Local, "local", null, null));
        }

        var key = ReadKey();
        if (key is null) return AuthenticateResult.NoResult();
        if (!ApiKeys.LooksLikeKey(key)) return AuthenticateResult.Fail("the API key is not valid");
        var hash = ApiKeys.Hash(key);
        if (!cache.TryGetValue(("api-key", hash), out CachedTenant? tenant))
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<JobsDbContext>();
            tenant = await (from k in db.ApiKeys.AsNoTracking()
                            join t in db.Tenants.AsNoTracking() on k.TenantId equals t.Id
                            where k.Hash == hash && k.RevokedAt == null
                            select new CachedTenant(t.Id, t.Name, t.RequestsPerSecond, t.MaxUploadBytes)).FirstOrDefaultAsync(Context.RequestAborted);
            cache.Set(("api-key", hash), tenant, tenancy.Value.KeyCacheDuration);
        }
        return tenant is null ? AuthenticateResult.Fail("the API key is unknown or revoked") : Success(tenant);
    }

    private string? ReadKey()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return header["Bearer ".Length..].Trim();
        var apiKey = Request.Headers[KeyHeader].ToString().Trim();
        return apiKey.Length > 0 ? apiKey : null;
    }

    private AuthenticateResult Success(CachedTenant tenant)
    {
        List<Claim> claims = [new(TenantClaims.TenantId, tenant.Id.ToString()), new(TenantClaims.TenantName, tenant.Name)];
        if (tenant.RequestsPerSecond is { } rps) claims.Add(new(TenantClaims.RequestsPerSecond, rps.ToString(CultureInfo.InvariantCulture)));
        if (tenant.MaxUploadBytes is { } max) claims.Add(new(TenantClaims.MaxUploadBytes, max.ToString(CultureInfo.InvariantCulture)));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    /// <summary>401 as problem+json, saying why (missing, unknown or revoked key; not loopback in open mode).</summary>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        var detail = result.Failure?.Message
                     ?? $"This API needs a key: send 'Authorization: Bearer KEY' or '{KeyHeader}: KEY' (talkingface keys create).";
        await Results.Problem(detail: detail, statusCode: 401, title: "API key required").ExecuteAsync(Context);
    }
}

/// <summary>The tenant of the current request; resolved by the job API's handlers and by <see cref="Jobs.JobSubmitter"/>.</summary>
public sealed class CurrentTenant(IHttpContextAccessor http)
{
    /// <summary>The caller's tenant. Throws outside an authenticated request, so a forgotten check fails loudly instead of leaking.</summary>
    public Guid Id => http.HttpContext?.User.TenantIdOf()
                      ?? throw new InvalidOperationException("no tenant: the endpoint is not behind RequireTenant()");
}
