using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
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
/// SHA-256 (valid keys cached in <see cref="ApiKeyCache"/>); revoked or unknown keys get 401. A key not in the cache
/// costs a database lookup only within the client address's <see cref="KeyLookupLimiter"/> budget, else 429.
/// Routes marked <see cref="AcceptsJobToken"/> (a job's read routes) also take <c>?access_token=</c> with a
/// <see cref="JobTokens">read token</see> for that job.
/// Open mode: every loopback caller is <see cref="Tenants.Local"/>; anyone else gets 401.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<TenancyOptions> tenancy,
    ApiKeyCache cache,
    KeyLookupLimiter lookups,
    IServiceScopeFactory scopes) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyHeader = "X-Api-Key";
    private const string ThrottledItem = "tf:key-lookups-throttled";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (tenancy.Value.Access == AccessMode.OpenLoopback)
        {
            var remote = Context.Connection.RemoteIpAddress;
            // No remote address: an in-process caller (the CLI's embedded gateway, tests).
            if (remote is not null && !IPAddress.IsLoopback(remote))
                return AuthenticateResult.Fail("this gateway runs open (no API keys) and serves loopback clients only");
            return Success(new KnownKey(Guid.Empty, "", Tenants.Local, "local", null, null));
        }

        if (ReadJobToken() is { } token) return await AuthenticateJobTokenAsync(token);
        var key = ReadKey();
        if (key is null) return AuthenticateResult.NoResult();
        if (!ApiKeys.LooksLikeKey(key)) return AuthenticateResult.Fail("the API key is not valid");
        var hash = ApiKeys.Hash(key);
        if (cache.TryGetByHash(hash, out var known)) return Success(known!);
        if (Throttled() is { } throttled) return throttled;
        known = await LookUpAsync(k => k.Hash == hash);
        return known is null ? AuthenticateResult.Fail("the API key is unknown or revoked") : Success(known);
    }

    private async Task<AuthenticateResult> AuthenticateJobTokenAsync(string token)
    {
        var claims = JobTokens.Read(token);
        if (claims is null) return AuthenticateResult.Fail("the job token is not valid");
        if (!Guid.TryParse(Request.RouteValues["id"]?.ToString(), out var jobId) || jobId != claims.JobId)
            return AuthenticateResult.Fail("the job token is for another job");
        if (claims.ExpiresAt < DateTimeOffset.UtcNow)
            return AuthenticateResult.Fail("the job token has expired; ask POST /api/jobs/{id}/read-token for a new one");
        if (!cache.TryGetById(claims.KeyId, out var known))
        {
            if (Throttled() is { } throttled) return throttled;
            known = await LookUpAsync(k => k.Id == claims.KeyId);
        }
        return known is not null && JobTokens.Verify(token, known)
            ? Success(known)
            : AuthenticateResult.Fail("the job token is not valid, or its API key was revoked");
    }

    /// <summary>A failed result when this client address has used up its lookups of uncached keys; null when it may look one up.</summary>
    private AuthenticateResult? Throttled()
    {
        if (lookups.TryAcquire(Context.Connection.RemoteIpAddress, out var retryAfter)) return null;
        Context.Items[ThrottledItem] = retryAfter;
        return AuthenticateResult.Fail("too many unknown API keys from this address");
    }

    private async Task<KnownKey?> LookUpAsync(System.Linq.Expressions.Expression<Func<ApiKeyRecord, bool>> which)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<JobsDbContext>();
        var known = await (from k in db.ApiKeys.AsNoTracking().Where(which)
                           join t in db.Tenants.AsNoTracking() on k.TenantId equals t.Id
                           where k.RevokedAt == null
                           select new KnownKey(k.Id, k.Hash, t.Id, t.Name, t.RequestsPerSecond, t.MaxUploadBytes)).FirstOrDefaultAsync(Context.RequestAborted);
        if (known is not null) cache.Add(known); // only valid keys are remembered
        return known;
    }

    private string? ReadKey()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return header["Bearer ".Length..].Trim();
        var apiKey = Request.Headers[KeyHeader].ToString().Trim();
        return apiKey.Length > 0 ? apiKey : null;
    }

    /// <summary>The <c>access_token</c> query value, only on routes that accept a job token.</summary>
    private string? ReadJobToken() =>
        Context.GetEndpoint()?.Metadata.GetMetadata<AcceptsJobToken>() is not null &&
        Request.Query[JobTokens.QueryName].ToString() is { Length: > 0 } token ? token : null;

    /// <summary>The API key this request was authenticated with; null in open loopback mode.</summary>
    public static KnownKey? KeyOf(HttpContext context) =>
        context.Items[typeof(KnownKey)] is KnownKey { KeyId: var id } key && id != Guid.Empty ? key : null;

    private AuthenticateResult Success(KnownKey key)
    {
        Context.Items[typeof(KnownKey)] = key;
        List<Claim> claims = [new(TenantClaims.TenantId, key.TenantId.ToString()), new(TenantClaims.TenantName, key.TenantName)];
        if (key.RequestsPerSecond is { } rps) claims.Add(new(TenantClaims.RequestsPerSecond, rps.ToString(CultureInfo.InvariantCulture)));
        if (key.MaxUploadBytes is { } max) claims.Add(new(TenantClaims.MaxUploadBytes, max.ToString(CultureInfo.InvariantCulture)));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    /// <summary>401 as problem+json, saying why (missing, unknown or revoked key; not loopback in open mode); 429 when lookups were throttled.</summary>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items[ThrottledItem] is TimeSpan wait)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await Results.Problem(statusCode: 429, title: "Too many requests",
                detail: $"Too many unknown API keys from this address; retry after {seconds} s.").ExecuteAsync(Context);
            return;
        }
        var result = await HandleAuthenticateOnceSafeAsync();
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        var detail = result.Failure?.Message
                     ?? $"This API needs a key: send 'Authorization: Bearer KEY' or '{KeyHeader}: KEY' (talkingface keys create).";
        await Results.Problem(detail: detail, statusCode: 401, title: "API key required").ExecuteAsync(Context);
    }
}

/// <summary>Endpoint metadata: this route (a read of one job) also takes that job's <see cref="JobTokens">read token</see> in <c>?access_token=</c>.</summary>
public sealed class AcceptsJobToken
{
    public static readonly AcceptsJobToken Instance = new();
}

/// <summary>The tenant of the current request; resolved by the job API's handlers and by <see cref="Jobs.JobSubmitter"/>.</summary>
public sealed class CurrentTenant(IHttpContextAccessor http)
{
    /// <summary>The caller's tenant. Throws outside an authenticated request, so a forgotten check fails loudly instead of leaking.</summary>
    public Guid Id => http.HttpContext?.User.TenantIdOf()
                      ?? throw new InvalidOperationException("no tenant: the endpoint is not behind RequireTenant()");
}
