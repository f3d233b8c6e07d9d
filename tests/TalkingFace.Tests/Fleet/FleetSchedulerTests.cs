using TalkingFace.Contracts;
using TalkingFace.Gateway.Scheduling;

namespace TalkingFace.Tests.Fleet;

/// <summary>The scheduler on simulated classes: speeds, slots, backlog, priorities and models are given, placements checked.</summary>
public sealed class FleetSchedulerTests
{
    private static ClassCapacity Class(string name, double secondsPerUnit, int slots = 1, IReadOnlySet<string>? models = null) =>
        ClassCapacity.Empty(name, slots, slots, secondsPerUnit, measured: true, models);

    [Fact]
    public void Auto_sends_work_to_the_faster_class_until_its_expected_finish_exceeds_the_slower_ones()
    {
        // rtx takes 0.1 s per second of audio, cpu 0.5 s: 10 s clips take 1 s on rtx and 5 s on cpu.
        List<ClassCapacity> classes = [Class(DeviceClasses.Cpu, 0.5), Class(DeviceClasses.Rtx, 0.1)];
        var chosen = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            var placement = FleetScheduler.Place(classes, new WorkItem(Stages.Audio, 10), pinned: null, DeviceClasses.Cpu);
            Assert.Null(placement.Waiting);
            chosen.Add(placement.DeviceClass);
            var at = classes.FindIndex(c => c.DeviceClass == placement.DeviceClass);
            classes[at] = classes[at].WithQueued(10, 0);
        }

