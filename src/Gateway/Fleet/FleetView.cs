using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Pipeline;
using TalkingFace.Gateway.Scheduling;

namespace TalkingFace.Gateway.Fleet;

/// <summary>One worker for one stage, as <c>GET /api/fleet/workers</c> and <c>GET /api/fleet</c> show it.</summary>
public sealed record WorkerView(string WorkerId, string Stage, string Host, string DeviceClass, IReadOnlyList<string> Providers,
    int Concurrency, int InFlight, bool Alive, DateTimeOffset LastSeenAt, IReadOnlyList<WorkerModel> Models, WorkerSpeed? Speed);

/// <summary>One stage x device class of the fleet: its live capacity, speed and backlog.</summary>
/// <param name="BusyWorkers">Live workers with at least one run in flight.</param>
/// <param name="SecondsPerUnit">Seconds of run time per unit of work per slot: measured (moving average) or, before any measurement, assumed.</param>
/// <param name="Queued">Stages sent to this class's queue and not started.</param>
/// <param name="Running">Stages running on this class.</param>
/// <param name="BacklogUnits">Work queued and still left in running stages, in <paramref name="Unit"/>.</param>
/// <param name="ExpectedWaitSeconds">When a new priority-0 stage would start here; null without a live worker.</param>
/// <param name="Waiting">Set when work waits for this class and none of its workers is alive.</param>
public sealed record FleetClassView(string Stage, string DeviceClass, int LiveWorkers, int BusyWorkers, int Slots, int InFlight,
    double SecondsPerUnit, bool SpeedMeasured, string Unit, int Queued, int Running, double BacklogUnits, double? ExpectedWaitSeconds,
    IReadOnlyList<string> Providers, IReadOnlyList<string> Models, string? Waiting);

/// <summary><c>GET /api/fleet</c>: every stage x class, then every worker.</summary>
public sealed record FleetSummary(DateTimeOffset At, IReadOnlyList<FleetClassView> Classes, IReadOnlyList<WorkerView> Workers);

/// <summary>Work of one stage x class that is queued or running, per priority.</summary>
public sealed record ClassBacklog(string Stage, string DeviceClass, int Queued, int Running, double RunningUnits, double[] QueuedUnitsByPriority)
{
    public double Units => RunningUnits + QueuedUnitsByPriority.Sum();
}

/// <summary>
/// Joins the in-memory registry (who is alive, how fast, which models) with the database (what was dispatched and is
/// unfinished) into what the scheduler and the API need.
/// </summary>
public sealed class FleetView(JobsDbContext db, FleetRegistry registry, SchedulerBacklog schedulerBacklog, IOptions<FleetOptions> fleet, IOptions<PipelineOptions> pipeline)
{
    /// <summary>Units of work of one stage of a job: seconds of audio for talking-face stages, one image for hair.</summary>
    public double UnitsOf(string kind, string optionsJson)
    {
        if (kind != JobKinds.TalkingFace) return 1;
        try
        {
            return JobOptionsJson.Read<TalkingFaceOptions>(optionsJson).AudioSeconds is > 0 and var seconds ? seconds : fleet.Value.DefaultAudioSeconds;
        }
        catch (System.Text.Json.JsonException)
        {
            return fleet.Value.DefaultAudioSeconds;
        }
    }

    /// <summary>The model a stage of this job needs, or null when the stage needs none we track.</summary>
    public static string? ModelOf(string kind, string stage, string optionsJson)
    {
        if (kind != JobKinds.TalkingFace) return null;
        var options = JobOptionsJson.Read<TalkingFaceOptions>(optionsJson);
        return stage switch { Stages.Audio => options.FeatureModel, Stages.Motion => options.MotionModel, _ => null };
    }

    public async Task<IReadOnlyList<ClassBacklog>> BacklogAsync(CancellationToken ct)
    {
        var rows = await db.Stages.AsNoTracking()
            .Where(s => s.State == StageState.Queued || s.State == StageState.Running)
            .Join(db.Jobs.AsNoTracking(), s => s.JobId, j => j.Id,
                (s, j) => new { s.Name, s.DeviceClass, s.State, s.Progress, j.Priority, j.Kind, j.OptionsJson })
            .ToListAsync(ct);
        return [.. rows.GroupBy(r => (r.Name, r.DeviceClass)).Select(g =>
        {
            var queued = new double[ClassCapacity.Priorities];
            double running = 0;
            foreach (var r in g)
            {
                var units = UnitsOf(r.Kind, r.OptionsJson);
                if (r.State == StageState.Running) running += units * Math.Clamp(1 - r.Progress, 0, 1);
                else queued[Math.Clamp(r.Priority, 0, ClassCapacity.Priorities - 1)] += units;
            }
            return new ClassBacklog(g.Key.Name, g.Key.DeviceClass, g.Count(r => r.State == StageState.Queued), g.Count(r => r.State == StageState.Running), running, queued);
        })];
    }

    /// <summary>Every class the fleet knows for <paramref name="stage"/>, with its capacity and backlog, for the scheduler.</summary>
    public IReadOnlyList<ClassCapacity> Capacity(string stage, IReadOnlyList<WorkerState> workers, IReadOnlyList<ClassBacklog> backlog) =>
        [.. ClassesOf(workers, backlog).Select(c => CapacityOf(stage, c, workers, backlog))];

    /// <summary>As <see cref="Capacity"/>, on the scheduler's backlog (<see cref="SchedulerBacklog"/>: at most a second old, plus this gateway's own dispatches).</summary>
    public async Task<IReadOnlyList<ClassCapacity>> CapacityAsync(string stage, CancellationToken ct) =>
        Capacity(stage, registry.Snapshot(), await schedulerBacklog.GetAsync(BacklogAsync, ct));

