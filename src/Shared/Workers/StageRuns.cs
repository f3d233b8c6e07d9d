using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace TalkingFace.Workers;

/// <summary>
/// The stage runs of this process that outlive their (already acknowledged) commands. When the host stops, the runs
/// are cancelled (each reports itself failed and retryable, best effort) and awaited for a bounded time.
/// </summary>
public sealed class StageRuns(IServiceProvider services, IHostApplicationLifetime lifetime, ILogger<StageRuns> logger) : IHostedService
{
    private readonly HashSet<Task> _running = [];
    private readonly CancellationTokenSource _stopping = new();

    internal IServiceProvider Services { get; } = services;

    public int Count { get { lock (_running) return _running.Count; } }

    internal void Start(Func<CancellationToken, Task> run)
    {
        var task = Task.Run(() => run(_stopping.Token));
        lock (_running) _running.Add(task);
        _ = task.ContinueWith(t =>
        {
            lock (_running) _running.Remove(t);
            if (t.Exception is { } e) logger.LogError(e, "A stage run ended with an unhandled exception");
        }, TaskScheduler.Default);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(_stopping.Cancel);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        Task[] running;
        lock (_running) running = [.. _running];
        await Task.WhenAny(Task.WhenAll(running), Task.Delay(TimeSpan.FromSeconds(10), cancellationToken));
    }
}
