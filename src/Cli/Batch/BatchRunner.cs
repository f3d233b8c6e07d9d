using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Jobs;

namespace TalkingFace.Cli.Batch;

/// <summary>What <c>talkingface batch</c> was asked to do.</summary>
/// <param name="Fields">The form fields sent with every talking-face item (featureModel, deviceClass, ...).</param>
/// <param name="HairFields">The form fields sent with every hair item (mode, shapeId, colorId, deviceClass, ...).</param>
/// <param name="HairReferences">Reference images sent with every hair item: ("shape", file), ("color", file).</param>
public sealed record BatchSettings(
    DirectoryInfo Folder,
    DirectoryInfo Output,
    string Kind,
    bool Recursive,
    IReadOnlyDictionary<string, string?> Fields,
    IReadOnlyDictionary<string, string?> HairFields,
    IReadOnlyList<(string Field, FileInfo File)> HairReferences,
    int Parallel,
    bool Download,
    TimeSpan PollInterval);

/// <summary>
/// Submits every clip (or image) of a folder as its own job, follows them, downloads each one's results into its own
/// folder under the output folder and keeps <c>manifest.json</c> up to date. Each item's Idempotency-Key is a hash of
/// its content and the options, so running the same command again (after Ctrl+C, a crash, a lost connection) finds
/// the jobs it already made instead of making new ones; items already downloaded and intact are not fetched again.
/// </summary>
public sealed class BatchRunner(GatewayClient client, BatchSettings settings, TextWriter output, TextWriter log, bool interactive)
{
    public const int ExitSucceeded = 0;
    public const int ExitError = 1;
    public const int ExitItemsFailed = 2;
    public const int ExitInterrupted = 130;

    public static readonly string[] AudioExtensions = [".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".webm", ".aac"];
    public static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".webp"];

    private readonly object _gate = new();
    private readonly BatchProgress _progress = new(log, interactive);
    private BatchManifest _manifest = new();
    private string ManifestPath => Path.Combine(settings.Output.FullName, "manifest.json");

    public BatchManifest Manifest => _manifest;

    public async Task<int> RunAsync(bool json, CancellationToken ct)
    {
        if (!settings.Folder.Exists) throw new IOException($"no such folder: {settings.Folder.FullName}");
        settings.Output.Create();
        var (inputs, skipped) = FindInputs();
        foreach (var note in skipped) log.WriteLine($"skipped {note}");
        if (inputs.Count == 0) throw new IOException($"{settings.Folder.FullName} has no {DescribeWanted()} to submit");

        var previous = BatchManifest.TryRead(ManifestPath);
        _manifest = new BatchManifest
        {
            Server = client.BaseAddress.ToString(),
            Folder = settings.Folder.FullName,
            Options = Options(),
            StartedAt = previous?.StartedAt ?? DateTimeOffset.UtcNow,
        };
        var byKey = previous?.Items.GroupBy(i => i.IdempotencyKey).ToDictionary(g => g.Key, g => g.ToList()) ?? [];
        foreach (var (file, kind) in inputs)
        {
            var item = await DescribeAsync(file, kind, ct);
            var earlier = byKey.GetValueOrDefault(item.IdempotencyKey)?.FirstOrDefault(i => i.File == item.File);
            if (earlier is { Downloaded: true, State: "succeeded" } && FilesIntact(earlier)) item = earlier; // nothing left to do for it
            _manifest.Items.Add(item);
        }
        var resumed = _manifest.Items.Count(i => i.Downloaded);
        log.WriteLine($"batch: {_manifest.Items.Count} {(_manifest.Items.Count == 1 ? "item" : "items")} from {settings.Folder.FullName} to {client.BaseAddress}" +
                      (resumed > 0 ? $" ({resumed} already done in an earlier run)" : ""));
        Save();

        var started = DateTimeOffset.UtcNow;
        try
        {
            await SubmitAllAsync(ct);
            await FollowAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            _progress.Finish();
            Save();
            var submitted = _manifest.Items.Count(i => i.JobId is not null);
            log.WriteLine($"interrupted: {submitted} of {_manifest.Items.Count} submitted, {_manifest.Items.Count(i => i.IsFinished)} finished. " +
                          "Run the same command again to resume: the jobs already made are found again, not duplicated.");
            return ExitInterrupted;
        }
        _progress.Finish();
        _manifest.FinishedAt = DateTimeOffset.UtcNow;
        Save();
        PrintSummary(json, DateTimeOffset.UtcNow - started);
        return _manifest.Items.Any(i => i.Failed) ? ExitItemsFailed : ExitSucceeded;
    }

