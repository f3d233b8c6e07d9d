namespace TalkingFace.Gateway.Tenancy;

/// <summary>
/// The two groups every <c>/api</c> route lives in. <see cref="MapTenantApi"/>: the caller must be a tenant (an API key,
/// or loopback in open mode) and meets its tenant's rate limit; handlers scope every query to that tenant.
/// <see cref="MapPublicApi"/>: the explicit public list (catalogues that belong to no tenant), limited per client
/// address. A route mapped anywhere else still needs a tenant (the authorization fallback policy), and
/// <c>Api/AllRoutesTests</c> checks every route of the app against both lists.
/// </summary>
public static class ApiGroups
{
    public const string Prefix = "/api";

    public static RouteGroupBuilder MapTenantApi(this IEndpointRouteBuilder app) =>
        app.MapGroup(Prefix).RequireTenant();

    public static RouteGroupBuilder MapPublicApi(this IEndpointRouteBuilder app) =>
        app.MapGroup(Prefix).AllowAnonymous().WithMetadata(PublicApi.Instance).RequireRateLimiting(TenancyExtensions.PublicPolicy);
}

/// <summary>Endpoint metadata of the routes on the public list (<see cref="ApiGroups.MapPublicApi"/>).</summary>
public sealed class PublicApi
{
    public static readonly PublicApi Instance = new();
}
