using System.Globalization;
using System.Text.Json;
using TalkingFace.Gateway.Jobs;

namespace TalkingFace.Cli;

/// <summary>How jobs look on the terminal (or as JSON with --json).</summary>
public static class JobPrinter
{
    public static void Print(JobView job, bool json, TextWriter output)
    {
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(job, GatewayClient.Json));
            return;
        }
        output.WriteLine($"job {job.Id}  {job.Kind}  {job.State.ToUpperInvariant()}{(job.TotalSeconds is { } t ? $"  {Seconds(t)}" : "")}");
        if (job.Reason is not null) output.WriteLine($"  reason: {job.Reason}");
        foreach (var stage in job.Stages)
        {
            var where = stage.WorkerId is null ? stage.DeviceClass : $"{stage.DeviceClass} on {stage.WorkerId}";
            output.WriteLine($"  {stage.Name,-7} {stage.State,-10} attempt {stage.Attempt}/{stage.MaxAttempts}  {where}" +
                             (stage.Provider is null ? "" : $"  {stage.Provider}") +
                             (stage.State == "running" ? $"  {stage.Progress:P0} {stage.CurrentStep}" : ""));
            if (stage.QueueWaitSeconds is { } wait) output.WriteLine($"          queue wait       {Seconds(wait)}");
            foreach (var step in stage.Timings) output.WriteLine($"          {step.Step,-16} {Seconds(step.Seconds)}");
            if (stage.RunSeconds is { } run) output.WriteLine($"          run time         {Seconds(run)}");
            if (stage.Reason is not null && stage.State != "cancelled") output.WriteLine($"          reason: {stage.Reason}");
        }
        foreach (var a in job.Artifacts) output.WriteLine($"  artifact {a.Name} ({a.Stage}, {a.Size:N0} bytes, sha256 {a.Sha256[..12]}...)");
        // Last, so a warning is the first thing read after the job's outcome scrolls by (an older gateway sends none).
        foreach (var warning in job.Warnings ?? []) output.WriteLine($"  warning: {warning}");
    }

    public static void Progress(JobView job, TextWriter output)
    {
        var stages = string.Join("  ", job.Stages.Select(s => s.State == "running"
            ? $"{s.Name}: running {s.Progress.ToString("P0", CultureInfo.InvariantCulture)}{(s.CurrentStep is null ? "" : " " + s.CurrentStep)}"
            : $"{s.Name}: {s.State}{(s.Attempt > 1 ? $" (attempt {s.Attempt})" : "")}"));
        output.WriteLine($"[{DateTime.Now:HH:mm:ss}] {job.State,-9} {stages}");
    }

    private static string Seconds(double s) => s.ToString(s < 1 ? "0.000" : "0.00", CultureInfo.InvariantCulture) + " s";
}
