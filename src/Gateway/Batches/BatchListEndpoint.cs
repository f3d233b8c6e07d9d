using Microsoft.EntityFrameworkCore;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Tenancy;

namespace TalkingFace.Gateway.Batches;

/// <summary>A batch in the list: its counts per state, without the items.</summary>
public sealed record BatchSummaryView(Guid Id, string? Name, string Kind, DateTimeOffset CreatedAt, int Total,
    IReadOnlyDictionary<string, int> Counts, bool Finished);

/// <summary><c>GET /api/batches</c>: the tenant's batches, newest first, paged in the database, optionally only the (un)finished ones.</summary>
public static class BatchListEndpoint
{
    public static IEndpointRouteBuilder MapBatchList(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/batches").WithTags("Batches")
            .MapGet("/", List)
            .WithSummary("Batches, newest first, with how many of their jobs are in each state; ?finished=false for the unfinished ones");
        return app;
    }

    private static async Task<IResult> List(JobsDbContext db, CurrentTenant tenant, bool? finished, int? page, int? pageSize, CancellationToken ct)
    {
        var p = page ?? 1;
        var size = pageSize ?? 20;
        var errors = new Dictionary<string, string[]>();
        if (p < 1) errors["page"] = ["must be 1 or more."];
        if (size is < 1 or > 200) errors["pageSize"] = ["must be from 1 to 200."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The batch filter is not valid");

        var owner = tenant.Id;
        var query = db.Batches.AsNoTracking().Where(b => b.TenantId == owner);
        // Finished: it has jobs and none of them is still open (the same rule as BatchView.Finished).
        if (finished is { } f)
        {
            var open = db.Jobs.Where(j => j.State != JobState.Succeeded && j.State != JobState.Failed && j.State != JobState.Cancelled);
            query = f
                ? query.Where(b => db.Jobs.Any(j => j.BatchId == b.Id) && !open.Any(j => j.BatchId == b.Id))
                : query.Where(b => !db.Jobs.Any(j => j.BatchId == b.Id) || open.Any(j => j.BatchId == b.Id));
        }
        var total = await query.CountAsync(ct);
        var batches = await query.OrderByDescending(b => b.CreatedAt).ThenBy(b => b.Id).Skip((p - 1) * size).Take(size).ToListAsync(ct);
        var ids = batches.Select(b => b.Id).ToList();
        var states = await db.Jobs.AsNoTracking().Where(j => j.TenantId == owner && j.BatchId != null && ids.Contains(j.BatchId.Value))
            .GroupBy(j => new { j.BatchId, j.State }).Select(g => new { g.Key.BatchId, g.Key.State, Count = g.Count() }).ToListAsync(ct);
        var items = batches.Select(b =>
        {
            var mine = states.Where(s => s.BatchId == b.Id).ToList();
            var counts = Enum.GetValues<JobState>().ToDictionary(s => s.ToString().ToLowerInvariant(), s => mine.Where(m => m.State == s).Sum(m => m.Count));
            var all = mine.Sum(m => m.Count);
            var done = mine.Where(m => m.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled).Sum(m => m.Count);
            return new BatchSummaryView(b.Id, b.Name, b.Kind, b.CreatedAt, all, counts, all > 0 && done == all);
        }).ToList();
        return TypedResults.Ok(new JobPage<BatchSummaryView>(items, p, size, total));
    }
}
