using System.Globalization;

namespace TalkingFace.Cli.Batch;

/// <summary>
/// The batch's progress on stderr: on a terminal, one line redrawn in place (bar, counts, ETA); otherwise (a pipe,
/// a log file, CI) a plain line whenever an item changes state, nothing redrawn.
/// </summary>
public sealed class BatchProgress(TextWriter output, bool interactive)
{
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private double? _startProgress;
    private int _lastLength;

    public static bool IsTerminal() =>
        !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not (null or "dumb");

    /// <summary>Redraws the bar (terminal) or, without a terminal, writes <paramref name="change"/> with the counts.</summary>
    public void Update(IReadOnlyList<BatchItem> items, string? change)
    {
        var line = Describe(items);
        if (interactive)
        {
            var text = line.Length < _lastLength ? line.PadRight(_lastLength) : line;
            output.Write("\r" + text);
            _lastLength = line.Length;
            output.Flush();
        }
        else if (change is not null)
        {
            output.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line} · {change}");
        }
    }

    /// <summary>Ends the redrawn line so what follows starts on a line of its own.</summary>
    public void Finish()
    {
        if (interactive && _lastLength > 0) output.WriteLine();
        _lastLength = 0;
    }

    public string Describe(IReadOnlyList<BatchItem> items)
    {
        var progress = items.Count == 0 ? 1 : items.Average(i => i.IsFinished ? 1 : i.Progress);
        _startProgress ??= progress;
        var done = items.Count(i => i.IsFinished);
        var failed = items.Count(i => i.Failed);
        var running = items.Count(i => i.State == "running");
        var pending = items.Count(i => i.State == BatchStates.Pending);
        var width = 24;
        var filled = (int)Math.Round(progress * width);
        var bar = new string('#', filled) + new string('-', width - filled);
        var parts = new List<string> { $"[{bar}] {progress.ToString("P0", CultureInfo.InvariantCulture),4}", $"{done}/{items.Count} done" };
        if (failed > 0) parts.Add($"{failed} failed");
        if (running > 0) parts.Add($"{running} running");
        if (pending > 0) parts.Add($"{pending} to submit");
        parts.Add("ETA " + Eta(progress));
        return string.Join(" · ", parts);
    }

    /// <summary>From this run's own rate: what it finished since it started, over the time it took.</summary>
    private string Eta(double progress)
    {
        if (progress >= 1) return "0:00";
        var gained = progress - (_startProgress ?? 0);
        var elapsed = (DateTimeOffset.UtcNow - _started).TotalSeconds;
        if (gained <= 0.001 || elapsed < 1) return "--:--";
        return Clock(elapsed / gained * (1 - progress));
    }

    public static string Clock(double seconds)
    {
        var s = (int)Math.Ceiling(Math.Max(0, seconds));
        return s >= 3600 ? $"{s / 3600}:{s / 60 % 60:00}:{s % 60:00}" : $"{s / 60}:{s % 60:00}";
    }
}
