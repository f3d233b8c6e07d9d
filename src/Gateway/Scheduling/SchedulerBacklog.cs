using Microsoft.Extensions.Options;
using TalkingFace.Gateway.Fleet;

namespace TalkingFace.Gateway.Scheduling;

/// <summary>
/// The backlog as the scheduler sees it when it places a stage: read from the database at most every
/// <c>Fleet:SchedulerBacklogRefresh</c> (1 s), and between reads kept current with what this gateway dispatched itself,
/// so a burst of submits is spread as if each had read the database, without one backlog query per submit (that query
/// grows with the backlog: under load it made every submit slower the longer the queue). Stages started or finished
/// since the last read, and other replicas' dispatches, show up at the next read.
/// </summary>
public sealed class SchedulerBacklog(IOptions<FleetOptions> fleet, TimeProvider clock)
{
    private readonly SemaphoreSlim _reading = new(1, 1);
    private readonly object _gate = new();
    private List<ClassBacklog> _rows = [];
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;

    public async Task<IReadOnlyList<ClassBacklog>> GetAsync(Func<CancellationToken, Task<IReadOnlyList<ClassBacklog>>> read, CancellationToken ct)
    {
        if (!IsStale()) return Copy();
        await _reading.WaitAsync(ct);
        try
        {
            if (IsStale())
            {
                var rows = await read(ct);
                lock (_gate)
                {
                    _rows = [.. rows];
                    _readAt = clock.GetUtcNow();
                }
            }
        }
        finally
        {
            _reading.Release();
        }
        return Copy();
    }

    /// <summary>This gateway just queued <paramref name="units"/> of <paramref name="stage"/> on <paramref name="deviceClass"/>.</summary>
    public void Dispatched(string stage, string deviceClass, int priority, double units)
    {
        lock (_gate)
        {
            var at = _rows.FindIndex(r => r.Stage == stage && r.DeviceClass == deviceClass);
            var row = at >= 0 ? _rows[at] : new ClassBacklog(stage, deviceClass, 0, 0, 0, new double[ClassCapacity.Priorities]);
            var queued = (double[])row.QueuedUnitsByPriority.Clone();
            queued[Math.Clamp(priority, 0, ClassCapacity.Priorities - 1)] += units;
            var updated = row with { Queued = row.Queued + 1, QueuedUnitsByPriority = queued };
            if (at >= 0) _rows[at] = updated;
            else _rows.Add(updated);
        }
    }

    private bool IsStale()
    {
        lock (_gate) return clock.GetUtcNow() - _readAt >= fleet.Value.SchedulerBacklogRefresh;
    }

    private List<ClassBacklog> Copy()
    {
        lock (_gate) return [.. _rows];
    }
}
