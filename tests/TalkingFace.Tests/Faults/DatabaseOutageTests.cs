using System.Net;
using System.Text.Json;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Faults;

/// <summary>
/// PostgreSQL goes away for 10 s under a running distributed pipeline (a private PostgreSQL instance, stopped the hard
/// way; RabbitMQ and S3 are the shared ones): the gateway answers 503 with Retry-After instead of errors, stage events
/// that arrive meanwhile wait (retried, not dropped), no accepted job is lost, and it all resumes by itself.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class DatabaseOutageTests(DistributedServices services)
{
    [Fact]
    public async Task Ten_seconds_without_postgres_gives_503_with_retry_after_loses_no_accepted_job_and_resumes_by_itself()
    {
        Assert.True(PrivatePostgres.Available, "needs root and PostgreSQL 15 binaries to run a private instance");
        await using var postgres = await PrivatePostgres.StartAsync();
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Database:ConnectionString"] = postgres.ConnectionString("tf_outage"),
            ["Tenancy:KeyCacheDuration"] = "00:00:01", // so that authentication, too, meets the outage
        });
        var client = pipeline.Gateway();
        await pipeline.StartAudioWorkerAsync("outage-audio-worker");

        var accepted = new List<Guid>();
        for (var i = 0; i < 8; i++) accepted.Add((await DistributedPipeline.SubmitTalkingFaceAsync(client, TestPaths.MacronSpeech)).Id);

        await postgres.StopAsync();
        var down = DateTime.UtcNow;
        var answers = new List<string>();
        while (DateTime.UtcNow - down < TimeSpan.FromSeconds(10))
        {
            foreach (var request in new Func<Task<HttpResponseMessage>>[]
                     {
                         () => client.GetAsync($"/api/jobs/{accepted[0]}"),
                         () => client.GetAsync("/api/jobs"),
                         () => client.PostAsync("/api/jobs/talking-face", Form()),
                     })
            {
                using var response = await request();
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.ServiceUnavailable || response.Headers.RetryAfter?.Delta is not { TotalSeconds: > 0 }
                    || response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                {
                    answers.Add($"{(int)response.StatusCode} retry-after={response.Headers.RetryAfter}: {body[..Math.Min(300, body.Length)]}");
                }
            }
            using (var ready = await client.GetAsync("/health/ready"))
            {
                var report = await ready.Content.ReadAsStringAsync();
                if (ready.StatusCode != HttpStatusCode.ServiceUnavailable || !report.Contains("database", StringComparison.Ordinal))
                    answers.Add($"/health/ready said {(int)ready.StatusCode}: {report}");
            }
            await Task.Delay(500);
        }
        Assert.True(answers.Count == 0, "during the outage:\n" + string.Join("\n", answers.Distinct()));

        await postgres.StartAgainAsync();

        // Every job accepted before the outage finishes as it would have without one: its audio stage ran and its
        // events were recorded (with no models configured, the job ends "not configured" after converting the audio).
        foreach (var id in accepted)
        {
            var job = await DistributedPipeline.WaitForAsync(client, id, DistributedPipeline.IsTerminal, TimeSpan.FromMinutes(3));
            Assert.Equal("failed", job.State);
            Assert.Contains("not configured", job.Reason);
            Assert.Single(job.Artifacts, a => a.Name == TalkingFace.Contracts.ArtifactNames.Audio16k);
        }
        await DistributedPipeline.WaitUntilReadyAsync(client);
        var after = await DistributedPipeline.SubmitTalkingFaceAsync(client, TestPaths.MacronSpeech);
        Assert.Equal("failed", (await DistributedPipeline.WaitForAsync(client, after.Id, DistributedPipeline.IsTerminal)).State);
    }

    private static MultipartFormDataContent Form()
    {
        var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent(File.ReadAllBytes(TestPaths.MacronSpeech)), "audio", "speech.wav");
        return form;
    }
}
