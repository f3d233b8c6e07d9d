namespace TalkingFace.Gateway.Scheduling;

/// <summary>
/// What the scheduler knows about one device class for one stage: its live capacity, its speed, the models it can
/// run, and the work already sent to it and not finished (in the stage's unit: seconds of audio, or images).
/// </summary>
/// <param name="Slots">Stage runs the class's live workers take at once (sum of their concurrency).</param>
/// <param name="SecondsPerUnit">Seconds one slot needs per unit of work (measured moving average, or an assumed value).</param>
/// <param name="RunningUnits">Work still left in runs already started (they hold slots whatever the priority).</param>
/// <param name="QueuedUnitsByPriority">Queued work per priority 0-9 (index = priority).</param>
/// <param name="Models">Models the class's workers can run; null when unknown (not used to exclude the class).</param>
public sealed record ClassCapacity(
    string DeviceClass,
    int LiveWorkers,
    int Slots,
    double SecondsPerUnit,
    bool SpeedMeasured,
    double RunningUnits,
    double[] QueuedUnitsByPriority,
    IReadOnlySet<string>? Models = null)
{
    public const int Priorities = 10;

    public static ClassCapacity Empty(string deviceClass, int liveWorkers, int slots, double secondsPerUnit, bool measured, IReadOnlySet<string>? models = null) =>
        new(deviceClass, liveWorkers, slots, secondsPerUnit, measured, 0, new double[Priorities], models);

    public bool IsLive => LiveWorkers > 0 && Slots > 0;

    public double QueuedUnits => QueuedUnitsByPriority.Sum();

    /// <summary>Work that a new job of <paramref name="priority"/> waits behind: everything running, and everything queued at its priority or above (RabbitMQ delivers higher priorities first, FIFO within one).</summary>
    public double UnitsAhead(int priority)
    {
        var ahead = RunningUnits;
        for (var p = Math.Clamp(priority, 0, Priorities - 1); p < Priorities; p++) ahead += QueuedUnitsByPriority[p];
        return ahead;
    }

    /// <summary>
    /// Seconds from now until a new job of <paramref name="units"/> would finish here: the work ahead of it spread over
    /// the class's slots, then its own run on one slot. Infinite when the class has no live worker.
    /// </summary>
    public double ExpectedFinish(double units, int priority) =>
        IsLive ? UnitsAhead(priority) * SecondsPerUnit / Slots + units * SecondsPerUnit : double.PositiveInfinity;

    /// <summary>The same class with <paramref name="units"/> more queued at <paramref name="priority"/>.</summary>
    public ClassCapacity WithQueued(double units, int priority)
    {
        var queued = (double[])QueuedUnitsByPriority.Clone();
        queued[Math.Clamp(priority, 0, Priorities - 1)] += units;
        return this with { QueuedUnitsByPriority = queued };
    }
}

/// <summary>One unit of work to place: a stage of a job.</summary>
public sealed record WorkItem(string Stage, double Units, int Priority = 0, string? Model = null);

/// <summary>Where a stage goes, why, and whether it has to wait for a worker.</summary>
/// <param name="ExpectedFinishSeconds">Infinite when the class has no live worker.</param>
/// <param name="Waiting">Set when no live worker can take it now: <c>waiting: no live worker for class X</c>.</param>
public sealed record Placement(string DeviceClass, double ExpectedFinishSeconds, string? Waiting);

/// <summary>
/// Fleet-aware dispatch, as pure functions (the gateway's dispatcher and <c>bench/fleet</c> both call these).
/// <c>auto</c> puts a stage on the class where it is expected to finish earliest, given the work already queued and
/// running there (only the work at the job's priority or above counts as ahead of it), the class's live slots and
/// its measured seconds per unit of work; classes whose workers lack the stage's model are skipped. A pinned class is
/// kept; without a live worker the stage still goes to its queue (a worker may come) and is marked waiting.
/// </summary>
public static class FleetScheduler
{
    public static string NoLiveWorker(string deviceClass) => $"waiting: no live worker for class {deviceClass}";

    /// <summary>Places one stage. <paramref name="pinned"/> is the job's class, or null for <c>auto</c>.</summary>
    /// <param name="fallbackClass">Where <c>auto</c> goes when no class has a live worker that can run it.</param>
    public static Placement Place(IReadOnlyList<ClassCapacity> classes, WorkItem item, string? pinned, string fallbackClass)
    {
        if (pinned is not null)
        {
            var own = classes.FirstOrDefault(c => c.DeviceClass == pinned);
            return own is { IsLive: true }
                ? new Placement(pinned, own.ExpectedFinish(item.Units, item.Priority), null)
                : new Placement(pinned, double.PositiveInfinity, NoLiveWorker(pinned));
        }

        ClassCapacity? best = null;
        var bestFinish = double.PositiveInfinity;
        foreach (var c in classes)
        {
            if (!c.IsLive || !CanRun(c, item.Model)) continue;
            var finish = c.ExpectedFinish(item.Units, item.Priority);
            // Ties go to the faster class (the job itself runs shorter there), then to more slots, then to the first listed.
            if (best is null || finish < bestFinish - 1e-12
                || (Math.Abs(finish - bestFinish) <= 1e-12 && (c.SecondsPerUnit < best.SecondsPerUnit || (c.SecondsPerUnit == best.SecondsPerUnit && c.Slots > best.Slots))))
            {
                best = c;
                bestFinish = finish;
            }
        }
        return best is not null
            ? new Placement(best.DeviceClass, bestFinish, null)
            : new Placement(fallbackClass, double.PositiveInfinity, NoLiveWorker(fallbackClass));
    }

    /// <summary>
    /// Places a batch so that it ends as early as possible: longest items first (LPT), each on the class where it
    /// finishes earliest given the items already placed. Returns the placements in the input's order.
    /// </summary>
    public static IReadOnlyList<Placement> PlaceBatch(IReadOnlyList<ClassCapacity> classes, IReadOnlyList<WorkItem> items, string? pinned, string fallbackClass)
    {
        var state = classes.ToList();
        var result = new Placement[items.Count];
        foreach (var index in Enumerable.Range(0, items.Count).OrderByDescending(i => items[i].Units).ThenBy(i => i))
        {
            var item = items[index];
            var placement = Place(state, item, pinned, fallbackClass);
            result[index] = placement;
            var at = state.FindIndex(c => c.DeviceClass == placement.DeviceClass);
            if (at >= 0) state[at] = state[at].WithQueued(item.Units, item.Priority);
        }
        return result;
    }

    /// <summary>The order a batch's items should be submitted in so that one-by-one <see cref="Place"/> equals <see cref="PlaceBatch"/>: longest first.</summary>
    public static IReadOnlyList<int> SubmissionOrder(IReadOnlyList<double> units) =>
        [.. Enumerable.Range(0, units.Count).OrderByDescending(i => units[i]).ThenBy(i => i)];

    private static bool CanRun(ClassCapacity c, string? model) => model is null || c.Models is null || c.Models.Contains(model);

    /// <summary>
    /// Seconds per unit of a class made of workers with different speeds and slots: the per-slot value that gives the
    /// class's total throughput (sum over workers of slots / seconds-per-unit).
    /// </summary>
    public static double CombinedSecondsPerUnit(IEnumerable<(int Slots, double SecondsPerUnit)> workers)
    {
        double slots = 0, throughput = 0;
        foreach (var (s, spu) in workers)
        {
            if (s <= 0 || spu <= 0) continue;
            slots += s;
            throughput += s / spu;
        }
        return throughput > 0 ? slots / throughput : double.NaN;
    }
}