        // rtx finishes its k-th clip at k s; the first cpu clip finishes at 5 s. So rtx takes clips 1-4 (finish 1-4 s),
        // the 5th ties at 5 s and goes to rtx (no better), the 6th would end at 6 s on rtx and goes to cpu (5 s),
        // the 7th: rtx 6 s vs cpu 10 s -> rtx.
        Assert.Equal([DeviceClasses.Rtx, DeviceClasses.Rtx, DeviceClasses.Rtx, DeviceClasses.Rtx, DeviceClasses.Rtx, DeviceClasses.Cpu, DeviceClasses.Rtx], chosen);
    }

    [Fact]
    public void Expected_finish_spreads_the_work_ahead_over_the_slots_then_adds_the_jobs_own_run()
    {
        var c = Class(DeviceClasses.Rtx, 0.2, slots: 2).WithQueued(30, 0);
        Assert.Equal(30 * 0.2 / 2 + 5 * 0.2, c.ExpectedFinish(5, 0), 9);
        Assert.True(double.IsPositiveInfinity(ClassCapacity.Empty(DeviceClasses.Jetson, 0, 0, 0.2, false).ExpectedFinish(5, 0)));
    }

    [Fact]
    public void A_high_priority_job_only_waits_behind_running_work_and_work_of_its_priority_or_higher()
    {
        // rtx has 100 s of priority-0 audio queued; cpu is idle but 5x slower.
        var rtx = Class(DeviceClasses.Rtx, 0.1).WithQueued(100, 0);
        List<ClassCapacity> classes = [Class(DeviceClasses.Cpu, 0.5), rtx];

        Assert.Equal(DeviceClasses.Cpu, FleetScheduler.Place(classes, new WorkItem(Stages.Audio, 10, Priority: 0), null, DeviceClasses.Cpu).DeviceClass);
        var urgent = FleetScheduler.Place(classes, new WorkItem(Stages.Audio, 10, Priority: 9), null, DeviceClasses.Cpu);
        Assert.Equal(DeviceClasses.Rtx, urgent.DeviceClass);
        Assert.Equal(1.0, urgent.ExpectedFinishSeconds, 9);
    }

    [Fact]
    public void A_pinned_class_is_kept_even_when_another_is_faster()
    {
        List<ClassCapacity> classes = [Class(DeviceClasses.Cpu, 0.5), Class(DeviceClasses.Rtx, 0.01)];
        var placement = FleetScheduler.Place(classes, new WorkItem(Stages.Audio, 10), pinned: DeviceClasses.Cpu, DeviceClasses.Cpu);
        Assert.Equal(DeviceClasses.Cpu, placement.DeviceClass);
        Assert.Null(placement.Waiting);
    }

    [Fact]
    public void A_pinned_class_without_a_live_worker_is_kept_and_marked_waiting()
    {
        List<ClassCapacity> classes = [Class(DeviceClasses.Cpu, 0.5), ClassCapacity.Empty(DeviceClasses.Jetson, 0, 0, 0.05, false)];
        var placement = FleetScheduler.Place(classes, new WorkItem(Stages.Audio, 10), pinned: DeviceClasses.Jetson, DeviceClasses.Cpu);
        Assert.Equal(DeviceClasses.Jetson, placement.DeviceClass);
        Assert.Equal("waiting: no live worker for class jetson", placement.Waiting);

        var unknown = FleetScheduler.Place(classes, new WorkItem(Stages.Audio, 10), pinned: DeviceClasses.Apple, DeviceClasses.Cpu);
        Assert.Equal("waiting: no live worker for class apple", unknown.Waiting);
    }

    [Fact]
    public void Auto_with_no_live_worker_anywhere_goes_to_the_fallback_class_and_waits()
    {
        List<ClassCapacity> classes = [ClassCapacity.Empty(DeviceClasses.Rtx, 0, 0, 0.05, false)];
        var placement = FleetScheduler.Place(classes, new WorkItem(Stages.Motion, 3), null, DeviceClasses.Cpu);
        Assert.Equal(DeviceClasses.Cpu, placement.DeviceClass);
        Assert.Equal("waiting: no live worker for class cpu", placement.Waiting);
    }

    [Fact]
    public void Auto_skips_classes_whose_workers_lack_the_stages_model()
    {
        var fastWithoutModel = Class(DeviceClasses.Rtx, 0.01, models: new HashSet<string> { "hubert-large" });
        var slowWithModel = Class(DeviceClasses.Cpu, 0.5, models: new HashSet<string> { "hubert-large", "fast-hubert-int8" });
        var placement = FleetScheduler.Place([fastWithoutModel, slowWithModel], new WorkItem(Stages.Audio, 5, Model: "fast-hubert-int8"), null, DeviceClasses.Cpu);
        Assert.Equal(DeviceClasses.Cpu, placement.DeviceClass);
        // A class that does not report its models is not excluded.
        var unknownModels = Class(DeviceClasses.Apple, 0.02);
        Assert.Equal(DeviceClasses.Apple, FleetScheduler.Place([unknownModels, slowWithModel], new WorkItem(Stages.Audio, 5, Model: "fast-hubert-int8"), null, DeviceClasses.Cpu).DeviceClass);
    }

    [Fact]
    public void A_batch_is_spread_so_that_its_makespan_stays_near_the_lower_bound()
    {
        // Two classes, 3x apart in speed; 40 clips of 2-10 s.
        List<ClassCapacity> classes = [Class(DeviceClasses.Rtx, 0.1, slots: 2), Class(DeviceClasses.Cpu, 0.3, slots: 1)];
        var random = new Random(3);
        var items = Enumerable.Range(0, 40).Select(_ => new WorkItem(Stages.Audio, 2 + 8 * random.NextDouble())).ToList();
        var placements = FleetScheduler.PlaceBatch(classes, items, null, DeviceClasses.Cpu);

        var work = items.Sum(i => i.Units);
        var bound = work / (2 / 0.1 + 1 / 0.3);
        var makespan = placements.Max(p => p.ExpectedFinishSeconds);
        Assert.Contains(placements, p => p.DeviceClass == DeviceClasses.Cpu);
        Assert.Contains(placements, p => p.DeviceClass == DeviceClasses.Rtx);
        Assert.InRange(makespan / bound, 1.0, 1.15);
        Assert.Equal(items.Count, FleetScheduler.SubmissionOrder([.. items.Select(i => i.Units)]).Distinct().Count());
    }

    [Fact]
    public void Workers_of_different_speeds_in_one_class_combine_into_its_throughput()
    {
        // 1 slot at 0.1 s/unit (10 units/s) + 1 slot at 0.3 s/unit (3.33 units/s) = 13.33 units/s over 2 slots.
        Assert.Equal(2 / (10 + 1 / 0.3), FleetScheduler.CombinedSecondsPerUnit([(1, 0.1), (1, 0.3)]), 9);
    }
}
