using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Faults;

/// <summary>
/// A private RabbitMQ node is stopped and started again while a batch of talking-face jobs is being processed by real
/// audio and motion workers (the repository's models; PostgreSQL and S3 are the shared ones): every accepted job still
/// succeeds, none is lost or left unfinished, and no stage or artifact is recorded twice.
/// Batch size: <c>FAULT_BATCH</c> (default 30; <c>scripts/faults/broker-restart</c> runs 200).
/// It takes minutes, so it runs only when <c>TALKINGFACE_LONG_FAULTS=1</c> (the script sets it).
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class BrokerRestartTests(DistributedServices services)
{
    [LongFaultFact]
    public async Task Restarting_rabbitmq_during_a_batch_loses_no_job_and_leaves_none_stuck()
    {
        Assert.True(PrivateRabbitMq.Available, "needs root and rabbitmq-server to run a private node");
        var size = int.TryParse(Environment.GetEnvironmentVariable("FAULT_BATCH"), CultureInfo.InvariantCulture, out var n) ? n : 30;
        var wall = Stopwatch.StartNew();
        await using var rabbit = new PrivateRabbitMq();
        await rabbit.StartAsync();
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Messaging:RabbitMq:Port"] = rabbit.Port.ToString(CultureInfo.InvariantCulture),
            ["Messaging:RabbitMq:VirtualHost"] = "/",
            ["Gateway:MaxBatchItems"] = size.ToString(CultureInfo.InvariantCulture),
            ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
            ["Inference:OptimizedModelCache"] = "",
            ["Motion:Preview:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Error",
        });
        var client = pipeline.Gateway();
        // The batch submit stores and dispatches every item before it answers; 200 items on a loaded 2-core machine
        // can take longer than HttpClient's default 100 s.
        client.Timeout = TimeSpan.FromMinutes(10);
        await pipeline.StartAudioWorkerAsync("restart-audio");
        await pipeline.StartMotionWorkerAsync("restart-motion");

        var clip = new WavBuilder { Data = WavBuilder.Pcm16([.. Enumerable.Range(0, 16000).Select(i => (short)(3000 * Math.Sin(i / 10.0)))]) }.Build();
        using var form = GatewayApi.Form(Enumerable.Range(0, size).Select(i => ("files", $"clip-{i}.wav", clip)));
        var submit = Stopwatch.StartNew();
        using var response = await client.PostAsync("/api/batches", form);
        submit.Stop();
        var created = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, created);
        var batch = JsonDocument.Parse(created).RootElement.GetProperty("id").GetGuid();
        var accepted = JsonDocument.Parse(created).RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("jobId").GetGuid()).ToList();

        // Restart the broker in the middle of the batch: once a tenth of the jobs are done, the rest queued or running.
        var finishedAtStop = 0;
        var stopBy = DateTime.UtcNow.AddMinutes(3);
        do
        {
            await Task.Delay(250);
            finishedAtStop = (await BatchAsync(client, batch)).GetProperty("items").EnumerateArray().Count(i => i.GetProperty("state").GetString() is "succeeded" or "failed" or "cancelled");
        }
        while (finishedAtStop < Math.Max(1, size / 10) && DateTime.UtcNow < stopBy);
        var outage = Stopwatch.StartNew();
        await rabbit.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(5));
        await rabbit.StartAsync();
        outage.Stop();

        var deadline = DateTime.UtcNow.AddMinutes(8);
        JsonElement view;
        do
        {
            await Task.Delay(500);
            view = await BatchAsync(client, batch);
        }
        while (!view.GetProperty("finished").GetBoolean() && DateTime.UtcNow < deadline);

        var items = view.GetProperty("items").EnumerateArray().ToList();
        var seen = items.Select(i => i.GetProperty("jobId").GetGuid()).ToHashSet();
        var lost = accepted.Count(id => !seen.Contains(id));
        var succeeded = items.Count(i => i.GetProperty("state").GetString() == "succeeded");
        var stuck = items.Count(i => i.GetProperty("state").GetString() is not ("succeeded" or "failed" or "cancelled"));
        var unsuccessful = items.Where(i => i.GetProperty("state").GetString() != "succeeded")
            .Select(i => $"{i.GetProperty("jobId")}: {i.GetProperty("state")} {i.GetProperty("reason")}").ToList();

        var check = await FaultChecks.InspectAsync(pipeline, accepted);
        wall.Stop();
        FaultSummary.Write("broker-restart: restart RabbitMQ during a batch",
        [
            ("jobs accepted", accepted.Count.ToString(CultureInfo.InvariantCulture)),
            ("batch submit answered after", $"{submit.Elapsed.TotalSeconds:0.0} s"),
            ("finished before the broker stopped", finishedAtStop.ToString(CultureInfo.InvariantCulture)),
            ("broker down (stop, 5 s, start until it listens)", $"{outage.Elapsed.TotalSeconds:0.0} s"),
            ("succeeded", succeeded.ToString(CultureInfo.InvariantCulture)),
            ("failed", (items.Count - succeeded - stuck).ToString(CultureInfo.InvariantCulture)),
            ("lost (accepted, no record)", lost.ToString(CultureInfo.InvariantCulture)),
            ("stuck (not finished within 8 min of the restart)", stuck.ToString(CultureInfo.InvariantCulture)),
            ("duplicate artifact records", check.DuplicateArtifacts.ToString(CultureInfo.InvariantCulture)),
            ("stored objects without a record", check.StrayObjects.ToString(CultureInfo.InvariantCulture)),
            ("double-counted stage records", check.DuplicateStages.ToString(CultureInfo.InvariantCulture)),
            ("stage attempts beyond the first (sweeper re-sends)", check.ExtraAttempts.ToString(CultureInfo.InvariantCulture)),
            ("wall time", $"{wall.Elapsed.TotalSeconds:0} s"),
        ]);

        Assert.True(lost == 0 && stuck == 0, $"{lost} lost and {stuck} stuck of {size} jobs:\n" + string.Join("\n", unsuccessful.Take(20)));
        Assert.True(succeeded == size, $"{size - succeeded} of {size} jobs did not succeed:\n" + string.Join("\n", unsuccessful.Take(20)));
        Assert.True(check.Problems.Count == 0, string.Join("\n", check.Problems.Take(20)));
    }

    private static async Task<JsonElement> BatchAsync(HttpClient client, Guid batch) =>
        JsonDocument.Parse(await client.GetStringAsync($"/api/batches/{batch}")).RootElement.Clone();
}

/// <summary>A fact that runs only when <c>TALKINGFACE_LONG_FAULTS=1</c> (scripts/faults/*).</summary>
public sealed class LongFaultFactAttribute : FactAttribute
{
    public LongFaultFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("TALKINGFACE_LONG_FAULTS") != "1")
            Skip = "a long fault test: run scripts/faults/broker-restart (TALKINGFACE_LONG_FAULTS=1)";
    }
}
