using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

// bench/load's load generator: N concurrent clients against a distributed gateway, on the no-op path (probe jobs) and on
// a small real stage (demo hair chain). Prints a Markdown table and one RESULT line.
//   LoadBench --server URL --worker URL --key KEY --photo FILE [--clients 400] [--seconds 20] [--half-rate 400]
//             [--real-jobs 400] [--drain-s 300]
var options = Args.Parse(args);
var server = new Uri(options.Get("--server", "http://127.0.0.1:5290"));
var worker = new Uri(options.Get("--worker", "http://127.0.0.1:5293"));
var key = options.Get("--key", "");
var photoPath = options.Get("--photo", "");
var clients = int.Parse(options.Get("--clients", "400"), CultureInfo.InvariantCulture);
var seconds = double.Parse(options.Get("--seconds", "20"), CultureInfo.InvariantCulture);
var halfRate = double.Parse(options.Get("--half-rate", "400"), CultureInfo.InvariantCulture);
var realJobs = int.Parse(options.Get("--real-jobs", "400"), CultureInfo.InvariantCulture);
var drain = TimeSpan.FromSeconds(double.Parse(options.Get("--drain-s", "300"), CultureInfo.InvariantCulture));

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients + 64, PooledConnectionLifetime = TimeSpan.FromMinutes(30) })
{
    BaseAddress = server,
    Timeout = TimeSpan.FromMinutes(2),
};
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
var jobs = new JobLedger(http);

var workerReady = await Health.WaitReadyAsync(worker, TimeSpan.FromMinutes(3));
var gatewayReady = await Health.WaitReadyAsync(server, TimeSpan.FromMinutes(3));
if (!workerReady.Ok || !gatewayReady.Ok)
{
    Console.Error.WriteLine($"not ready: worker {workerReady.Report}; gateway {gatewayReady.Report}");
    return 1;
}

// Warm-up (not counted): JIT, connection pools, queues declared, EF model built.
Console.Error.WriteLine("warm-up: 400 probe jobs ...");
var warm = await Load.ClosedLoopAsync(http, 50, TimeSpan.FromSeconds(3), Submit.Probe);
await jobs.DrainAsync(warm.Accepted.Select(s => s.Id!.Value).ToHashSet(), JobKindNames.Probe, drain);

var rows = new List<PhaseRow>();

// 1. Saturation: every client submits back to back for the whole phase.
Console.Error.WriteLine($"no-op, {clients} clients back to back for {seconds} s ...");
var saturation = await Load.ClosedLoopAsync(http, clients, TimeSpan.FromSeconds(seconds), Submit.Probe);
rows.Add(await PhaseRow.MeasureAsync("no-op, saturation", "as fast as answered", clients, saturation, jobs, JobKindNames.Probe, drain));
var measuredCapacity = rows[^1].CompletedPerSecond;

