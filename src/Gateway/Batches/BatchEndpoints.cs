using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Hosting;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Gateway.Jobs.Uploads;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Pipeline;
using TalkingFace.Gateway.Scheduling;
using TalkingFace.Gateway.Tenancy;
using TalkingFace.Media;

namespace TalkingFace.Gateway.Batches;

public sealed record BatchItemView(Guid JobId, string? InputName, string State, string? Reason, double Progress);

public sealed record BatchView(
    Guid Id,
    string? Name,
    string Kind,
    DateTimeOffset CreatedAt,
    int Total,
    IReadOnlyDictionary<string, int> Counts,
    double Progress,
    bool Finished,
    IReadOnlyList<BatchItemView> Items);

public static class BatchEndpoints
{
    public static IEndpointRouteBuilder MapBatches(this IEndpointRouteBuilder app)
    {
        var batches = app.MapGroup("/batches").WithTags("Batches");
        batches.MapPost("/", SubmitBatch)
            .WithSummary("Submit many talking-face jobs at once: multipart 'files' (one per clip) plus the talking-face options")
            .DisableAntiforgery();
        batches.MapGet("/{id:guid}", GetBatch).WithSummary("A batch with aggregate progress and each item's state");
        return app;
    }

    private static async Task<IResult> SubmitBatch(HttpRequest request, JobsDbContext db, JobSubmitter submitter, CurrentTenant tenant,
        IOptions<GatewayOptions> gateway, IOptions<PipelineOptions> pipeline, MotionModelContracts motion, CancellationToken ct)
    {
        var (form, problem) = await SubmitForm.ReadAsync(request, gateway.Value.MaxUploadBytes, ct);
        if (problem is not null) return problem;
        var files = form!.Files("files");
        if (files.Count == 0) form.Error("files", "attach at least one audio file.");
        if (files.Count > gateway.Value.MaxBatchItems) form.Error("files", $"{files.Count} files is more than the limit of {gateway.Value.MaxBatchItems}.");
        foreach (var file in files) form.Check("files", file, k => k.IsAudio(), "an audio file");
        var kind = form.Choice("kind", [JobKinds.TalkingFace], JobKinds.TalkingFace);
        var name = form.Text("name", 200);
        var (options, deviceClass, priority) = JobEndpoints.ReadTalkingFaceOptions(form, pipeline.Value, motion);
        if (form.HasErrors) return form.ValidationProblem();
        var seconds = new double?[files.Count];
        for (var i = 0; i < files.Count; i++)
        {
            var check = await AudioProbe.CheckAsync(files[i], ct);
            if (check.Problem is { } invalid)
                return Problems.Status(StatusCodes.Status400BadRequest, "An audio file cannot be used", invalid);
            seconds[i] = check.Seconds;
        }

        var key = JobEndpoints.IdempotencyKey(request);
        var optionsJson = JobOptionsJson.Write(options);
        var hash = Hash(kind, deviceClass, priority, optionsJson, files);
        var owner = tenant.Id;
        var batch = key is null ? null : await db.Batches.FirstOrDefaultAsync(b => b.TenantId == owner && b.IdempotencyKey == key, ct);
        if (batch is not null && batch.RequestHash != hash)
            return Problems.Status(StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused",
                $"Idempotency-Key '{key}' was already used for a different batch; use a new key for a new batch.");
        var existed = batch is not null;
        if (batch is null)
        {
            batch = new BatchRecord { Id = Guid.NewGuid(), TenantId = owner, Name = name, Kind = kind, IdempotencyKey = key, RequestHash = hash, CreatedAt = DateTimeOffset.UtcNow };
            db.Batches.Add(batch);
            await db.SaveChangesAsync(ct);
        }

        // Each item has its own key derived from the batch's, so a retried batch fills in what is missing without duplicates.
        // Longest clips are submitted (and so placed) first: with each placed where it finishes earliest, that keeps
        // the batch's makespan near its lower bound (FleetScheduler.PlaceBatch, measured by bench/fleet).
        foreach (var i in FleetScheduler.SubmissionOrder([.. seconds.Select(s => s ?? 0)]))
        {
            var itemKey = key is null ? null : $"{key}#{i}";
            await submitter.SubmitAsync(new JobDraft(kind, deviceClass, priority, JobOptionsJson.Write(options with { AudioSeconds = seconds[i] }),
                [JobEndpoints.Input(ArtifactNames.InputAudio, files[i])], itemKey, batch.Id), ct);
        }
        var view = await LoadViewAsync(db, owner, batch.Id, ct);
        return existed ? TypedResults.Ok(view) : TypedResults.Accepted($"/api/batches/{batch.Id}", view);
    }

    private static async Task<IResult> GetBatch(Guid id, JobsDbContext db, CurrentTenant tenant, CancellationToken ct) =>
        await LoadViewAsync(db, tenant.Id, id, ct) is { } view ? TypedResults.Ok(view) : Problems.NotFound($"There is no batch {id}.");

    private static async Task<BatchView?> LoadViewAsync(JobsDbContext db, Guid tenant, Guid id, CancellationToken ct)
    {
        var batch = await db.Batches.AsNoTracking().FirstOrDefaultAsync(b => b.Id == id && b.TenantId == tenant, ct);
        if (batch is null) return null;
        var jobs = await db.Jobs.AsNoTracking().Include(j => j.Stages).Where(j => j.BatchId == id && j.TenantId == tenant).ToListAsync(ct);
        var items = jobs.OrderBy(j => j.CreatedAt).ThenBy(j => j.InputName).Select(j => new BatchItemView(
            j.Id, j.InputName, j.State.ToString().ToLowerInvariant(), j.Reason,
            j.IsTerminal ? 1 : j.Stages.Count == 0 ? 0 : j.Stages.Average(s => s.IsTerminal ? 1 : s.Progress))).ToList();
        var counts = Enum.GetValues<JobState>().ToDictionary(s => s.ToString().ToLowerInvariant(), s => jobs.Count(j => j.State == s));
        return new BatchView(batch.Id, batch.Name, batch.Kind, batch.CreatedAt, jobs.Count, counts,
            items.Count == 0 ? 0 : Math.Round(items.Average(i => i.Progress), 4), jobs.Count > 0 && jobs.All(j => j.IsTerminal), items);
    }

    /// <summary>
    /// sha256 over the options and every file's name and content. Content, not just size: items are submitted under
    /// keys derived from the batch's, so a batch taken for a retry must carry exactly the same files as the first.
    /// </summary>
    private static string Hash(string kind, string deviceClass, int priority, string optionsJson, IEnumerable<StagedUpload> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{kind}|{deviceClass}|{priority}|{optionsJson}"));
        foreach (var f in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"|{f.FileName}:"));
            hash.AppendData(Convert.FromHexString(f.Sha256)); // each file was hashed as it arrived
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
