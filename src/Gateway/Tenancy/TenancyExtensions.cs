using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using TalkingFace.Gateway.Hosting;

namespace TalkingFace.Gateway.Tenancy;

/// <summary>API keys, tenant scoping and rate limits for the API.</summary>
public static class TenancyExtensions
{
    public const string Policy = "tenant";

    /// <summary>Rate-limiter policy of the public routes: per client address.</summary>
    public const string PublicPolicy = "public";

    public static WebApplicationBuilder AddTenancy(this WebApplicationBuilder builder, HostingMode mode)
    {
        builder.Services.AddOptions<TenancyOptions>().Bind(builder.Configuration.GetSection(TenancyOptions.Section))
            .PostConfigure(o => o.Access ??= mode == HostingMode.Distributed ? AccessMode.ApiKeys : AccessMode.OpenLoopback)
            .ValidateDataAnnotations()
            .Validate(o => o.KeyCacheDuration >= TimeSpan.Zero && o.JobTokenLifetime > TimeSpan.Zero,
                "Tenancy:KeyCacheDuration must not be negative and Tenancy:JobTokenLifetime must be positive")
            .ValidateOnStart();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSingleton<ApiKeyCache>();
        builder.Services.AddSingleton<KeyLookupLimiter>();
        builder.Services.AddScoped<CurrentTenant>();
        builder.Services.AddScoped<TenantAdmin>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        var tenant = new AuthorizationPolicyBuilder().RequireClaim(TenantClaims.TenantId).Build();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Policy, tenant)
            // A route mapped outside ApiGroups' two groups still needs a tenant: forgetting fails closed.
            .SetFallbackPolicy(tenant);
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(Policy, context =>
            {
                var options = context.RequestServices.GetRequiredService<IOptions<TenancyOptions>>().Value;
                if (context.User.TenantIdOf() is not { } id) return PerAddress(context, options); // then answered 401 by authorization
                var rate = Math.Max(1, context.User.RequestsPerSecondOf() ?? options.RequestsPerSecond);
                return RateLimitPartition.GetTokenBucketLimiter($"{id}:{rate}", _ => Bucket(rate, options.BurstSeconds));
            });
            limiter.AddPolicy(PublicPolicy, context => PerAddress(context, context.RequestServices.GetRequiredService<IOptions<TenancyOptions>>().Value));
            limiter.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                var who = context.HttpContext.User.TenantIdOf() is null ? "This address's request rate limit (callers without a valid key)" : "This tenant's request rate limit";
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    detail: $"{who} is reached; retry after {retryAfter} s.").ExecuteAsync(context.HttpContext);
            };
        });
        return builder;
    }

    /// <summary>One token bucket per client address, for callers who are not (yet) a tenant.</summary>
    private static RateLimitPartition<string> PerAddress(HttpContext context, TenancyOptions options) =>
        RateLimitPartition.GetTokenBucketLimiter($"address:{context.Connection.RemoteIpAddress ?? IPAddress.None}",
            _ => Bucket(options.AnonymousRequestsPerSecond, 2));

    private static TokenBucketRateLimiterOptions Bucket(int rate, double burstSeconds) => new()
    {
        TokenLimit = Math.Max(1, (int)Math.Ceiling(rate * burstSeconds)),
        TokensPerPeriod = rate,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    /// <summary>
    /// Authentication, then the rate limits, then authorization: a caller without a valid key meets its address's
    /// limit before it is told 401, and an unknown key's database lookup is itself limited (<see cref="KeyLookupLimiter"/>).
    /// </summary>
    public static WebApplication UseTenancy(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        var access = app.Services.GetRequiredService<IOptions<TenancyOptions>>().Value.Access;
        if (access == AccessMode.OpenLoopback)
            app.Logger.LogInformation("The job API is open (Tenancy:Access=OpenLoopback): no API keys, every caller is the local tenant, and only loopback clients are served");
        else
            app.Logger.LogInformation("The job API needs API keys (Tenancy:Access=ApiKeys); make one with 'talkingface keys create --tenant NAME'");
        return app;
    }

    /// <summary>Puts a group of the API behind a tenant (API key or open loopback) and the tenant's rate limit.</summary>
    public static TBuilder RequireTenant<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(Policy).RequireRateLimiting(Policy);
}