    private string DescribeWanted() => settings.Kind switch
    {
        "talking-face" => "audio clips",
        "hair" => "images",
        _ => settings.HairReferences.Count > 0 || settings.HairFields.Any(f => f.Key is "shapeId" or "colorId" && f.Value is not null)
            ? "audio clips or images" : "audio clips",
    };

    /// <summary>The files to submit, in name order, and notes about those left out.</summary>
    private (List<(FileInfo File, string Kind)> Inputs, List<string> Skipped) FindInputs()
    {
        var hairReady = settings.HairReferences.Count > 0 || settings.HairFields.Any(f => f.Key is "shapeId" or "colorId" && f.Value is not null);
        var output = settings.Output.FullName.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var references = settings.HairReferences.Select(r => r.File.FullName).ToHashSet();
        var inputs = new List<(FileInfo, string)>();
        var skipped = new List<string>();
        var files = settings.Folder.EnumerateFiles("*", settings.Recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Where(f => !f.FullName.StartsWith(output, StringComparison.Ordinal) && !references.Contains(f.FullName) && !f.Name.StartsWith('.'))
            .OrderBy(f => Relative(f), StringComparer.Ordinal);
        foreach (var file in files)
        {
            var extension = file.Extension.ToLowerInvariant();
            var isAudio = AudioExtensions.Contains(extension);
            var isImage = ImageExtensions.Contains(extension);
            if (isAudio && settings.Kind is "auto" or "talking-face") inputs.Add((file, JobKinds.TalkingFace));
            else if (isImage && settings.Kind == "hair") inputs.Add((file, JobKinds.Hair));
            else if (isImage && settings.Kind == "auto" && hairReady) inputs.Add((file, JobKinds.Hair));
            else if (isImage && settings.Kind == "auto") skipped.Add($"{Relative(file)}: an image, but no hair reference was given (--shape-id/--color-id or --shape/--color)");
            else if (isAudio || isImage) skipped.Add($"{Relative(file)}: not a {settings.Kind} input");
        }
        return (inputs, skipped);
    }

    private string Relative(FileInfo file) => Path.GetRelativePath(settings.Folder.FullName, file.FullName).Replace(Path.DirectorySeparatorChar, '/');

    private Dictionary<string, string?> Options()
    {
        var options = new Dictionary<string, string?>(settings.Fields);
        foreach (var (k, v) in settings.HairFields) options["hair." + k] = v;
        foreach (var (field, file) in settings.HairReferences) options["hair." + field] = file.FullName;
        return options;
    }

    private async Task<BatchItem> DescribeAsync(FileInfo file, string kind, CancellationToken ct)
    {
        var sha = await HashFileAsync(file.FullName, ct);
        // The key: the content and everything that shapes the job, never the file's name or place, so a renamed or
        // moved copy is still the same job, and a different option is a different job.
        var key = new StringBuilder($"talkingface-batch/v1|{kind}|{sha}");
        var fields = kind == JobKinds.Hair ? settings.HairFields : settings.Fields;
        foreach (var (name, value) in fields.Where(f => !string.IsNullOrWhiteSpace(f.Value)).OrderBy(f => f.Key, StringComparer.Ordinal))
            key.Append(CultureInfo.InvariantCulture, $"|{name}={value}");
        if (kind == JobKinds.Hair)
        {
            foreach (var (field, reference) in settings.HairReferences)
                key.Append(CultureInfo.InvariantCulture, $"|{field}#{await HashFileAsync(reference.FullName, ct)}");
        }
        var relative = Relative(file);
        return new BatchItem
        {
            File = relative,
            Kind = kind,
            Sha256 = sha,
            Bytes = file.Length,
            IdempotencyKey = "batch-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString()))),
            Output = OutputFolderFor(relative),
        };
    }

    /// <summary>"talks/day 1.wav" → "talks/day 1": the file's own name without its extension, keeping sub-folders.</summary>
    private static string OutputFolderFor(string relative)
    {
        var folder = Path.GetDirectoryName(relative)?.Replace('\\', '/');
        var name = Path.GetFileNameWithoutExtension(relative);
        var extension = Path.GetExtension(relative).TrimStart('.');
        // clip.wav and clip.mp3 side by side must not share a folder
        var leaf = $"{name}.{extension}";
        return string.IsNullOrEmpty(folder) ? leaf : $"{folder}/{leaf}";
    }

    private async Task SubmitAllAsync(CancellationToken ct)
    {
        var todo = _manifest.Items.Where(i => !i.Downloaded).ToList();
        _progress.Update(_manifest.Items, todo.Count == 0 ? null : $"submitting {todo.Count}");
        await Parallel.ForEachAsync(todo, new ParallelOptions { MaxDegreeOfParallelism = settings.Parallel, CancellationToken = ct },
            async (item, token) => await SubmitAsync(item, token));
    }

    private async Task SubmitAsync(BatchItem item, CancellationToken ct)
    {
        var file = new FileInfo(Path.Combine(settings.Folder.FullName, item.File));
        var (path, files, fields) = item.Kind == JobKinds.Hair
            ? ("/api/jobs/hair", (IEnumerable<(string, FileInfo)>)[("face", file), .. settings.HairReferences], settings.HairFields)
            : ("/api/jobs/talking-face", [("audio", file)], settings.Fields);
        // Retries (429/503 waited out, a restarting gateway) are the client's (GatewayRetry); the key makes them safe.
        try
        {
            var (job, existed) = await client.SubmitFormAsync(path, files, fields, item.IdempotencyKey, ct);
            Record(item, job, existed ? "found the job an earlier run made" : "submitted");
        }
        catch (GatewayException e) when ((int)e.Status is >= 400 and < 500 and not 408 and not 429)
        {
            lock (_gate)
            {
                item.State = BatchStates.Rejected;
                item.Reason = e.Message;
                Changed($"{item.File} refused: {e.Message}");
            }
        }
    }

    /// <summary>Polls every submitted, unfinished item until each has finished and been collected.</summary>
    private async Task FollowAsync(CancellationToken ct)
    {
        var collected = _manifest.Items.Where(i => i.Downloaded).ToHashSet();
        while (true)
        {
            var open = _manifest.Items.Where(i => i.JobId is not null && !collected.Contains(i)).ToList();
            if (open.Count == 0) return;
            await Parallel.ForEachAsync(open, new ParallelOptions { MaxDegreeOfParallelism = settings.Parallel, CancellationToken = ct },
                async (item, token) =>
                {
                    var job = await client.GetJobAsync(item.JobId!.Value, token);
                    Record(item, job, null);
                    if (!item.IsFinished) return;
                    await CollectAsync(item, job, token);
                    lock (_gate) collected.Add(item);
                });
            if (_manifest.Items.All(i => i.JobId is null || collected.Contains(i))) return;
            await Task.Delay(settings.PollInterval, ct);
        }
    }

    private void Record(BatchItem item, JobView job, string? note)
    {
        lock (_gate)
        {
            var before = item.State;
            item.JobId = job.Id;
            item.State = job.State;
            item.Reason = job.Reason;
            item.Warnings = [.. job.Warnings ?? []];
            item.TotalSeconds = job.TotalSeconds;
            item.Progress = job.Stages.Count == 0 ? 0 : job.Stages.Average(s => s.State is "succeeded" or "failed" or "cancelled" ? 1 : s.Progress);
            var change = note is not null ? $"{item.File} {note} ({ShortId(job.Id)}, {job.State})"
                : before != job.State ? $"{item.File} {job.State}" + (job.TotalSeconds is { } t ? $" in {t.ToString("0.0", CultureInfo.InvariantCulture)} s" : "") +
                                        (job.Reason is null ? "" : $": {job.Reason}")
                : null;
            Changed(change);
        }
    }

    /// <summary>
    /// Downloads what the job made (not the user's own input) and job.json into the item's folder, checking each sha256;
    /// for a failed job, what its finished steps made.
    /// </summary>
    private async Task CollectAsync(BatchItem item, JobView job, CancellationToken ct)
    {
        var folder = Path.Combine(settings.Output.FullName, item.Output!);
        Directory.CreateDirectory(folder);
        var files = new List<BatchFile>();
        if (settings.Download) // a failed job's partial results too, e.g. detections.json saying why a photo was refused
        {
            foreach (var artifact in job.Artifacts.Where(a => a.Stage != "input"))
            {
                var path = Path.Combine(folder, Path.GetFileName(artifact.Name));
                await client.DownloadAsync(artifact, path, ct);
                var sha = await HashFileAsync(path, ct);
                if (!string.Equals(sha, artifact.Sha256, StringComparison.OrdinalIgnoreCase))
                    throw new IOException($"{artifact.Name} of job {job.Id} arrived damaged (sha256 {sha[..12]}..., expected {artifact.Sha256[..12]}...)");
                files.Add(new BatchFile(Path.GetFileName(artifact.Name), new FileInfo(path).Length, sha));
            }
        }
        await File.WriteAllTextAsync(Path.Combine(folder, "job.json"), JsonSerializer.Serialize(job, GatewayClient.Json), ct);
        lock (_gate)
        {
            item.Files = files;
            item.Downloaded = settings.Download && job.State == "succeeded";
            Changed(null);
        }
    }

    private bool FilesIntact(BatchItem item)
    {
        if (item.Output is null) return false;
        foreach (var file in item.Files)
        {
            var path = Path.Combine(settings.Output.FullName, item.Output, file.Name);
            if (!File.Exists(path) || new FileInfo(path).Length != file.Size) return false;
            using var stream = File.OpenRead(path);
            if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(stream)), file.Sha256, StringComparison.OrdinalIgnoreCase)) return false;
        }
        return item.Files.Count > 0;
    }

    /// <summary>Under the lock: saves the manifest and shows the change.</summary>
    private void Changed(string? change)
    {
        Save();
        _progress.Update(_manifest.Items, change);
    }

    private void Save()
    {
        lock (_gate) _manifest.Write(ManifestPath);
    }

    private void PrintSummary(bool json, TimeSpan took)
    {
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(_manifest, GatewayClient.Json));
            return;
        }
        var s = _manifest.Summary;
        var parts = new List<string> { $"{s.Succeeded} succeeded" };
        if (s.Failed > 0) parts.Add($"{s.Failed} failed");
        if (s.Cancelled > 0) parts.Add($"{s.Cancelled} cancelled");
        if (s.Rejected > 0) parts.Add($"{s.Rejected} refused by the gateway");
        output.WriteLine($"batch: {s.Total} items, {string.Join(", ", parts)} ({BatchProgress.Clock(took.TotalSeconds)})");
        foreach (var item in _manifest.Items.Where(i => i.Failed))
            output.WriteLine($"  {item.State,-9} {item.File}{(item.JobId is { } id ? $" (job {ShortId(id)})" : "")}: {item.Reason ?? "no reason given"}");
        // One line per distinct warning, so a hundred clips without a preview say so once.
        foreach (var warning in _manifest.Items.Where(i => !i.Failed).SelectMany(i => i.Warnings.Select(w => (Item: i, Text: w))).GroupBy(w => w.Text))
        {
            var items = warning.Select(w => w.Item).ToList();
            var which = items.Count == 1 ? items[0].File + (items[0].JobId is { } id ? $" (job {ShortId(id)})" : "") : $"{items.Count} items";
            output.WriteLine($"  warning   {which}: {warning.Key}");
        }
        output.WriteLine($"results: {settings.Output.FullName} (manifest.json)");
    }

    private static string ShortId(Guid id) => id.ToString()[..8];

    private static async Task<string> HashFileAsync(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
    }
}
