using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Tenancy;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Api;

/// <summary>
/// Every route of the gateway, read from its <see cref="EndpointDataSource"/>, so a route added later is checked
/// without anyone remembering to: each <c>/api</c> route is either on the explicit public list below or behind the
/// tenant group; on the real distributed stack each tenant route answers 401 to no key and to a revoked key, 404 to
/// another tenant for anything with an id, and never shows another tenant's ids in a listing.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class AllRoutesTests(DistributedServices services)
{
    /// <summary>The public list: routes anyone may call (catalogues that belong to no tenant).</summary>
    private static readonly HashSet<string> PublicApi =
    [
        "GET /api/gallery/", "GET /api/gallery/{id}/thumbnail", "GET /api/gallery/{id}/image", "GET /api/models/",
    ];

    /// <summary>Open routes outside /api: probes, metrics, the API description.</summary>
    private static readonly string[] OperationalPrefixes = ["/health/", "/metrics", "/openapi/", "/scalar"];

    private sealed record Route(string Method, string Pattern, bool Public, bool TenantPolicy, bool TenantRateLimit)
    {
        public override string ToString() => $"{Method} {Pattern}";
    }

    private static List<Route> Routes(IServiceProvider services) =>
    [
        .. services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(method => new Route(
                method,
                "/" + (e.RoutePattern.RawText ?? "").TrimStart('/'),
                e.Metadata.GetMetadata<IAllowAnonymous>() is not null,
                e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(a => a.Policy == TenancyExtensions.Policy),
                e.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == TenancyExtensions.Policy))),
    ];

    private static string Normalize(string pattern) => System.Text.RegularExpressions.Regex.Replace(pattern, @"\{(\w+)(:[^}]*)?\}", "{$1}");

    [Fact]
    public async Task Every_api_route_is_on_the_public_list_or_behind_the_tenant_group()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var routes = Routes(pipeline.GatewayServices);
        var api = routes.Where(r => r.Pattern.StartsWith("/api/", StringComparison.Ordinal)).ToList();
        Assert.True(api.Count >= 15, $"only {api.Count} /api routes found: {string.Join(", ", api)}");
        foreach (var route in api)
        {
            var name = $"{route.Method} {Normalize(route.Pattern)}";
            if (PublicApi.Contains(name))
                Assert.True(route.Public && !route.TenantPolicy, $"{name} is on the public list but not in the public group");
            else
                Assert.True(!route.Public && route.TenantPolicy && route.TenantRateLimit,
                    $"{name} is not on the public list, so it must be in the tenant group (tenant policy and rate limit, never anonymous)");
        }
        Assert.All(PublicApi, name => Assert.Contains(api, r => $"{r.Method} {Normalize(r.Pattern)}" == name));
        // Outside /api only the operational routes are open; anything else falls back to needing a tenant.
        foreach (var route in routes.Where(r => r.Public && !r.Pattern.StartsWith("/api/", StringComparison.Ordinal)))
            Assert.True(OperationalPrefixes.Any(p => route.Pattern.StartsWith(p, StringComparison.Ordinal)), $"{route} is open but not operational");
    }

    [Fact]
    public async Task Every_tenant_route_refuses_no_key_a_revoked_key_and_another_tenant()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Tenancy:KeyCacheDuration"] = "00:00:00", // a revoked key is refused at once
            ["Tenancy:KeyLookupsPerSecond"] = "100000",
            ["Tenancy:AnonymousRequestsPerSecond"] = "100000",
        });
        var alice = pipeline.GatewayWithKey((await pipeline.CreateTenantKeyAsync("alice")).Key);
        var bob = pipeline.GatewayWithKey((await pipeline.CreateTenantKeyAsync("bob")).Key);
        var revokedKey = await pipeline.CreateTenantKeyAsync("alice");
        await using (var scope = pipeline.GatewayServices.CreateAsyncScope())
            Assert.True(await scope.ServiceProvider.GetRequiredService<TenantAdmin>().RevokeAsync(revokedKey.KeyId.ToString()));
        var revoked = pipeline.GatewayWithKey(revokedKey.Key);
        var anonymous = pipeline.AnonymousGateway();

        // Alice's data: a job (queued, no worker runs) with its input artifact, and a batch.
        using var submitted = await alice.SubmitTalkingFaceAsync(Clip(), "alice.wav");
        var job = await submitted.ReadJobAsync(HttpStatusCode.Accepted);
        using var batchForm = GatewayApi.Form([("files", "a.wav", Clip())]);
        using var batchResponse = await alice.PostAsync("/api/batches", batchForm);
        Assert.Equal(HttpStatusCode.Accepted, batchResponse.StatusCode);
        var batchId = JsonDocument.Parse(await batchResponse.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();

        var tenantRoutes = Routes(pipeline.GatewayServices)
            .Where(r => r.Pattern.StartsWith("/api/", StringComparison.Ordinal) && !PublicApi.Contains($"{r.Method} {Normalize(r.Pattern)}")).ToList();
        foreach (var route in tenantRoutes)
        {
            var url = Normalize(route.Pattern)
                .Replace("{id}", route.Pattern.StartsWith("/api/batches", StringComparison.Ordinal) ? batchId.ToString() : job.Id.ToString())
                .Replace("{name}", ArtifactNames.InputAudio);
            Assert.DoesNotContain("{", url); // a new route parameter: teach this test what to put there
            foreach (var (who, client) in new[] { ("no key", anonymous), ("a revoked key", revoked) })
            {
                using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(route.Method), url));
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{route} with {who}: {(int)response.StatusCode}");
            }
            using var asBob = await bob.SendAsync(new HttpRequestMessage(new HttpMethod(route.Method), url));
            var body = await asBob.Content.ReadAsStringAsync();
            if (route.Pattern.Contains('{'))
                Assert.True(asBob.StatusCode == HttpStatusCode.NotFound, $"{route} as another tenant: {(int)asBob.StatusCode} {body}");
            else if (route.Method == "GET")
                Assert.True(!body.Contains(job.Id.ToString(), StringComparison.Ordinal) && !body.Contains(batchId.ToString(), StringComparison.Ordinal),
                    $"{route} as another tenant shows alice's ids: {body}");
        }
        // What alice sees of her own, so the 404s above are about bob, not about broken URLs.
        using (var own = await alice.GetAsync($"/api/jobs/{job.Id}")) Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        using (var own = await alice.GetAsync($"/api/batches/{batchId}")) Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        using (var list = await alice.GetAsync("/api/batches")) Assert.Contains(batchId.ToString(), await list.Content.ReadAsStringAsync());
    }

    private static byte[] Clip() =>
        new WavBuilder { Data = WavBuilder.Pcm16([.. Enumerable.Range(0, 1600).Select(i => (short)(i % 2 == 0 ? 1000 : -1000))]) }.Build();
}
