using MassTransit;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Pipeline;

namespace TalkingFace.Gateway.Fleet;

/// <summary>The last heartbeat of one worker for one stage, and whether the worker still counts as alive.</summary>
public sealed record WorkerState(WorkerHeartbeat Heartbeat, bool Alive)
{
    public string WorkerId => Heartbeat.Worker.WorkerId;
    public string DeviceClass => Heartbeat.Worker.DeviceClass;
    public string Stage => Heartbeat.Stage;
}

/// <summary>
/// This gateway replica's view of the fleet, in memory: every replica receives every heartbeat on its own temporary
/// queue, so no database table (and no migration) is needed for models and speeds. A worker is dead after
/// <see cref="FleetOptions.MissedHeartbeats"/> of its heartbeat intervals without one, and forgotten after
/// <c>Pipeline:ForgetWorkersAfter</c>.
/// </summary>
public sealed class FleetRegistry(IOptions<FleetOptions> fleet, IOptions<PipelineOptions> pipeline, TimeProvider clock)
{
    private readonly Dictionary<(string WorkerId, string Stage), WorkerHeartbeat> _last = [];
    private readonly DateTimeOffset _startedAt = clock.GetUtcNow();

    public DateTimeOffset Now => clock.GetUtcNow();

    /// <summary>Whether this registry has listened long enough (<see cref="FleetOptions.RegistryWarmUp"/>) for "no live worker" to be trusted.</summary>
    public bool IsWarm => Now - _startedAt >= fleet.Value.RegistryWarmUp;

    public void Record(WorkerHeartbeat heartbeat)
    {
        lock (_last)
        {
            var key = (heartbeat.Worker.WorkerId, heartbeat.Stage);
            if (_last.TryGetValue(key, out var earlier) && earlier.At > heartbeat.At) return; // a late, older one
            _last[key] = heartbeat;
        }
    }

    /// <summary>How long after its last heartbeat a worker still counts as alive.</summary>
    public TimeSpan AliveFor(WorkerHeartbeat heartbeat) =>
        heartbeat.Interval is { } interval && interval > TimeSpan.Zero
            ? interval * Math.Max(1, fleet.Value.MissedHeartbeats)
            : pipeline.Value.WorkerTimeout;

    public IReadOnlyList<WorkerState> Snapshot()
    {
        var now = Now;
        var forgetBefore = now - pipeline.Value.ForgetWorkersAfter;
        lock (_last)
        {
            foreach (var key in _last.Where(kv => kv.Value.At < forgetBefore).Select(kv => kv.Key).ToList()) _last.Remove(key);
            return [.. _last.Values.Select(h => new WorkerState(h, now - h.At <= AliveFor(h)))];
        }
    }

    /// <summary>Whether a live worker serves <paramref name="stage"/> for <paramref name="deviceClass"/>.</summary>
    public bool HasLiveWorker(string stage, string deviceClass) =>
        Snapshot().Any(w => w.Alive && w.Stage == stage && w.DeviceClass == deviceClass);
}

/// <summary>Feeds this replica's <see cref="FleetRegistry"/>; bound to a temporary queue of its own, so every replica gets every heartbeat.</summary>
public sealed class FleetRegistryConsumer(FleetRegistry registry) : IConsumer<WorkerHeartbeat>
{
    public Task Consume(ConsumeContext<WorkerHeartbeat> context)
    {
        registry.Record(context.Message);
        return Task.CompletedTask;
    }
}
