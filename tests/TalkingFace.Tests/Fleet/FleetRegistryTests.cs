using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Fleet;
using TalkingFace.Gateway.Pipeline;
using TalkingFace.Gateway.Scheduling;

namespace TalkingFace.Tests.Fleet;

public sealed class FleetRegistryTests
{
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static WorkerHeartbeat Beat(string id, string deviceClass, DateTimeOffset at, TimeSpan interval, WorkerSpeed? speed = null) =>
        new(new WorkerIdentity(id, "host-" + id, deviceClass), Stages.Audio, ["CPUExecutionProvider"], 1, 0, at,
            [new WorkerModel("hubert-large", "1", true)], speed, interval);

    [Fact]
    public void A_worker_is_dead_after_the_configured_number_of_its_own_heartbeat_intervals()
    {
        var start = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        var clock = new ManualClock(start);
        var registry = new FleetRegistry(Options.Create(new FleetOptions { MissedHeartbeats = 3 }), Options.Create(new PipelineOptions()), clock);
        registry.Record(Beat("w1", DeviceClasses.Rtx, start, TimeSpan.FromSeconds(10)));
        registry.Record(Beat("w2", DeviceClasses.Cpu, start, TimeSpan.FromSeconds(2)));

        clock.Now = start.AddSeconds(7); // w2 missed three 2 s beats, w1 none
        var workers = registry.Snapshot().ToDictionary(w => w.WorkerId);
        Assert.True(workers["w1"].Alive);
        Assert.False(workers["w2"].Alive);
        Assert.True(registry.HasLiveWorker(Stages.Audio, DeviceClasses.Rtx));
        Assert.False(registry.HasLiveWorker(Stages.Audio, DeviceClasses.Cpu));

        clock.Now = start.AddSeconds(31);
        Assert.False(registry.HasLiveWorker(Stages.Audio, DeviceClasses.Rtx));

        // A fresh heartbeat revives it; an older one arriving late changes nothing.
        registry.Record(Beat("w1", DeviceClasses.Rtx, clock.Now, TimeSpan.FromSeconds(10), new WorkerSpeed(0.02, WorkUnits.AudioSecond, 4)));
        registry.Record(Beat("w1", DeviceClasses.Rtx, start, TimeSpan.FromSeconds(10)));
        var w1 = Assert.Single(registry.Snapshot(), w => w.WorkerId == "w1");
        Assert.True(w1.Alive);
        Assert.Equal(0.02, w1.Heartbeat.Speed!.SecondsPerUnit);
    }

    [Fact]
    public void The_waiting_note_goes_in_front_of_an_earlier_reason_and_comes_off_again()
    {
        var waiting = FleetScheduler.NoLiveWorker(DeviceClasses.Jetson);
        var noted = WaitingNote.Apply("attempt 1 failed: boom", waiting);
        Assert.Equal("waiting: no live worker for class jetson; then: attempt 1 failed: boom", noted);
        Assert.Equal(noted, WaitingNote.Apply(noted, waiting));
        Assert.Equal("attempt 1 failed: boom", WaitingNote.Strip(noted));
        Assert.Null(WaitingNote.Apply(waiting, null));
    }
}