    private ClassCapacity CapacityOf(string stage, string deviceClass, IReadOnlyList<WorkerState> workers, IReadOnlyList<ClassBacklog> backlog)
    {
        var live = workers.Where(w => w.Alive && w.Stage == stage && w.DeviceClass == deviceClass).ToList();
        var slots = live.Sum(w => Math.Max(1, w.Heartbeat.Concurrency));
        var measured = live.Where(w => w.Heartbeat.Speed is { Samples: > 0, SecondsPerUnit: > 0 }).ToList();
        var spu = measured.Count > 0
            ? FleetScheduler.CombinedSecondsPerUnit(measured.Select(w => (Math.Max(1, w.Heartbeat.Concurrency), w.Heartbeat.Speed!.SecondsPerUnit)))
            : fleet.Value.AssumedSecondsPerUnit.GetValueOrDefault(deviceClass, fleet.Value.DefaultSecondsPerUnit);
        var reportsModels = live.Where(w => w.Heartbeat.Models is { Count: > 0 }).ToList();
        IReadOnlySet<string>? models = reportsModels.Count > 0
            ? reportsModels.SelectMany(w => w.Heartbeat.Models!).Select(m => m.Name).ToHashSet(StringComparer.Ordinal)
            : null;
        var own = backlog.FirstOrDefault(b => b.Stage == stage && b.DeviceClass == deviceClass);
        return new ClassCapacity(deviceClass, live.Count, slots, spu, measured.Count > 0,
            own?.RunningUnits ?? 0, own is null ? new double[ClassCapacity.Priorities] : (double[])own.QueuedUnitsByPriority.Clone(), models);
    }

    private IEnumerable<string> ClassesOf(IReadOnlyList<WorkerState> workers, IReadOnlyList<ClassBacklog> backlog) =>
        pipeline.Value.KnownDeviceClasses
            .Concat(workers.Select(w => w.DeviceClass))
            .Concat(backlog.Select(b => b.DeviceClass))
            .Where(c => c != DeviceClasses.Auto)
            .Distinct(StringComparer.Ordinal);

    public async Task<FleetSummary> SummaryAsync(CancellationToken ct)
    {
        var workers = registry.Snapshot();
        var backlog = await BacklogAsync(ct);
        var rows = new List<FleetClassView>();
        foreach (var stage in Stages.All)
        {
            foreach (var capacity in Capacity(stage, workers, backlog))
            {
                var live = workers.Where(w => w.Alive && w.Stage == stage && w.DeviceClass == capacity.DeviceClass).ToList();
                var own = backlog.FirstOrDefault(b => b.Stage == stage && b.DeviceClass == capacity.DeviceClass);
                var queued = own?.Queued ?? 0;
                var running = own?.Running ?? 0;
                rows.Add(new FleetClassView(stage, capacity.DeviceClass, capacity.LiveWorkers, live.Count(w => w.Heartbeat.InFlight > 0),
                    capacity.Slots, live.Sum(w => w.Heartbeat.InFlight), Math.Round(capacity.SecondsPerUnit, 6), capacity.SpeedMeasured,
                    WorkUnits.Of(stage), queued, running, Math.Round(own?.Units ?? 0, 3),
                    capacity.IsLive ? Math.Round(capacity.ExpectedFinish(0, 0), 3) : null,
                    [.. live.SelectMany(w => w.Heartbeat.Providers).Distinct().Order(StringComparer.Ordinal)],
                    [.. live.SelectMany(w => w.Heartbeat.Models ?? []).Select(m => $"{m.Name}@{m.Version}").Distinct().Order(StringComparer.Ordinal)],
                    queued + running > 0 && !capacity.IsLive ? FleetScheduler.NoLiveWorker(capacity.DeviceClass) : null));
            }
        }
        return new FleetSummary(registry.Now, rows, await WorkersAsync(workers, ct));
    }

    /// <summary>Every worker the database or this replica's registry knows, newest details first.</summary>
    public async Task<IReadOnlyList<WorkerView>> WorkersAsync(IReadOnlyList<WorkerState>? known, CancellationToken ct)
    {
        known ??= registry.Snapshot();
        var aliveAfter = registry.Now - pipeline.Value.WorkerTimeout;
        var fromDb = await db.Workers.AsNoTracking().ToListAsync(ct);
        var views = known.ToDictionary(w => (w.WorkerId, w.Stage), w => new WorkerView(w.WorkerId, w.Stage, w.Heartbeat.Worker.Host, w.DeviceClass,
            w.Heartbeat.Providers, w.Heartbeat.Concurrency, w.Heartbeat.InFlight, w.Alive, w.Heartbeat.At, w.Heartbeat.Models ?? [], w.Heartbeat.Speed));
        foreach (var r in fromDb)
        {
            if (views.TryGetValue((r.WorkerId, r.Stage), out var mine) && mine.LastSeenAt >= r.LastSeenAt) continue;
            views[(r.WorkerId, r.Stage)] = new WorkerView(r.WorkerId, r.Stage, r.Host, r.DeviceClass, r.Providers, r.Concurrency, r.InFlight,
                r.LastSeenAt >= aliveAfter, r.LastSeenAt, mine?.Models ?? [], mine?.Speed);
        }
        return [.. views.Values.OrderBy(w => w.Stage, StringComparer.Ordinal).ThenBy(w => w.DeviceClass, StringComparer.Ordinal).ThenBy(w => w.WorkerId, StringComparer.Ordinal)];
    }
}
