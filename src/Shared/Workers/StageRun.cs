using System.Diagnostics;
using TalkingFace.Contracts;
using TalkingFace.Storage;

namespace TalkingFace.Workers;

/// <summary>
/// What a stage runner works with: its ticket, timed steps, artifact I/O under the job's keys,
/// and a progress value the consumer reports as the stage's heartbeat.
/// </summary>
public sealed class StageRun(StageTicket ticket, IArtifactStore store)
{
    /// <summary>Most warnings one run reports; more are summed up in a last one.</summary>
    public const int MaxWarnings = 20;

    private readonly List<StoredArtifact> _artifacts = [];
    private readonly List<string> _warnings = [];
    private readonly Dictionary<string, double> _seconds = [];
    private readonly object _gate = new();

    public StageTicket Ticket { get; } = ticket;

    /// <summary>How much work this run was, in the stage's unit (<see cref="Contracts.WorkUnits"/>): seconds of audio, or images. Runners set it once known.</summary>
    public double? WorkUnits { get; set; }
    public double Progress { get; private set; }
    public string? CurrentStep { get; private set; }

    public IReadOnlyList<StoredArtifact> Artifacts { get { lock (_gate) return [.. _artifacts]; } }

    /// <summary>What the user should know about this run's success, in the order reported (see <see cref="Warn"/>).</summary>
    public IReadOnlyList<string> Warnings
    {
        get
        {
            lock (_gate)
            {
                return _warnings.Count <= MaxWarnings
                    ? [.. _warnings]
                    : [.. _warnings.Take(MaxWarnings - 1), $"and {_warnings.Count - MaxWarnings + 1} more warnings"];
            }
        }
    }

    public IReadOnlyList<StepTiming> Timings
    {
        get { lock (_gate) return [.. _seconds.Select(s => new StepTiming(s.Key, Math.Round(s.Value, 6)))]; }
    }

    /// <summary>
    /// Notes something the user should know although the stage succeeds (a skipped optional output, an input that was
    /// repaired); reported with the stage's success and shown on the job. Repeated messages are kept once.
    /// </summary>
    public void Warn(string message)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(message);
        lock (_gate)
        {
            if (!_warnings.Contains(message)) _warnings.Add(message);
        }
    }

    public void Report(double fraction, string? step = null)
    {
        Progress = Math.Clamp(fraction, 0, 1);
        if (step is not null) CurrentStep = step;
    }

    /// <summary>Runs <paramref name="work"/> and adds its wall time to <paramref name="step"/>.</summary>
    public async Task<T> TimeAsync<T>(string step, Func<Task<T>> work)
    {
        CurrentStep = step;
        var watch = Stopwatch.StartNew();
        try { return await work(); }
        finally { Add(step, watch.Elapsed.TotalSeconds); }
    }

    public T Time<T>(string step, Func<T> work)
    {
        CurrentStep = step;
        var watch = Stopwatch.StartNew();
        try { return work(); }
        finally { Add(step, watch.Elapsed.TotalSeconds); }
    }

    /// <summary>Adds seconds measured elsewhere (e.g. by a model chain that times its own steps) to <paramref name="step"/>.</summary>
    public void Record(string step, double seconds) => Add(step, seconds);

    /// <summary>Stores an output of this stage under <c>jobs/{id}/{stage}/{name}</c>; the same name always maps to the same key, so a redelivered command overwrites instead of duplicating.</summary>
    public async Task<StoredArtifact> SaveAsync(string name, Stream content, string contentType, CancellationToken ct)
    {
        var key = ArtifactNames.Key(Ticket.JobId, Ticket.Stage, name);
        var stored = await TimeAsync(Steps.ArtifactIo, () => store.PutAsync(key, name, content, contentType, ct));
        lock (_gate)
        {
            _artifacts.RemoveAll(a => a.Name == name);
            _artifacts.Add(stored);
        }
        return stored;
    }

    public Task<Stream> OpenAsync(string key, CancellationToken ct) =>
        TimeAsync(Steps.ArtifactIo, () => store.OpenReadAsync(key, ct));

    private void Add(string step, double seconds)
    {
        lock (_gate) _seconds[step] = _seconds.GetValueOrDefault(step) + seconds;
    }
}

/// <summary>What a finished stage reports besides its artifacts.</summary>
public sealed record StageOutcome(string Provider, string? Model);

/// <summary>Runs one stage. Throw <see cref="StageFailedException"/> for failures with a known reason; anything else is retried and then dead-lettered.</summary>
public interface IStageRunner<in TCommand> where TCommand : IStageCommand
{
    Task<StageOutcome> RunAsync(TCommand command, StageRun run, CancellationToken ct);
}

/// <summary>A stage failure whose reason is known and worded for the user (bad input, model not configured...).</summary>
public sealed class StageFailedException(string reason, bool retryable = false, Exception? inner = null)
    : Exception(reason, inner)
{
    public bool Retryable { get; } = retryable;
}
