using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Gallery;
using TalkingFace.Gateway.Hosting;
using TalkingFace.Gateway.Jobs.Uploads;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Pipeline;
using TalkingFace.Gateway.Tenancy;
using TalkingFace.Media;
using TalkingFace.Storage;

namespace TalkingFace.Gateway.Jobs;

public static class JobEndpoints
{
    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>Rate-limiter policy of the submit endpoints: a bounded number at once, the rest queued (Gateway:MaxConcurrentSubmits).</summary>

    public static IEndpointRouteBuilder MapJobs(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/jobs").WithTags("Jobs");

        jobs.MapPost("/talking-face", SubmitTalkingFace)
            .WithSummary("Submit a talking-face job: multipart field 'audio' plus options")
            .WithDescription("Form fields: audio (file, required), featureModel (hubert-large | hubert-large-int8 | hubert-base | fast-hubert | fast-hubert-int8), " +
                             "motionModel (default: the one that takes the feature model: geneface-a2m for HuBERT-large, geneface-a2m-fast for Fast-HuBERT), " +
                             "deviceClass (cpu | rtx | jetson | apple | auto), priority (0-9), seed (int), temperature (0-2). Header Idempotency-Key is honoured.")
            .DisableAntiforgery();
        jobs.MapPost("/hair", SubmitHair)
            .WithSummary("Submit a hair job: multipart 'face' image, mode, and a shape and/or color reference: a gallery id ('shapeId', 'colorId') or an image ('shape', 'color')")
            .DisableAntiforgery();
        jobs.MapPost("/probe", SubmitProbe)
            .Accepts<ProbeRequest>("application/json")
            .WithSummary("Submit a probe job: no input, one stage that does nothing, served by every worker")
            .WithDescription("Checks a deployment end to end (tenant, database, scheduler, queue, a worker, its events) and measures the " +
                             "pipeline's own cost (bench/load). Optional JSON body: { \"deviceClass\": \"cpu\" | ... | \"auto\", \"priority\": 0-9 }. " +
                             "Header Idempotency-Key is honoured.")
            .DisableAntiforgery();
        jobs.MapGet("/{id:guid}", GetJob).WithMetadata(AcceptsJobToken.Instance).WithSummary("A job with its stages, timings and artifacts");
        jobs.MapGet("/", ListJobs).WithSummary("Jobs, newest first, filtered by state, kind or batch, paged");
        jobs.MapGet("/{id:guid}/artifacts/{name}", DownloadArtifact)
            .WithMetadata(AcceptsJobToken.Instance)
            .WithSummary("Download an artifact: a redirect to a short-lived presigned URL, or the bytes (?redirect=false or local store)");
        jobs.MapPost("/{id:guid}/cancel", CancelJob).WithSummary("Cancel a job that has not finished");
        jobs.MapPost("/{id:guid}/read-token", IssueReadToken)
            .WithSummary("A short-lived token that reads this job and nothing else: add ?access_token=TOKEN to GET /api/jobs/{id}, its /events and its /artifacts/{name}")
            .WithDescription("For browsers, whose EventSource, <video> and download links cannot send the API key header. " +
                             "In open mode (no API keys) the token is null: those routes need none.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    internal static (TalkingFaceOptions Options, string DeviceClass, int Priority) ReadTalkingFaceOptions(SubmitForm form, PipelineOptions pipeline, MotionModelContracts motion)
    {
        var featureModel = form.Choice("featureModel", TalkingFaceOptions.FeatureModels, "hubert-large");
        var motionModel = form.Text("motionModel", 100);
        if (motionModel is null)
        {
            motionModel = motion.DefaultFor(featureModel) ?? "";
            if (motionModel.Length == 0)
                form.Error("featureModel", $"no audio-to-motion model takes '{featureModel}' features ({motion.Describe()}).");
        }
        else if (!motion.Fits(motionModel, featureModel))
        {
            form.Error("motionModel", motion.Accepts.ContainsKey(motionModel)
                ? $"'{motionModel}' does not take '{featureModel}' features ({motion.Describe()})."
                : $"'{motionModel}' is not an audio-to-motion model ({motion.Describe()}).");
        }
        var deviceClass = form.Choice("deviceClass", [.. pipeline.KnownDeviceClasses, DeviceClasses.Auto], DeviceClasses.Auto);
        var priority = form.Integer("priority", 0, 0, 9);
        var seed = form.Integer("seed", 0, 0, int.MaxValue);
        var temperature = form.Number("temperature", 0.2, 0, 2);
        return (new TalkingFaceOptions(featureModel, motionModel, seed, temperature), deviceClass, priority);
    }

    private static async Task<IResult> SubmitTalkingFace(HttpRequest request, JobSubmitter submitter,
        IOptions<GatewayOptions> gateway, IOptions<PipelineOptions> pipeline, MotionModelContracts motion, CancellationToken ct)
    {
        var (form, problem) = await SubmitForm.ReadAsync(request, gateway.Value.MaxUploadBytes, ct);
        if (problem is not null) return problem;
        var audio = form!.File("audio", k => k.IsAudio(), "an audio file");
        if (audio is null && form.Files("audio").FirstOrDefault() is { Length: > 0 } wrong && !wrong.Kind.IsAudio())
            return Problems.Status(StatusCodes.Status415UnsupportedMediaType, "Not an audio file",
                $"'{wrong.FileName}' is {DescribeKind(wrong.Kind)}, not audio. Send WAV, FLAC, MP3, OGG, M4A or WebM audio.");
        var (options, deviceClass, priority) = ReadTalkingFaceOptions(form, pipeline.Value, motion);
        if (form.HasErrors) return form.ValidationProblem();
        var check = await AudioProbe.CheckAsync(audio!, ct);
        if (check.Problem is { } invalid) return Problems.Status(StatusCodes.Status400BadRequest, "The audio cannot be used", invalid);
        options = options with { AudioSeconds = check.Seconds };

        var draft = new JobDraft(JobKinds.TalkingFace, deviceClass, priority, JobOptionsJson.Write(options),
            [Input(ArtifactNames.InputAudio, audio!)], IdempotencyKey(request));
        return await SubmitAsync(submitter, draft, ct);
    }

    private static async Task<IResult> SubmitHair(HttpRequest request, JobSubmitter submitter,
        IOptions<GatewayOptions> gateway, IOptions<PipelineOptions> pipeline, GalleryCatalog gallery, CancellationToken ct)
    {
        var (form, problem) = await SubmitForm.ReadAsync(request, gateway.Value.MaxUploadBytes, ct);
        if (problem is not null) return problem;
        if (UnsupportedPhoto(form!) is { } unsupported) return unsupported;
        var face = form!.File("face", k => k.IsSupportedPhoto(), "a photo (JPEG, PNG or WebP)");
        var mode = form.Choice("mode", HairOptions.Modes, "both");
        var shapeId = form.Text("shapeId", 100);
        var colorId = form.Text("colorId", 100);
        var shape = form.File("shape", k => k.IsSupportedPhoto(), "a reference photo", required: false);
        var color = form.File("color", k => k.IsSupportedPhoto(), "a reference photo", required: false);
        var deviceClass = form.Choice("deviceClass", [.. pipeline.Value.KnownDeviceClasses, DeviceClasses.Auto], DeviceClasses.Auto);
        var priority = form.Integer("priority", 0, 0, 9);
        foreach (var (id, field, use) in new[] { (shapeId, "shapeId", GalleryUses.Shape), (colorId, "colorId", GalleryUses.Color) })
        {
            if (id is null) continue;
            var item = GalleryKeys.IsValidId(id) ? await gallery.FindAsync(id, ct) : null;
            if (item is null) form.Error(field, $"gallery item '{id}' does not exist; GET /api/gallery lists the items.");
            else if (!item.Uses.Contains(use)) form.Error(field, $"gallery item '{id}' is not a {use} reference (it serves: {string.Join(", ", item.Uses)}).");
        }
        if (shapeId is not null && form.Files("shape").Any(f => f.Length > 0))
            form.Error("shape", "give either 'shapeId' or a 'shape' image, not both.");
        if (colorId is not null && form.Files("color").Any(f => f.Length > 0))
            form.Error("color", "give either 'colorId' or a 'color' image, not both.");
        if (mode is "shape" or "both" && shape is null && shapeId is null && form.Files("shape").Count == 0)
            form.Error("shape", $"mode '{mode}' needs a shape reference image.");
        if (mode is "color" or "both" && color is null && colorId is null && form.Files("color").Count == 0)
            form.Error("color", $"mode '{mode}' needs a color reference image.");
        if (form.HasErrors) return form.ValidationProblem();

        List<JobInput> inputs = [Input(ArtifactNames.InputFace, face!)];
        if (shape is not null && mode is "shape" or "both") inputs.Add(Input(ArtifactNames.InputShape, shape));
        if (color is not null && mode is "color" or "both") inputs.Add(Input(ArtifactNames.InputColor, color));
        var usesShape = mode is "shape" or "both";
        var usesColor = mode is "color" or "both";
        var options = new HairOptions(mode, usesShape ? shapeId : null, usesColor ? colorId : null); // only the ids travel, never the images
        var draft = new JobDraft(JobKinds.Hair, deviceClass, priority, JobOptionsJson.Write(options),
            inputs, IdempotencyKey(request));
        return await SubmitAsync(submitter, draft, ct);
    }

    /// <summary>415 when a hair job's image is one the stage does not take (GIF, BMP, HEIF, AVIF), before any of it is decoded.</summary>
    private static IResult? UnsupportedPhoto(SubmitForm form)
    {
        foreach (var field in new[] { "face", "shape", "color" })
            if (form.Files(field).FirstOrDefault(f => f.Kind.IsImage() && !f.Kind.IsSupportedPhoto()) is { } file)
                return Problems.Status(StatusCodes.Status415UnsupportedMediaType, "Image format not supported",
                    $"'{file.FileName}' ({field}) is {file.Kind.Describe()}; hair jobs take JPEG, PNG or WebP photos. " +
                    "Convert it first, e.g. 'convert photo.heic photo.jpg' (ImageMagick) or 'ffmpeg -i photo.avif photo.png'.");
        return null;
    }

    /// <summary>Largest JSON body of a probe submit: it has two short fields.</summary>
    public const int MaxProbeBodyBytes = 4 * 1024;

    /// <summary>The optional body of a probe submit.</summary>
    public sealed record ProbeRequest(string? DeviceClass = null, int? Priority = null);

    private static async Task<IResult> SubmitProbe(HttpRequest request, JobSubmitter submitter, IOptions<PipelineOptions> pipeline, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.ReadAsync<ProbeRequest>(request, MaxProbeBodyBytes, ct);
        if (problem is not null) return problem;
        var errors = new Dictionary<string, string[]>();
        string[] classes = [.. pipeline.Value.KnownDeviceClasses, DeviceClasses.Auto];
        var deviceClass = body?.DeviceClass?.Trim() is { Length: > 0 } named ? named : DeviceClasses.Auto;
        if (!classes.Contains(deviceClass, StringComparer.Ordinal)) errors["deviceClass"] = [$"{Problems.Quote(deviceClass)} is not one of: {string.Join(", ", classes)}."];
        var priority = body?.Priority ?? 0;
        if (priority is < 0 or > 9) errors["priority"] = [$"'{priority}' is not a whole number from 0 to 9."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The job request is not valid");
        var draft = new JobDraft(JobKinds.Probe, deviceClass, priority, "{}", [], IdempotencyKey(request));
        return await SubmitAsync(submitter, draft, ct);
    }

    internal static JobInput Input(string artifactName, StagedUpload file) =>
        new(artifactName, SubmitForm.SafeFileName(file.FileName), file.Kind.ContentType(), file.OpenRead, file.Staged);

    internal static string? IdempotencyKey(HttpRequest request)
    {
        var key = request.Headers[IdempotencyHeader].ToString().Trim();
        return key.Length == 0 ? null : key.Length > 200 ? key[..200] : key;
    }

    private static async Task<IResult> SubmitAsync(JobSubmitter submitter, JobDraft draft, CancellationToken ct)
    {
        try
        {
            var submission = await submitter.SubmitAsync(draft, ct);
            var view = submission.Job.ToView();
            return submission.AlreadyExisted
                ? TypedResults.Ok(view)
                : TypedResults.Accepted($"/api/jobs/{view.Id}", view);
        }
        catch (IdempotencyConflictException e)
        {
            return Problems.Status(StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused", e.Message + "; use a new key for a new job.");
        }
    }

    private static async Task<IResult> GetJob(Guid id, JobsDbContext db, CurrentTenant tenant, CancellationToken ct)
    {
        var owner = tenant.Id;
        var job = await db.Jobs.AsNoTracking().Include(j => j.Stages).Include(j => j.Artifacts).FirstOrDefaultAsync(j => j.Id == id && j.TenantId == owner, ct);
        return job is null ? Problems.NotFound($"There is no job {id}.") : TypedResults.Ok(job.ToView());
    }

    private static async Task<IResult> ListJobs(JobsDbContext db, CurrentTenant tenant, string? state, string? kind, Guid? batchId, int? page, int? pageSize, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        JobState? stateFilter = null;
        if (state is not null)
        {
            if (Enum.TryParse<JobState>(state, ignoreCase: true, out var s) && !int.TryParse(state, out _)) stateFilter = s;
            else errors["state"] = [$"{Problems.Quote(state)} is not one of: {string.Join(", ", Enum.GetNames<JobState>().Select(n => n.ToLowerInvariant()))}."];
        }
        if (kind is not null && !JobKinds.All.Contains(kind))
            errors["kind"] = [$"{Problems.Quote(kind)} is not one of: {string.Join(", ", JobKinds.All)}."];
        var p = page ?? 1;
        var size = pageSize ?? 20;
        if (p < 1) errors["page"] = ["must be 1 or more."];
        if (size is < 1 or > 200) errors["pageSize"] = ["must be from 1 to 200."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The job filter is not valid");

        var owner = tenant.Id;
        var query = db.Jobs.AsNoTracking().Where(j => j.TenantId == owner);
        if (stateFilter is { } st) query = query.Where(j => j.State == st);
        if (kind is not null) query = query.Where(j => j.Kind == kind);
        if (batchId is { } b) query = query.Where(j => j.BatchId == b);
        var total = await query.CountAsync(ct);
        var items = await query.OrderByDescending(j => j.CreatedAt).ThenBy(j => j.Id).Skip((p - 1) * size).Take(size)
            .Include(j => j.Stages).Include(j => j.Artifacts).AsSplitQuery().ToListAsync(ct);
        return TypedResults.Ok(new JobPage<JobView>([.. items.Select(j => j.ToView())], p, size, total));
    }

    private static async Task<IResult> DownloadArtifact(Guid id, string name, bool? redirect, JobsDbContext db, IArtifactStore store,
        IOptions<StorageOptions> storage, CurrentTenant tenant, CancellationToken ct)
    {
        var owner = tenant.Id;
        var artifact = await db.Artifacts.AsNoTracking()
            .FirstOrDefaultAsync(a => a.JobId == id && a.Name == name && db.Jobs.Any(j => j.Id == id && j.TenantId == owner), ct);
        if (artifact is null) return Problems.NotFound($"Job {id} has no artifact '{name}'.");
        if (redirect != false && await store.GetDownloadUrlAsync(artifact.Key, storage.Value.DownloadUrlLifetime, ct) is { } url)
            return TypedResults.Redirect(url.ToString());
        try
        {
            var stream = await store.OpenReadAsync(artifact.Key, ct);
            return TypedResults.Stream(stream, artifact.ContentType, artifact.Name, enableRangeProcessing: stream.CanSeek); // seeking in the preview video
        }
        catch (ArtifactNotFoundException)
        {
            return Problems.Status(StatusCodes.Status410Gone, "Artifact gone", $"The artifact '{name}' of job {id} is recorded but no longer in the store.");
        }
    }

    /// <summary>The answer of <c>POST /api/jobs/{id}/read-token</c>; <c>Token</c> is null in open mode.</summary>
    public sealed record JobTokenView(string? Token, DateTimeOffset? ExpiresAt, string Events);

    private static async Task<IResult> IssueReadToken(Guid id, JobsDbContext db, CurrentTenant tenant,
        IOptions<TenancyOptions> tenancy, HttpContext http, CancellationToken ct)
    {
        var owner = tenant.Id;
        if (!await db.Jobs.AnyAsync(j => j.Id == id && j.TenantId == owner, ct)) return Problems.NotFound($"There is no job {id}.");
        var events = $"/api/jobs/{id}/events";
        if (ApiKeyAuthenticationHandler.KeyOf(http) is not { } key) return TypedResults.Ok(new JobTokenView(null, null, events));
        var expiresAt = DateTimeOffset.UtcNow + tenancy.Value.JobTokenLifetime;
        var token = JobTokens.Issue(id, key, expiresAt);
        return TypedResults.Ok(new JobTokenView(token, expiresAt, $"{events}?{JobTokens.QueryName}={Uri.EscapeDataString(token)}"));
    }

    private static async Task<IResult> CancelJob(Guid id, JobsDbContext db, CurrentTenant tenant, CancellationToken ct)
    {
        var owner = tenant.Id;
        for (var attempt = 0; ; attempt++)
        {
            var job = await db.Jobs.Include(j => j.Stages).Include(j => j.Artifacts).FirstOrDefaultAsync(j => j.Id == id && j.TenantId == owner, ct);
            if (job is null) return Problems.NotFound($"There is no job {id}.");
            if (job.IsTerminal)
                return Problems.Status(StatusCodes.Status409Conflict, "Job already finished", $"Job {id} is {job.State.ToString().ToLowerInvariant()}; only unfinished jobs can be cancelled.");
            JobStateMachine.Cancel(job, "cancelled by request", DateTimeOffset.UtcNow);
            try
            {
                await db.SaveChangesAsync(ct);
                return TypedResults.Ok(job.ToView());
            }
            catch (DbUpdateConcurrencyException) when (attempt < 5)
            {
                db.ChangeTracker.Clear(); // a worker event changed the job meanwhile; look again
            }
        }
    }

    private static string DescribeKind(MediaKind kind) => kind == MediaKind.Unknown ? "of an unknown format" : kind.Describe();
}
