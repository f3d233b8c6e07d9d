using System.Collections.Concurrent;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TalkingFace.Gateway.Hosting;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Tenancy;

namespace TalkingFace.Gateway.Jobs;

/// <summary>
/// <c>GET /api/jobs/{id}/events</c>: a job's live state as server-sent events. Every change of the job (state, a
/// stage's progress or step, a new artifact) is sent as an <c>event: job</c> carrying the same JSON as
/// <c>GET /api/jobs/{id}</c>; a <c>ping</c> is sent when nothing changed for a while so proxies keep the connection.
/// The stream ends by itself once the job is succeeded, failed or cancelled (after sending that final state),
/// when the client goes away, or after <see cref="GatewayOptions.EventStreamMaxDuration"/> (the browser's EventSource
/// reconnects by itself and gets the current state first). The source is the database, not this process's memory,
/// so the stream is right whichever gateway replica serves it.
/// </summary>
public static class JobEventsEndpoint
{
    private static readonly ConcurrentDictionary<Guid, int> Open = new();

    /// <summary>Event streams of this job being served right now by this process; each stream leaves the count when it ends, however it ends.</summary>
    public static int OpenStreams(Guid jobId) => Open.TryGetValue(jobId, out var n) ? n : 0;

    public const string JobEvent = "job";
    public const string PingEvent = "ping";

    public static IEndpointRouteBuilder MapJobEvents(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/jobs").WithTags("Jobs");
        jobs.MapGet("/{id:guid}/events", Stream)
            .WithMetadata(AcceptsJobToken.Instance)
            .WithSummary("Server-sent events: the job (as in GET /api/jobs/{id}) each time it changes; ends when the job finishes")
            .WithDescription("Authenticated like every job route (API key header), or with ?access_token= from POST /api/jobs/{id}/read-token " +
                             "for browsers, whose EventSource cannot send headers.")
            .Produces<JobView>(StatusCodes.Status200OK, "text/event-stream") // each event's data
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<IResult> Stream(Guid id, IServiceScopeFactory scopes, CurrentTenant tenant, IOptions<GatewayOptions> options, HttpContext http)
    {
        var owner = tenant.Id;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<JobsDbContext>();
            if (!await db.Jobs.AnyAsync(j => j.Id == id && j.TenantId == owner, http.RequestAborted))
                return Problems.NotFound($"There is no job {id}.");
        }
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no"; // nginx: do not buffer the stream
        return TypedResults.ServerSentEvents(Changes(id, scopes, options.Value, http.RequestAborted));
    }

    /// <summary>The job each time its view changes, until it is terminal; ends quietly when the client goes away.</summary>
    private static async IAsyncEnumerable<SseItem<object>> Changes(Guid id, IServiceScopeFactory scopes, GatewayOptions options,
        [EnumeratorCancellation] CancellationToken ct)
    {
        Open.AddOrUpdate(id, 1, (_, n) => n + 1);
        try
        {
            await foreach (var item in Poll(id, scopes, options, ct)) yield return item;
        }
        finally
        {
            if (Open.AddOrUpdate(id, 0, (_, n) => n - 1) <= 0) Open.TryRemove(new KeyValuePair<Guid, int>(id, 0));
        }
    }

    private static async IAsyncEnumerable<SseItem<object>> Poll(Guid id, IServiceScopeFactory scopes, GatewayOptions options,
        [EnumeratorCancellation] CancellationToken ct)
    {
        var until = DateTimeOffset.UtcNow + options.EventStreamMaxDuration;
        var lastSentAt = DateTimeOffset.UtcNow;
        string? last = null;
        while (!ct.IsCancellationRequested)
        {
            var (view, terminal) = await ReadAsync(id, scopes, ct);
            if (view is null) yield break; // deleted meanwhile
            var signature = Signature(view);
            if (signature != last)
            {
                last = signature;
                lastSentAt = DateTimeOffset.UtcNow;
                yield return new SseItem<object>(view, JobEvent) { ReconnectionInterval = TimeSpan.FromSeconds(2) };
            }
            else if (DateTimeOffset.UtcNow - lastSentAt >= options.EventStreamKeepAlive)
            {
                lastSentAt = DateTimeOffset.UtcNow;
                yield return new SseItem<object>(new { at = lastSentAt }, PingEvent);
            }
            if (terminal || DateTimeOffset.UtcNow >= until) yield break;
            if (!await DelayAsync(options.EventStreamPollInterval, ct)) yield break;
        }
    }

    private static async Task<(JobView? View, bool Terminal)> ReadAsync(Guid id, IServiceScopeFactory scopes, CancellationToken ct)
    {
        // A fresh scope per read: the stream may outlive many changes, and a long-lived context would cache nothing useful.
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<JobsDbContext>();
        JobRecord? job;
        try
        {
            job = await db.Jobs.AsNoTracking().Include(j => j.Stages).Include(j => j.Artifacts).AsSplitQuery()
                .FirstOrDefaultAsync(j => j.Id == id, ct);
        }
        catch (OperationCanceledException)
        {
            return (null, true);
        }
        return job is null ? (null, true) : (job.ToView(), job.IsTerminal);
    }

    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>What the page shows; <c>updatedAt</c> alone would miss nothing, but progress is rounded so tiny changes are not resent.</summary>
    private static string Signature(JobView job) =>
        $"{job.State}|{job.Reason}|{job.UpdatedAt:O}|{job.Artifacts.Count}|" +
        string.Join(";", job.Stages.Select(s => $"{s.Name}:{s.State}:{s.Attempt}:{s.CurrentStep}:{Math.Round(s.Progress, 3)}:{s.WorkerId}"));
}
