using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Pipeline;
using TalkingFace.Gateway.Tenancy;
using TalkingFace.Storage;
using TalkingFace.Telemetry;

namespace TalkingFace.Gateway.Jobs;

/// <summary>
/// An input file of a job, already validated by its bytes. <paramref name="Staged"/>, when given, is the same content
/// already on local disk with its size and sha256 known (an upload): stored as it is and not read again to hash it.
/// </summary>
public sealed record JobInput(string ArtifactName, string FileName, string ContentType, Func<Stream> Open, StagedFile? Staged = null);

/// <summary>A validated job request.</summary>
public sealed record JobDraft(
    string Kind,
    string DeviceClass,
    int Priority,
    string OptionsJson,
    IReadOnlyList<JobInput> Inputs,
    string? IdempotencyKey,
    Guid? BatchId = null,
    Guid? TenantId = null);

public sealed record Submission(JobRecord Job, bool AlreadyExisted);

/// <summary>The same Idempotency-Key was sent before with a different request.</summary>
public sealed class IdempotencyConflictException(string key)
    : Exception($"Idempotency-Key '{key}' was already used for a different request");

/// <summary>
/// Accepts a job: stores its inputs under <c>jobs/{id}/input/</c>, records the job and its stages,
/// and dispatches the first stage. A repeated Idempotency-Key returns the job made the first time.
/// </summary>
public sealed class JobSubmitter(
    JobsDbContext db,
    CurrentTenant tenant,
    IArtifactStore store,
    StageDispatcher dispatcher,
    IOptions<PipelineOptions> options,
    TalkingFaceMetrics metrics,
    ILogger<JobSubmitter> logger)
{
    public async Task<Submission> SubmitAsync(JobDraft draft, CancellationToken ct)
    {
        var owner = draft.TenantId ?? tenant.Id; // the caller's tenant unless the draft names one
        var requestHash = await HashAsync(draft, ct);
        if (draft.IdempotencyKey is { } earlierKey && await FindByKeyAsync(owner, earlierKey, ct) is { } earlier)
            return Same(earlier, earlierKey, requestHash);

        var now = DateTimeOffset.UtcNow;
        var job = new JobRecord
        {
            Id = Guid.NewGuid(),
            TenantId = owner,
            Kind = draft.Kind,
            State = JobState.Queued,
            DeviceClass = draft.DeviceClass,
            Priority = draft.Priority,
            OptionsJson = draft.OptionsJson,
            IdempotencyKey = draft.IdempotencyKey,
            RequestHash = requestHash,
            BatchId = draft.BatchId,
            InputName = draft.Inputs.FirstOrDefault()?.FileName,
            CreatedAt = now,
            UpdatedAt = now,
        };
        // "auto" stays on the stage until it is dispatched: the scheduler picks the class then, from the fleet at that moment.
        var stageClass = draft.DeviceClass;
        var order = 0;
        foreach (var name in JobKinds.StagesOf(draft.Kind))
        {
            job.Stages.Add(new StageRecord
            {
                Id = Guid.NewGuid(), JobId = job.Id, Name = name, Order = order, State = StageState.Pending,
                Attempt = 1, MaxAttempts = Math.Max(1, options.Value.MaxAttempts), DeviceClass = stageClass,
                DispatchAfter = order == 0 ? now : null,
            });
            order++;
        }

        foreach (var input in draft.Inputs)
        {
            var stored = await StoreAsync(ArtifactNames.Key(job.Id, "input", input.ArtifactName), input, ct);
            job.Artifacts.Add(new ArtifactRecord
            {
                Id = Guid.NewGuid(), JobId = job.Id, Stage = "input", Name = stored.Name, Key = stored.Key,
                Size = stored.Size, Sha256 = stored.Sha256, ContentType = stored.ContentType, CreatedAt = now,
            });
        }

        // The first stage is placed now and saved already queued, with the job: one write, then the send.
        var first = job.Stages.OrderBy(s => s.Order).First();
        var placement = await dispatcher.QueueAsync(job, first, ct);
        db.Jobs.Add(job);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException) when (draft.IdempotencyKey is { } key)
        {
            // A concurrent submit with the same key won the insert: answer with its job, drop our inputs.
            db.ChangeTracker.Clear();
            foreach (var a in job.Artifacts) await store.DeleteAsync(a.Key, CancellationToken.None);
            var winner = await FindByKeyAsync(owner, key, ct) ?? throw new InvalidOperationException("job insert failed", null);
            return Same(winner, key, requestHash);
        }

        metrics.JobsSubmitted.Add(1, new KeyValuePair<string, object?>("kind", job.Kind));
        logger.LogInformation("Accepted {Kind} job {JobId}", job.Kind, job.Id);
        // The job is committed: its command is sent even if the client has gone away meanwhile. With the request's
        // token a client that hung up here left the stage queued with no command, until Pipeline:QueueDeadline.
        await dispatcher.SendAsync(job, first, placement, CancellationToken.None);
        return new Submission(job, false);
    }

    private async Task<StoredArtifact> StoreAsync(string key, JobInput input, CancellationToken ct)
    {
        if (input.Staged is { } staged) return await store.PutStagedAsync(key, input.ArtifactName, staged, input.ContentType, ct);
        await using var content = input.Open();
        return await store.PutAsync(key, input.ArtifactName, content, input.ContentType, ct);
    }

    private static Submission Same(JobRecord earlier, string key, string requestHash) =>
        earlier.RequestHash == requestHash ? new Submission(earlier, true) : throw new IdempotencyConflictException(key);

    private Task<JobRecord?> FindByKeyAsync(Guid owner, string key, CancellationToken ct) =>
        db.Jobs.Include(j => j.Stages).Include(j => j.Artifacts).FirstOrDefaultAsync(j => j.TenantId == owner && j.IdempotencyKey == key, ct);

    /// <summary>sha256 over everything that defines the request, so a retried submit can be told from a different one.</summary>
    private static async Task<string> HashAsync(JobDraft draft, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{draft.Kind}|{draft.DeviceClass}|{draft.Priority}|{draft.OptionsJson}|{draft.BatchId}"));
        foreach (var input in draft.Inputs)
        {
            hash.AppendData(Encoding.UTF8.GetBytes("|" + input.ArtifactName + "|"));
            if (input.Staged is { } staged)
            {
                hash.AppendData(Convert.FromHexString(staged.Sha256)); // hashed as it arrived
                continue;
            }
            await using var content = input.Open();
            hash.AppendData(await SHA256.HashDataAsync(content, ct));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