// 2. Half load: the goal's half (800/2 = 400 jobs/s by default), then half of what this machine measured, if lower.
foreach (var rate in new[] { halfRate, Math.Round(measuredCapacity / 2, 1) }.Where(r => r > 0).Distinct())
{
    Console.Error.WriteLine($"no-op, {clients} clients, open loop at {rate} jobs/s for {seconds} s ...");
    var paced = await Load.OpenLoopAsync(http, clients, rate, TimeSpan.FromSeconds(seconds), Submit.Probe);
    rows.Add(await PhaseRow.MeasureAsync($"no-op, {rate.ToString("0.#", CultureInfo.InvariantCulture)} jobs/s offered", $"{rate.ToString("0.#", CultureInfo.InvariantCulture)}/s", clients, paced, jobs, JobKindNames.Probe, drain));
}

// 3. Small real stage: each client submits one hair job (demo chain) at once and the system drains them.
if (realJobs > 0 && File.Exists(photoPath))
{
    var photo = await File.ReadAllBytesAsync(photoPath);
    var n = Math.Min(realJobs, clients);
    Console.Error.WriteLine($"real (hair, demo chain): {n} clients, one job each ...");
    var burst = await Load.ClosedLoopAsync(http, n, TimeSpan.Zero, (client, ct) => Submit.HairAsync(client, photo, ct), oncePerClient: true);
    rows.Add(await PhaseRow.MeasureAsync("real: hair (demo 128 px)", "one job per client", n, burst, jobs, JobKindNames.Hair, drain));
}

Console.WriteLine();
Console.WriteLine("| phase | offered | clients | submitted | accepted | requests/s accepted | completed | jobs/s completed | submit p50 / p99 ms | added p50 / p99 ms | errors | lost | wall s |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
foreach (var r in rows)
{
    Console.WriteLine(FormattableString.Invariant(
        $"| {r.Name} | {r.Offered} | {r.Clients} | {r.Submitted} | {r.Accepted} | {r.AcceptedPerSecond:F1} | {r.Completed} | {r.CompletedPerSecond:F1} | {r.SubmitP50:F1} / {r.SubmitP99:F1} | {r.AddedP50:F1} / {r.AddedP99:F1} | {r.Errors} | {r.Lost} | {r.Wall:F1} |"));
}
Console.WriteLine();
Console.WriteLine("Added latency: from the client sending the submit to the job's finishedAt, minus the time its stages spent running " +
                  "(for the no-op stage that is everything). jobs/s completed: completed jobs / (first submit -> last finish).");
foreach (var r in rows.Where(r => r.ErrorSamples.Count > 0))
    Console.WriteLine($"errors in '{r.Name}', e.g.: {string.Join(" | ", r.ErrorSamples.Take(3))}");
Console.WriteLine();

var sat = rows[0];
var half = rows.Count > 1 ? rows[1] : rows[0];
var result = new StringBuilder("RESULT");
result.Append(FormattableString.Invariant($" noop_accepted_rps={sat.AcceptedPerSecond:F1} noop_jobs_per_s={sat.CompletedPerSecond:F1} noop_submit_p99_ms={sat.SubmitP99:F1} noop_added_p50_ms={sat.AddedP50:F1} noop_added_p99_ms={sat.AddedP99:F1}"));
result.Append(FormattableString.Invariant($" half_rate={halfRate:F0} half_jobs_per_s={half.CompletedPerSecond:F1} half_added_p50_ms={half.AddedP50:F1} half_added_p99_ms={half.AddedP99:F1} half_submit_p99_ms={half.SubmitP99:F1}"));
if (rows.Count > 2 && rows[2].Name.StartsWith("no-op", StringComparison.Ordinal))
    result.Append(FormattableString.Invariant($" halfmeasured_rate={measuredCapacity / 2:F1} halfmeasured_added_p99_ms={rows[2].AddedP99:F1}"));
if (rows.LastOrDefault(r => r.Name.StartsWith("real", StringComparison.Ordinal)) is { } real)
    result.Append(FormattableString.Invariant($" real_jobs_per_s={real.CompletedPerSecond:F2} real_added_p50_ms={real.AddedP50:F0} real_added_p99_ms={real.AddedP99:F0}"));
result.Append(FormattableString.Invariant($" errors={rows.Sum(r => r.Errors)} lost={rows.Sum(r => r.Lost)}"));
var goalsMet = sat.CompletedPerSecond >= 800 && half.AddedP99 <= 50 && rows.Sum(r => r.Errors) == 0 && rows.Sum(r => r.Lost) == 0;
result.Append($" goals_met={(goalsMet ? 1 : 0)}");
Console.WriteLine(result.ToString());
// A phase in which no job completed measured nothing: say so by the exit status too (bench/smoke checks it).
if (rows.Any(r => r.Completed == 0))
{
    Console.Error.WriteLine($"LoadBench: no job completed in '{rows.First(r => r.Completed == 0).Name}'; its figures measure nothing");
    return 1;
}
return 0;

internal static class JobKindNames
{
    public const string Probe = "probe";
    public const string Hair = "hair";
}

/// <summary>One submit as the client saw it.</summary>
internal sealed record Sent(Guid? Id, DateTimeOffset SentAt, double SubmitMs, string? Error);

internal sealed record PhaseRun(List<Sent> All, TimeSpan Elapsed)
{
    public IEnumerable<Sent> Accepted => All.Where(s => s.Id is not null);
}

internal static class Submit
{
    public static async Task<Sent> Probe(HttpClient http, CancellationToken ct)
    {
        var at = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        try
        {
            using var response = await http.PostAsync("/api/jobs/probe", null, ct);
            return await ReadAsync(response, at, watch);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return new Sent(null, at, watch.Elapsed.TotalMilliseconds, "submit: " + e.Message);
        }
    }

    public static async Task<Sent> HairAsync(HttpClient http, byte[] photo, CancellationToken ct)
    {
        var at = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        try
        {
            using var form = new MultipartFormDataContent();
            form.Add(new ByteArrayContent(photo), "face", "photo.jpg");
            form.Add(new StringContent("both"), "mode");
            form.Add(new StringContent("curly-auburn"), "shapeId");
            form.Add(new StringContent("long-blonde"), "colorId");
            using var response = await http.PostAsync("/api/jobs/hair", form, ct);
            return await ReadAsync(response, at, watch);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return new Sent(null, at, watch.Elapsed.TotalMilliseconds, "submit: " + e.Message);
        }
    }

    private static async Task<Sent> ReadAsync(HttpResponseMessage response, DateTimeOffset at, Stopwatch watch)
    {
        var body = await response.Content.ReadAsStringAsync();
        var ms = watch.Elapsed.TotalMilliseconds;
        if (response.StatusCode != HttpStatusCode.Accepted)
            return new Sent(null, at, ms, $"submit {(int)response.StatusCode}: {(body.Length > 200 ? body[..200] : body)}");
        return new Sent(JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid(), at, ms, null);
    }
}

internal static class Load
{
    /// <summary>Each client submits, waits for the answer, submits again, until <paramref name="duration"/> is over (or once).</summary>
    public static async Task<PhaseRun> ClosedLoopAsync(HttpClient http, int clients, TimeSpan duration,
        Func<HttpClient, CancellationToken, Task<Sent>> submit, bool oncePerClient = false)
    {
        var clock = Stopwatch.StartNew();
        var start = new TaskCompletionSource();
        var tasks = Enumerable.Range(0, clients).Select(async _ =>
        {
            await start.Task;
            var mine = new List<Sent>();
            do mine.Add(await submit(http, CancellationToken.None));
            while (!oncePerClient && clock.Elapsed < duration);
            return mine;
        }).ToArray();
        start.SetResult();
        var all = (await Task.WhenAll(tasks)).SelectMany(x => x).ToList();
        return new PhaseRun(all, clock.Elapsed);
    }

    /// <summary>
    /// Open loop: submits at <paramref name="rate"/> per second in all, spread evenly over the clients (each fires on its
    /// own schedule, one request outstanding at most); a client that falls behind fires at once until it has caught up.
    /// </summary>
    public static async Task<PhaseRun> OpenLoopAsync(HttpClient http, int clients, double rate, TimeSpan duration,
        Func<HttpClient, CancellationToken, Task<Sent>> submit)
    {
        var period = TimeSpan.FromSeconds(clients / rate);
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, clients).Select(async i =>
        {
            var mine = new List<Sent>();
            var next = TimeSpan.FromSeconds(i / rate);
            while (next < duration)
            {
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
                mine.Add(await submit(http, CancellationToken.None));
                next += period;
            }
            return mine;
        }).ToArray();
        var all = (await Task.WhenAll(tasks)).SelectMany(x => x).ToList();
        return new PhaseRun(all, clock.Elapsed);
    }
}

/// <summary>The jobs as the gateway records them, read back through the job API once they have all ended.</summary>
internal sealed class JobLedger(HttpClient http)
{
    public async Task<(Dictionary<Guid, JsonElement> Ended, int Unfinished)> DrainAsync(HashSet<Guid> ids, string kind, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until)
        {
            var open = await TotalAsync($"/api/jobs?kind={kind}&state=queued&pageSize=1") + await TotalAsync($"/api/jobs?kind={kind}&state=running&pageSize=1");
            if (open == 0) break;
            await Task.Delay(1000);
        }
        var ended = new Dictionary<Guid, JsonElement>();
        for (var page = 1; ; page++)
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync($"/api/jobs?kind={kind}&pageSize=200&page={page}"));
            var items = doc.RootElement.GetProperty("items");
            foreach (var job in items.EnumerateArray())
            {
                var id = job.GetProperty("id").GetGuid();
                if (ids.Contains(id) && job.GetProperty("state").GetString() is "succeeded" or "failed" or "cancelled") ended[id] = job.Clone();
            }
            if (items.GetArrayLength() < 200) break;
        }
        return (ended, ids.Count - ended.Count);
    }

    private async Task<int> TotalAsync(string url)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync(url));
        return doc.RootElement.GetProperty("total").GetInt32();
    }
}

