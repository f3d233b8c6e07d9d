using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Storage;

namespace TalkingFace.Gateway.Retention;

/// <summary>
/// Removes finished jobs older than <see cref="RetentionOptions.JobTimeToLive"/>: first every object the job recorded
/// (inputs and outputs), then the job's records (stages and artifacts go with it), then batches left without jobs.
/// Objects go first, so a crash in between leaves a record whose download answers 410, never an object nobody can find;
/// the next sweep finishes the job. Several gateway replicas may sweep at once: deleting twice is harmless.
/// </summary>
public sealed class RetentionSweeper(IServiceScopeFactory scopes, IOptions<RetentionOptions> options, ILogger<RetentionSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        if (options.Value.JobTimeToLive is not { } ttl || ttl <= TimeSpan.Zero)
        {
            logger.LogInformation("Retention off (Retention:JobTimeToLive not set): finished jobs are kept");
            return;
        }
        using var timer = new PeriodicTimer(options.Value.SweepInterval);
        do
        {
            try
            {
                await SweepAsync(ttl, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Retention sweep failed; trying again in {Interval}", options.Value.SweepInterval);
            }
        }
        while (await timer.WaitForNextTickAsync(ct));
    }

    public async Task<int> SweepAsync(TimeSpan ttl, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<JobsDbContext>();
        var store = scope.ServiceProvider.GetRequiredService<IArtifactStore>();
        var cutoff = DateTimeOffset.UtcNow - ttl;
        var expired = await db.Jobs.Include(j => j.Artifacts)
            .Where(j => j.FinishedAt != null && j.FinishedAt < cutoff)
            .OrderBy(j => j.FinishedAt).Take(options.Value.BatchSize).ToListAsync(ct);
        foreach (var job in expired)
        {
            foreach (var artifact in job.Artifacts) await store.DeleteAsync(artifact.Key, ct);
            db.Jobs.Remove(job);
        }
        if (expired.Count > 0)
        {
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateConcurrencyException)
            {
                db.ChangeTracker.Clear(); // another replica removed some of them first
            }
            logger.LogInformation("Retention removed {Count} job(s) finished before {Cutoff:u}", expired.Count, cutoff);
        }
        var emptyBatches = await db.Batches.Where(b => b.CreatedAt < cutoff && !db.Jobs.Any(j => j.BatchId == b.Id)).OrderBy(b => b.CreatedAt).Take(options.Value.BatchSize).ToListAsync(ct);
        if (emptyBatches.Count > 0)
        {
            db.Batches.RemoveRange(emptyBatches);
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateConcurrencyException)
            {
                db.ChangeTracker.Clear();
            }
        }
        return expired.Count;
    }
}
