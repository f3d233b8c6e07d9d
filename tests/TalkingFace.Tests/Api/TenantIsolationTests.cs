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

        // Tenant-independent and open: liveness, metrics, the public catalogues. The fleet view needs a key (worker hosts are not public).
        foreach (var path in new[] { "/health/live", "/metrics", "/api/models" })
        {
            using var response = await anonymous.GetAsync(path);
            Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode}");
        }
        using (var response = await anonymous.GetAsync("/api/fleet/workers")) await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
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

    [Fact]
    public async Task A_read_token_reads_only_its_own_job_and_dies_with_its_key()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?> { ["Tenancy:KeyCacheDuration"] = "00:00:00" });
        var aliceKey = await pipeline.CreateTenantKeyAsync("alice");
        var alice = pipeline.GatewayWithKey(aliceKey.Key);
        var bob = pipeline.Gateway();
        using var first = await alice.SubmitTalkingFaceAsync(Clip(), "one.wav");
        var job = await first.ReadJobAsync(HttpStatusCode.Accepted);
        using var second = await alice.SubmitTalkingFaceAsync(Clip(), "two.wav");
        var other = await second.ReadJobAsync(HttpStatusCode.Accepted);

        // Without a key the stream is closed; another tenant cannot get a token for the job.
        var anonymous = pipeline.AnonymousGateway();
        using (var response = await anonymous.GetAsync($"/api/jobs/{job.Id}/events")) await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        using (var response = await bob.PostAsync($"/api/jobs/{job.Id}/read-token", null)) await AssertProblemAsync(response, HttpStatusCode.NotFound);

        using var issued = await alice.PostAsync($"/api/jobs/{job.Id}/read-token", null);
        Assert.Equal(HttpStatusCode.OK, issued.StatusCode);
        var answer = JsonDocument.Parse(await issued.Content.ReadAsStringAsync()).RootElement;
        var token = Uri.EscapeDataString(answer.GetProperty("token").GetString()!);
        var events = answer.GetProperty("events").GetString()!;
        Assert.Equal($"/api/jobs/{job.Id}/events?access_token={token}", events);
        Assert.True(answer.GetProperty("expiresAt").GetDateTimeOffset() > DateTimeOffset.UtcNow);

        // The token reads that job as a browser would (no headers): its stream, its record, its artifacts.
        using (var stream = await anonymous.GetAsync(events, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
            Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        }
        using (var record = await anonymous.GetAsync($"/api/jobs/{job.Id}?access_token={token}"))
            Assert.Equal(job.Id, (await record.ReadJobAsync(HttpStatusCode.OK)).Id);
        using (var download = await anonymous.GetAsync($"/api/jobs/{job.Id}/artifacts/{ArtifactNames.InputAudio}?redirect=false&access_token={token}"))
            Assert.Equal(Clip(), await download.Content.ReadAsByteArrayAsync());
        // ... and nothing else: not another job, not a listing, not a change, not a tampered or made-up token.
        var tampered = Uri.EscapeDataString(answer.GetProperty("token").GetString()![..^2] + (answer.GetProperty("token").GetString()![^2] == 'A' ? "BB" : "AA"));
        foreach (var (method, wrong) in new[]
                 {
                     (HttpMethod.Get, $"/api/jobs/{other.Id}/events?access_token={token}"),
                     (HttpMethod.Get, $"/api/jobs/{other.Id}?access_token={token}"),
                     (HttpMethod.Get, $"/api/jobs/{other.Id}/artifacts/{ArtifactNames.InputAudio}?redirect=false&access_token={token}"),
                     (HttpMethod.Get, $"/api/jobs?access_token={token}"),
                     (HttpMethod.Post, $"/api/jobs/{job.Id}/cancel?access_token={token}"),
                     (HttpMethod.Post, $"/api/jobs/{job.Id}/read-token?access_token={token}"),
                     (HttpMethod.Get, $"/api/jobs/{job.Id}/events?access_token={tampered}"),
                     (HttpMethod.Get, $"/api/jobs/{job.Id}?access_token=tfs_garbage"),
                 })
        {
            using var response = await anonymous.SendAsync(new HttpRequestMessage(method, wrong));
            await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        }
        Assert.Equal("queued", (await alice.GetJobAsync(job.Id)).State); // the cancel with a token did nothing
        // Revoking the key ends its tokens.
        await using (var scope = pipeline.GatewayServices.CreateAsyncScope())
            Assert.True(await scope.ServiceProvider.GetRequiredService<TenantAdmin>().RevokeAsync(aliceKey.KeyId.ToString()));
        using (var response = await anonymous.GetAsync(events)) await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_flood_of_made_up_keys_is_limited_before_the_database_while_a_good_tenant_keeps_working()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Tenancy:KeyLookupsPerSecond"] = "5",
            ["Tenancy:AnonymousRequestsPerSecond"] = "5",
            ["Tenancy:KeyCacheEntries"] = "50",
        });
        var good = pipeline.Gateway();
        using (var warm = await good.GetAsync("/api/jobs")) Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        var cache = pipeline.GatewayServices.GetRequiredService<ApiKeyCache>();

        var statuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        var goodStatuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, 300), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            var response = await pipeline.GatewayWithKey(ApiKeys.NewKey()).GetAsync("/api/jobs", ct);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests && Interlocked.CompareExchange(ref limited, response, null) is null) return;
            response.Dispose();
            if (i % 10 == 0)
            {
                using var mine = await good.GetAsync("/api/jobs", ct);
                goodStatuses.Add(mine.StatusCode);
            }
        });
        var elapsed = clock.Elapsed;
        // Only the burst (2 x 5) plus what refilled meanwhile reached the database (each such key is a 401); the rest were 429 before any lookup.
        var looked = statuses.Count(s => s == HttpStatusCode.Unauthorized);
        Assert.True(looked <= 10 + 5 * Math.Ceiling(elapsed.TotalSeconds + 1), $"{looked} lookups in {elapsed.TotalSeconds:0.0} s");
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.TooManyRequests or HttpStatusCode.Unauthorized, s.ToString()));
        Assert.NotNull(limited);
        using (limited)
        {
            await AssertProblemAsync(limited!, HttpStatusCode.TooManyRequests);
            Assert.True(limited!.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {limited.Headers.RetryAfter}");
        }
        Assert.NotEmpty(goodStatuses);
        Assert.All(goodStatuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(2, cache.Count); // only the good key (by hash and by id): made-up keys never take a cache entry

        // Callers with no key at all meet their address's limit too.
        var anonymous = pipeline.AnonymousGateway();
        var anonymousStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 40; i++)
        {
            using var response = await anonymous.GetAsync("/api/jobs");
            anonymousStatuses.Add(response.StatusCode);
        }
        Assert.Contains(HttpStatusCode.TooManyRequests, anonymousStatuses);
        using (var mine = await good.GetAsync("/api/jobs")) Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
    }
}