internal sealed record PhaseRow(string Name, string Offered, int Clients, int Submitted, int Accepted, double AcceptedPerSecond, int Completed,
    double CompletedPerSecond, double SubmitP50, double SubmitP99, double AddedP50, double AddedP99, int Errors, int Lost, double Wall, List<string> ErrorSamples)
{
    public static async Task<PhaseRow> MeasureAsync(string name, string offered, int clients, PhaseRun run, JobLedger ledger, string kind, TimeSpan drain)
    {
        var accepted = run.Accepted.ToList();
        var (ended, unfinished) = await ledger.DrainAsync(accepted.Select(s => s.Id!.Value).ToHashSet(), kind, drain);
        var firstSent = run.All.Count > 0 ? run.All.Min(s => s.SentAt) : DateTimeOffset.UtcNow;
        var succeeded = new List<(Sent Sent, JsonElement Job)>();
        var problems = run.All.Where(s => s.Error is not null).Select(s => s.Error!).ToList();
        foreach (var s in accepted)
        {
            if (!ended.TryGetValue(s.Id!.Value, out var job)) continue;
            if (job.GetProperty("state").GetString() == "succeeded") succeeded.Add((s, job));
            else problems.Add($"job {job.GetProperty("state").GetString()}: {(job.TryGetProperty("reason", out var r) ? r.ToString() : "")}");
        }
        var lastFinish = succeeded.Count > 0 ? succeeded.Max(x => x.Job.GetProperty("finishedAt").GetDateTimeOffset()) : firstSent;
        var added = succeeded.Select(x =>
        {
            var endToEnd = (x.Job.GetProperty("finishedAt").GetDateTimeOffset() - x.Sent.SentAt).TotalMilliseconds;
            var running = x.Job.GetProperty("stages").EnumerateArray().Sum(st => st.GetProperty("runSeconds") is { ValueKind: JsonValueKind.Number } v ? v.GetDouble() * 1000 : 0);
            return endToEnd - running;
        }).Order().ToArray();
        var submits = run.All.Select(s => s.SubmitMs).Order().ToArray();
        var lastAccept = accepted.Count > 0 ? accepted.Max(s => s.SentAt.AddMilliseconds(s.SubmitMs)) : firstSent;
        return new PhaseRow(name, offered, clients, run.All.Count, accepted.Count,
            accepted.Count / Math.Max(1e-9, (lastAccept - firstSent).TotalSeconds),
            succeeded.Count, succeeded.Count / Math.Max(1e-9, (lastFinish - firstSent).TotalSeconds),
            Stats.Percentile(submits, 0.50), Stats.Percentile(submits, 0.99), Stats.Percentile(added, 0.50), Stats.Percentile(added, 0.99),
            problems.Count, unfinished, run.Elapsed.TotalSeconds, [.. problems.Distinct().Take(5)]);
    }
}
