using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Gateway.Tenancy;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Api;

/// <summary>
/// API keys and tenants on the distributed gateway (real PostgreSQL, RabbitMQ, S3): no key, a wrong or revoked key
/// is 401; one tenant never sees, lists, cancels or downloads another's jobs, batches or artifacts (404, as if they
/// did not exist); keys are stored hashed; per-tenant rate and upload limits answer 429 and 413.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class TenantIsolationTests(DistributedServices services)
{
    private static byte[] Clip() =>
        new WavBuilder { Data = WavBuilder.Pcm16([.. Enumerable.Range(0, 1600).Select(i => (short)(i % 2 == 0 ? 1000 : -1000))]) }.Build();

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)status, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task No_key_an_unknown_key_and_a_revoked_key_are_401_while_operational_endpoints_stay_open()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var anonymous = pipeline.AnonymousGateway();
        using (var response = await anonymous.GetAsync("/api/jobs"))
        {
            await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
        using (var response = await anonymous.SubmitTalkingFaceAsync(Clip()))
            await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        using (var response = await pipeline.GatewayWithKey(ApiKeys.NewKey()).GetAsync("/api/jobs"))
            await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        using (var response = await pipeline.GatewayWithKey("'; DROP TABLE api_keys; --").GetAsync("/api/jobs"))
            await AssertProblemAsync(response, HttpStatusCode.Unauthorized);

        // The same key is accepted through X-Api-Key as well as Authorization: Bearer.
        var key = await pipeline.CreateTenantKeyAsync("acme");
        var viaHeader = pipeline.AnonymousGateway();
        viaHeader.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.KeyHeader, key.Key);
        using (var response = await viaHeader.GetAsync("/api/jobs")) Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // Revoked: refused once the gateway's key cache (Tenancy:KeyCacheDuration) has let go of it.
        await using (var scope = pipeline.GatewayServices.CreateAsyncScope())
            Assert.True(await scope.ServiceProvider.GetRequiredService<TenantAdmin>().RevokeAsync(key.KeyId.ToString()));
        var revokedDeadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode status;
        do
        {
            await Task.Delay(250);
            using var response = await viaHeader.GetAsync("/api/jobs");
            status = response.StatusCode;
        }
        while (status != HttpStatusCode.Unauthorized && DateTime.UtcNow < revokedDeadline);
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        // Tenant-independent: liveness, readiness, metrics, fleet.
        foreach (var path in new[] { "/health/live", "/metrics", "/api/fleet/workers" })
        {
            using var response = await anonymous.GetAsync(path);
            Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task Keys_are_stored_as_sha256_only()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var key = await pipeline.CreateTenantKeyAsync("hashed");
        await using var db = pipeline.Db();
        var record = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleAsync(db.ApiKeys, k => k.Id == key.KeyId);
        Assert.Equal(ApiKeys.Hash(key.Key), record.Hash);
        Assert.DoesNotContain(key.Key, record.Hash + record.Prefix + record.Name);
        Assert.True(record.Prefix.Length < key.Key.Length / 3);
    }

    [Fact]
    public async Task One_tenant_cannot_read_list_cancel_or_download_anothers_jobs_or_batches()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var alice = pipeline.GatewayWithKey((await pipeline.CreateTenantKeyAsync("alice")).Key);
        var bob = pipeline.GatewayWithKey((await pipeline.CreateTenantKeyAsync("bob")).Key);

        // No worker runs: Alice's job stays queued, with its input stored as an artifact.
        using var submitted = await alice.SubmitTalkingFaceAsync(Clip(), "alice.wav", idempotencyKey: "shared-key");
        var job = await submitted.ReadJobAsync(HttpStatusCode.Accepted);
        using var batchForm = GatewayApi.Form([("files", "a.wav", Clip()), ("files", "b.wav", Clip())]);
        using var batchResponse = await alice.PostAsync("/api/batches", batchForm);
        Assert.Equal(HttpStatusCode.Accepted, batchResponse.StatusCode);
        var batchId = JsonDocument.Parse(await batchResponse.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();

        // Bob: every way in is 404 (not 403: he must not learn that the id exists).
        foreach (var (method, url) in new[]
                 {
                     (HttpMethod.Get, $"/api/jobs/{job.Id}"),
                     (HttpMethod.Get, $"/api/jobs/{job.Id}/artifacts/{ArtifactNames.InputAudio}"),
                     (HttpMethod.Get, $"/api/jobs/{job.Id}/artifacts/{ArtifactNames.InputAudio}?redirect=false"),
                     (HttpMethod.Post, $"/api/jobs/{job.Id}/cancel"),
                     (HttpMethod.Get, $"/api/batches/{batchId}"),
                 })
        {
            using var response = await bob.SendAsync(new HttpRequestMessage(method, url));
            await AssertProblemAsync(response, HttpStatusCode.NotFound);
        }
        var bobsList = await bob.GetJsonAsync<JobPage<JobView>>("/api/jobs?pageSize=200");
        Assert.Equal(0, bobsList.Total);
        Assert.Empty(bobsList.Items);
        Assert.Equal(0, (await bob.GetJsonAsync<JobPage<JobView>>($"/api/jobs?batchId={batchId}")).Total);

        // Bob's own job with the same Idempotency-Key is a different job, not Alice's.
        using var bobs = await bob.SubmitTalkingFaceAsync(Clip(), "bob.wav", idempotencyKey: "shared-key");
        var bobsJob = await bobs.ReadJobAsync(HttpStatusCode.Accepted);
        Assert.NotEqual(job.Id, bobsJob.Id);

        // Alice still sees exactly her own three, and can read, download and cancel hers.
        var alicesList = await alice.GetJsonAsync<JobPage<JobView>>("/api/jobs?pageSize=200");
        Assert.Equal(3, alicesList.Total);
        Assert.DoesNotContain(alicesList.Items, j => j.Id == bobsJob.Id);
        Assert.Equal(job.Id, (await alice.GetJobAsync(job.Id)).Id);
        using (var download = await alice.GetAsync($"/api/jobs/{job.Id}/artifacts/{ArtifactNames.InputAudio}?redirect=false"))
            Assert.Equal(Clip(), await download.Content.ReadAsByteArrayAsync());
        using (var cancel = await alice.PostAsync($"/api/jobs/{job.Id}/cancel", null)) Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal("queued", (await bob.GetJobAsync(bobsJob.Id)).State);
    }

    [Fact]
    public async Task A_tenant_over_its_rate_gets_429_with_retry_after_and_others_are_not_slowed()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?> { ["Tenancy:BurstSeconds"] = "1" });
        var slow = pipeline.GatewayWithKey((await pipeline.CreateTenantKeyAsync("slow", requestsPerSecond: 2)).Key);
        var other = pipeline.Gateway();

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 10 && limited is null; i++)
        {
            var response = await slow.GetAsync("/api/jobs");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) limited = response;
            else response.Dispose();
        }
        Assert.NotNull(limited);
        using (limited)
        {
            await AssertProblemAsync(limited, HttpStatusCode.TooManyRequests);
            Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {limited.Headers.RetryAfter}");
        }
        Assert.Contains(HttpStatusCode.OK, statuses);
        using (var response = await other.GetAsync("/api/jobs")) Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_tenants_own_upload_limit_is_413()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var small = pipeline.GatewayWithKey((await pipeline.CreateTenantKeyAsync("small", maxUploadBytes: 64 * 1024)).Key);
        var big = new WavBuilder { Data = WavBuilder.Pcm16(new short[64 * 1024]) }.Build();
        using var response = await small.SubmitTalkingFaceAsync(big, "big.wav");
        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        using var fine = await pipeline.Gateway().SubmitTalkingFaceAsync(big, "big.wav");
        Assert.Equal(HttpStatusCode.Accepted, fine.StatusCode);
    }
}
