using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.EntityFrameworkCore;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Distributed;

/// <summary>
/// The pipeline probe (POST /api/jobs/probe): no input, one no-op stage, but every other part of a job's life on the
/// real services: tenant, PostgreSQL, scheduler, RabbitMQ, a worker in its own host, events back. bench/load uses it.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class ProbeJobTests(DistributedServices services)
{
    [Fact]
    public async Task A_probe_job_is_run_by_a_separate_worker_and_recorded_like_any_job()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();
        await pipeline.StartHairWorkerAsync("hair-worker-probe"); // every worker serves the probe besides its own stage

        using var response = await client.PostAsJsonAsync("/api/jobs/probe", new { deviceClass = "cpu", priority = 3 });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var submitted = (await response.Content.ReadFromJsonAsync<JobView>(DistributedPipeline.Json))!;
        Assert.Equal((JobKinds.Probe, 3), (submitted.Kind, submitted.Priority));
        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);

        Assert.Equal("succeeded", job.State);
        var stage = Assert.Single(job.Stages);
        Assert.Equal((Stages.Probe, "succeeded", 1, "hair-worker-probe", DeviceClasses.Cpu), (stage.Name, stage.State, stage.Attempt, stage.WorkerId, stage.DeviceClass));
        Assert.Empty(job.Artifacts);

        await using var db = pipeline.Db();
        var record = await db.Jobs.Include(j => j.Stages).SingleAsync(j => j.Id == job.Id);
        Assert.Equal((JobKinds.Probe, 1), (record.Kind, record.Stages.Count));

        var listed = await client.GetFromJsonAsync<JobPage<JobView>>("/api/jobs?kind=probe", DistributedPipeline.Json);
        Assert.Equal(job.Id, Assert.Single(listed!.Items).Id);
    }

    [Fact]
    public async Task A_probe_with_no_body_is_accepted_and_a_repeated_idempotency_key_returns_the_same_job()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();

        using var first = new HttpRequestMessage(HttpMethod.Post, "/api/jobs/probe") { Headers = { { "Idempotency-Key", "probe-1" } } };
        using var firstResponse = await client.SendAsync(first);
        Assert.Equal(HttpStatusCode.Accepted, firstResponse.StatusCode);
        var job = (await firstResponse.Content.ReadFromJsonAsync<JobView>(DistributedPipeline.Json))!;
        Assert.Equal(DeviceClasses.Auto, job.DeviceClass);

        using var again = new HttpRequestMessage(HttpMethod.Post, "/api/jobs/probe") { Headers = { { "Idempotency-Key", "probe-1" } } };
        using var againResponse = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.OK, againResponse.StatusCode);
        Assert.Equal(job.Id, (await againResponse.Content.ReadFromJsonAsync<JobView>(DistributedPipeline.Json))!.Id);
    }

    [Theory]
    [InlineData("{\"deviceClass\":\"quantum\"}", "deviceClass")]
    [InlineData("{\"priority\":12}", "priority")]
    [InlineData("{\"priority\":-1}", "priority")]
    public async Task A_probe_with_bad_options_is_a_validation_problem_naming_the_field(string body, string field)
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();
        using var response = await client.PostAsync("/api/jobs/probe", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"\"{field}\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_probe_with_malformed_json_is_a_400_problem_and_no_job()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();
        using var response = await client.PostAsync("/api/jobs/probe", new StringContent("{\"priority\": ", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await using var db = pipeline.Db();
        Assert.Equal(0, await db.Jobs.CountAsync());
    }
}

/// <summary>The probe in standalone mode: the in-process workers serve it too.</summary>
public sealed class StandaloneProbeJobTests(StandaloneGatewayFactory gateway) : IClassFixture<StandaloneGatewayFactory>
{
    [Fact]
    public async Task A_probe_job_succeeds_in_the_standalone_gateway()
    {
        var client = gateway.CreateClient();
        using var response = await client.PostAsync("/api/jobs/probe", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var submitted = (await response.Content.ReadFromJsonAsync<JobView>(DistributedPipeline.Json))!;
        var job = await client.WaitUntilFinishedAsync(submitted.Id);
        Assert.Equal("succeeded", job.State);
        Assert.Equal((Stages.Probe, "succeeded"), (job.Stages.Single().Name, job.Stages.Single().State));
    }
}
