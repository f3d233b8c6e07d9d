using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using TalkingFace.Gateway.Hosting;

namespace TalkingFace.Gateway.Tenancy;

/// <summary>API keys, tenant scoping and per-tenant rate limits for the job API.</summary>
public static class TenancyExtensions
{
    public const string Policy = "tenant";

    public static WebApplicationBuilder AddTenancy(this WebApplicationBuilder builder, HostingMode mode)
    {
        builder.Services.AddOptions<TenancyOptions>().Bind(builder.Configuration.GetSection(TenancyOptions.Section))
            .PostConfigure(o => o.Access ??= mode == HostingMode.Distributed ? AccessMode.ApiKeys : AccessMode.OpenLoopback);
        builder.Services.AddMemoryCache();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped<CurrentTenant>();
        builder.Services.AddScoped<TenantAdmin>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Policy, p => p.RequireClaim(TenantClaims.TenantId));
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(Policy, context =>
            {
                var options = context.RequestServices.GetRequiredService<IOptions<TenancyOptions>>().Value;
                var tenant = context.User.TenantIdOf();
                if (tenant is null) return RateLimitPartition.GetNoLimiter("anonymous"); // answered 401 by authorization
                var rate = Math.Max(1, context.User.RequestsPerSecondOf() ?? options.RequestsPerSecond);
                return RateLimitPartition.GetTokenBucketLimiter($"{tenant}:{rate}", _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = Math.Max(1, (int)Math.Ceiling(rate * options.BurstSeconds)),
                    TokensPerPeriod = rate,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    detail: $"This tenant's request rate limit is reached; retry after {retryAfter} s.").ExecuteAsync(context.HttpContext);
            };
        });
        return builder;
    }

    public static WebApplication UseTenancy(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        var access = app.Services.GetRequiredService<IOptions<TenancyOptions>>().Value.Access;
        if (access == AccessMode.OpenLoopback)
            app.Logger.LogWarning("The job API is OPEN (Tenancy:Access=OpenLoopback): no API keys, every caller is the local tenant, and only loopback clients are served");
        else
            app.Logger.LogInformation("The job API needs API keys (Tenancy:Access=ApiKeys); make one with 'talkingface keys create --tenant NAME'");
        return app;
    }

    /// <summary>Puts a group of the job API behind a tenant (API key or open loopback) and the tenant's rate limit.</summary>
    public static TBuilder RequireTenant<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(Policy).RequireRateLimiting(Policy);
}
