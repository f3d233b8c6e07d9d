using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Fleet;

/// <summary>Fleet-aware dispatch through the real gateway, PostgreSQL and RabbitMQ.</summary>
[Collection(DistributedCollection.Name)]
public sealed class FleetDispatchTests(DistributedServices services)
{
    private static async Task<JobView> SubmitAsync(HttpClient client, string? deviceClass = null, int priority = 0)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StreamContent(File.OpenRead(TestPaths.MacronSpeech)), "audio", "MacronSpeech.wav");
        form.Add(new StringContent("fast-hubert-int8"), "featureModel");
        if (deviceClass is not null) form.Add(new StringContent(deviceClass), "deviceClass");
        form.Add(new StringContent(priority.ToString(System.Globalization.CultureInfo.InvariantCulture)), "priority");
        using var response = await client.PostAsync("/api/jobs/talking-face", form);
        Assert.True(response.IsSuccessStatusCode, $"submit answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JobView>(DistributedPipeline.Json))!;
    }

    /// <summary>Polls GET /api/fleet until <paramref name="done"/> holds for it.</summary>
    private static async Task<JsonElement> WaitForFleetAsync(HttpClient client, Func<JsonElement, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonElement fleet;
        do
        {
            fleet = await client.GetFromJsonAsync<JsonElement>("/api/fleet");
            if (done(fleet)) return fleet;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail("the fleet never got there: " + fleet);
        return fleet;
    }

    private static JsonElement Row(JsonElement fleet, string stage, string deviceClass) =>
        fleet.GetProperty("classes").EnumerateArray().Single(c => c.GetProperty("stage").GetString() == stage && c.GetProperty("deviceClass").GetString() == deviceClass);

    private static bool Live(JsonElement fleet, string stage, string deviceClass) => Row(fleet, stage, deviceClass).GetProperty("liveWorkers").GetInt32() > 0;

    [Fact]
    public async Task Auto_sends_jobs_to_the_faster_class_until_its_expected_finish_passes_the_slower_ones()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();

        // Two simulated audio workers, heartbeats only (nothing consumes, so the queues only grow): rtx measured at
        // 0.1 s of work per second of audio, cpu at 0.5 s. Every clip is the same length u: the k-th clip on rtx ends
        // at k * 0.1u, the first on cpu at 0.5u.
        var bus = pipeline.GatewayServices.GetRequiredService<IBus>();
        async Task BeatAsync()
        {
            foreach (var (id, deviceClass, speed) in new[] { ("sim-rtx", DeviceClasses.Rtx, 0.1), ("sim-cpu", DeviceClasses.Cpu, 0.5) })
            {
                await bus.Publish(new WorkerHeartbeat(new WorkerIdentity(id, "sim-host", deviceClass), Stages.Audio, ["CPUExecutionProvider"], 1, 0,
                    DateTimeOffset.UtcNow, [new WorkerModel("fast-hubert-int8", "1", true)], new WorkerSpeed(speed, WorkUnits.AudioSecond, 5), TimeSpan.FromMinutes(5)));
            }
        }
        // Like a real worker, beat until heard (the gateway's queues bind while its bus starts).
        await WaitForFleetAsync(client, f =>
        {
            if (Live(f, Stages.Audio, DeviceClasses.Rtx) && Live(f, Stages.Audio, DeviceClasses.Cpu)) return true;
            BeatAsync().GetAwaiter().GetResult();
            return false;
        });

        var placed = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            var job = await SubmitAsync(client);
            var audio = Assert.Single(job.Stages, s => s.Name == Stages.Audio);
            Assert.Equal("queued", audio.State);
            Assert.Null(audio.Reason);
            placed.Add(audio.DeviceClass);
        }
        // rtx while k * 0.1u <= 0.5u (a tie goes to the faster class), then cpu once, then rtx again (0.6u < 1.0u).
        Assert.Equal([DeviceClasses.Rtx, DeviceClasses.Rtx, DeviceClasses.Rtx, DeviceClasses.Rtx, DeviceClasses.Rtx, DeviceClasses.Cpu, DeviceClasses.Rtx], placed);

        var fleet = await client.GetFromJsonAsync<JsonElement>("/api/fleet");
        var rtx = Row(fleet, Stages.Audio, DeviceClasses.Rtx);
        Assert.Equal(6, rtx.GetProperty("queued").GetInt32());
        Assert.Equal(0.1, rtx.GetProperty("secondsPerUnit").GetDouble(), 6);
        Assert.True(rtx.GetProperty("speedMeasured").GetBoolean());
        Assert.Equal(WorkUnits.AudioSecond, rtx.GetProperty("unit").GetString());
        Assert.Equal(1, Row(fleet, Stages.Audio, DeviceClasses.Cpu).GetProperty("queued").GetInt32());
        Assert.Contains(fleet.GetProperty("workers").EnumerateArray(), w => w.GetProperty("workerId").GetString() == "sim-rtx" && w.GetProperty("alive").GetBoolean());

        // A job pinned to cpu stays there, faster class or not.
        var pinned = await SubmitAsync(client, DeviceClasses.Cpu);
        Assert.Equal(DeviceClasses.Cpu, Assert.Single(pinned.Stages, s => s.Name == Stages.Audio).DeviceClass);
        // The stage queues are RabbitMQ priority queues.
        await using var connection = await pipeline.Broker().CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        Assert.Equal(6u, (await channel.QueueDeclarePassiveAsync("audio.rtx")).MessageCount);
    }

    [Fact]
    public async Task A_job_pinned_to_a_class_without_live_workers_waits_visibly_then_fails_with_the_reason()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Fleet:NoWorkerDeadline"] = "00:00:02",
            ["Fleet:RegistryWarmUp"] = "00:00:01",
        });
        var client = pipeline.Gateway();
        var submitted = await SubmitAsync(client, DeviceClasses.Jetson);
        var audio = Assert.Single(submitted.Stages, s => s.Name == Stages.Audio);
        Assert.Equal("queued", audio.State);
        Assert.Equal(DeviceClasses.Jetson, audio.DeviceClass);
        Assert.Equal("waiting: no live worker for class jetson", audio.Reason);

        var fleet = await client.GetFromJsonAsync<JsonElement>("/api/fleet");
        Assert.Equal("waiting: no live worker for class jetson", Row(fleet, Stages.Audio, DeviceClasses.Jetson).GetProperty("waiting").GetString());

        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);
        Assert.Equal("failed", job.State);
        Assert.Contains("no live worker for class jetson", job.Reason);
        Assert.Contains("within 00:00:02", job.Reason);
    }

    [Fact]
    public async Task Auto_dispatch_spreads_a_batch_over_two_classes_of_separate_workers_and_each_class_runs_its_share()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();

        // Two classes of real audio workers, each its own host on its own queue. They announce themselves every
        // 20 s (alive for 60 s), then stop: the registry still counts them, nothing takes work, so the batch's
        // placements do not depend on how fast the first items run.
        var slow = new Dictionary<string, string?> { ["Worker:HeartbeatInterval"] = "00:00:20" };
        var first = new[]
        {
            await pipeline.StartAudioWorkerAsync("audio-cpu-1", DeviceClasses.Cpu, slow),
            await pipeline.StartAudioWorkerAsync("audio-rtx-1", DeviceClasses.Rtx, slow),
        };
        await WaitForFleetAsync(client, f => Live(f, Stages.Audio, DeviceClasses.Cpu) && Live(f, Stages.Audio, DeviceClasses.Rtx));
        foreach (var worker in first) await worker.StopAsync();

        using var form = new MultipartFormDataContent();
        for (var i = 0; i < 4; i++) form.Add(new ByteArrayContent(await File.ReadAllBytesAsync(TestPaths.MacronSpeech)), "files", $"clip{i}.wav");
        form.Add(new StringContent("fast-hubert-int8"), "featureModel");
        using var response = await client.PostAsync("/api/batches", form);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var batch = await response.Content.ReadFromJsonAsync<JsonElement>();
        var ids = batch.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("jobId").GetGuid()).ToList();
        Assert.Equal(4, ids.Count);

        var placed = new Dictionary<Guid, string>();
        foreach (var id in ids)
            placed[id] = Assert.Single((await client.GetFromJsonAsync<JobView>($"/api/jobs/{id}", DistributedPipeline.Json))!.Stages, s => s.Name == Stages.Audio).DeviceClass;
        // Equal (assumed) speeds and one slot each: the batch alternates between the classes.
        Assert.Equal(2, placed.Values.Count(c => c == DeviceClasses.Cpu));
        Assert.Equal(2, placed.Values.Count(c => c == DeviceClasses.Rtx));

        // Fresh workers of both classes take their class's share from RabbitMQ (the demo-less store fails each job at
        // feature extraction, after the stage ran on the right class).
        await pipeline.StartAudioWorkerAsync("audio-cpu-2", DeviceClasses.Cpu);
        await pipeline.StartAudioWorkerAsync("audio-rtx-2", DeviceClasses.Rtx);
        foreach (var id in ids)
        {
            var job = await DistributedPipeline.WaitForAsync(client, id, DistributedPipeline.IsTerminal);
            Assert.Contains("not configured", job.Reason);
            var audio = Assert.Single(job.Stages, s => s.Name == Stages.Audio);
            Assert.Equal(placed[id], audio.DeviceClass);
            Assert.Equal($"audio-{placed[id]}-2", audio.WorkerId);
        }
    }

    [Fact]
    public async Task RabbitMQ_delivers_a_higher_priority_command_before_earlier_lower_priority_ones()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();
        var low = await SubmitAsync(client, DeviceClasses.Cpu, priority: 0);
        var lowToo = await SubmitAsync(client, DeviceClasses.Cpu, priority: 1);
        var urgent = await SubmitAsync(client, DeviceClasses.Cpu, priority: 9);

        // No worker runs: take the commands off audio.cpu by hand, in the order the broker delivers them.
        await using var connection = await pipeline.Broker().CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var order = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var delivery = await channel.BasicGetAsync("audio.cpu", autoAck: true);
            Assert.NotNull(delivery);
            using var envelope = JsonDocument.Parse(delivery.Body);
            order.Add(envelope.RootElement.GetProperty("message").GetProperty("ticket").GetProperty("jobId").GetGuid());
        }
        Assert.Equal([urgent.Id, lowToo.Id, low.Id], order);
    }
}
