using Microsoft.EntityFrameworkCore;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Gateway.Persistence;

namespace TalkingFace.Gateway.Batches;

/// <summary>A batch in the list: its counts per state, without the items.</summary>
public sealed record BatchSummaryView(Guid Id, string? Name, string Kind, DateTimeOffset CreatedAt, int Total,
    IReadOnlyDictionary<string, int> Counts, bool Finished);

/// <summary><c>GET /api/batches</c>: batches, newest first, paged, optionally only the unfinished ones.</summary>
public static class BatchListEndpoint
{
    public static IEndpointRouteBuilder MapBatchList(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/batches").WithTags("Batches")
            .MapGet("/", List)
            .WithSummary("Batches, newest first, with how many of their jobs are in each state; ?finished=false for the unfinished ones");
        return app;
    }

    private static async Task<IResult> List(JobsDbContext db, bool? finished, int? page, int? pageSize, CancellationToken ct)
    {
        var p = page ?? 1;
        var size = pageSize ?? 20;
        var errors = new Dictionary<string, string[]>();
        if (p < 1) errors["page"] = ["must be 1 or more."];
        if (size is < 1 or > 200) errors["pageSize"] = ["must be from 1 to 200."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "The batch filter is not valid");

        var batches = await db.Batches.AsNoTracking().ToListAsync(ct);
        var ids = batches.Select(b => b.Id).ToList();
        var states = await db.Jobs.AsNoTracking().Where(j => j.BatchId != null && ids.Contains(j.BatchId.Value))
            .GroupBy(j => new { j.BatchId, j.State }).Select(g => new { g.Key.BatchId, g.Key.State, Count = g.Count() }).ToListAsync(ct);
        var summaries = batches.Select(b =>
        {
            var mine = states.Where(s => s.BatchId == b.Id).ToList();
            var counts = Enum.GetValues<JobState>().ToDictionary(s => s.ToString().ToLowerInvariant(), s => mine.Where(m => m.State == s).Sum(m => m.Count));
            var total = mine.Sum(m => m.Count);
            var done = mine.Where(m => m.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled).Sum(m => m.Count);
            return new BatchSummaryView(b.Id, b.Name, b.Kind, b.CreatedAt, total, counts, total > 0 && done == total);
        });
        if (finished is { } f) summaries = summaries.Where(s => s.Finished == f);
        var all = summaries.OrderByDescending(s => s.CreatedAt).ThenBy(s => s.Id).ToList();
        return TypedResults.Ok(new JobPage<BatchSummaryView>([.. all.Skip((p - 1) * size).Take(size)], p, size, all.Count));
    }
}
