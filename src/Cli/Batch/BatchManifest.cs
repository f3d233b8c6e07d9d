using System.Text.Json;

namespace TalkingFace.Cli.Batch;

/// <summary>
/// <c>manifest.json</c> in the output folder of <c>talkingface batch</c>: one entry per input file with the job it
/// became, its state and the files written for it (with sha256). Rewritten after every change, so an interrupted run
/// leaves an accurate record, and read back by the next run to skip what is already downloaded.
/// </summary>
public sealed class BatchManifest
{
    public string Server { get; set; } = "";
    public string Folder { get; set; } = "";
    public Dictionary<string, string?> Options { get; set; } = [];
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public BatchSummary Summary { get; set; } = new();
    public List<BatchItem> Items { get; set; } = [];

    public static BatchManifest? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<BatchManifest>(File.ReadAllText(path), GatewayClient.Json) : null;
        }
        catch (JsonException)
        {
            return null; // a damaged manifest is rewritten from scratch; the idempotency keys still prevent duplicates
        }
    }

    /// <summary>Writes to a temporary file and renames it over the old one, so a crash never leaves half a manifest.</summary>
    public void Write(string path)
    {
        UpdatedAt = DateTimeOffset.UtcNow;
        Summary = BatchSummary.Of(Items);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, GatewayClient.Json));
        File.Move(temporary, path, overwrite: true);
    }
}

public sealed class BatchItem
{
    /// <summary>Path relative to the input folder, with '/' separators.</summary>
    public string File { get; set; } = "";
    public string Kind { get; set; } = "";
    public string Sha256 { get; set; } = "";
    public long Bytes { get; set; }
    /// <summary>Derived from the content and the options: submitting the same file with the same options again gives the same job.</summary>
    public string IdempotencyKey { get; set; } = "";
    public Guid? JobId { get; set; }
    /// <summary><c>pending</c> (not submitted yet), <c>rejected</c> (the gateway refused it), or the job's state.</summary>
    public string State { get; set; } = BatchStates.Pending;
    public string? Reason { get; set; }
    /// <summary>The job's warnings ("motion: preview skipped: ..."): a succeeded item whose result lacks something or was repaired.</summary>
    public List<string> Warnings { get; set; } = [];
    public double Progress { get; set; }
    public double? TotalSeconds { get; set; }
    /// <summary>Folder (relative to the output folder) holding this item's results and job.json.</summary>
    public string? Output { get; set; }
    public List<BatchFile> Files { get; set; } = [];
    /// <summary>True once every result file was downloaded and checked against its sha256.</summary>
    public bool Downloaded { get; set; }

    public bool IsFinished => State is BatchStates.Rejected or "succeeded" or "failed" or "cancelled";
    public bool Failed => State is BatchStates.Rejected or "failed" or "cancelled";
}

public sealed record BatchFile(string Name, long Size, string Sha256);

public sealed class BatchSummary
{
    public int Total { get; set; }
    public int Succeeded { get; set; }
    public int Failed { get; set; }
    public int Cancelled { get; set; }
    public int Rejected { get; set; }
    public int Unfinished { get; set; }

    public static BatchSummary Of(IReadOnlyCollection<BatchItem> items) => new()
    {
        Total = items.Count,
        Succeeded = items.Count(i => i.State == "succeeded"),
        Failed = items.Count(i => i.State == "failed"),
        Cancelled = items.Count(i => i.State == "cancelled"),
        Rejected = items.Count(i => i.State == BatchStates.Rejected),
        Unfinished = items.Count(i => !i.IsFinished),
    };
}

public static class BatchStates
{
    public const string Pending = "pending";
    public const string Rejected = "rejected";
}
