using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenCvSharp;

// bench/hair's load generator: seed 002's load test (N simulated users, each submitting one hair job and waiting for
// it) against a distributed gateway. Prints a Markdown table and one RESULT line.
//   HairBench --server URL --worker URL --gallery DIR --key KEY [--levels 100,200,400] [--deadline-s 900]
var options = Args.Parse(args);
var key = options.Get("--key", "");
var server = new Uri(options.Get("--server", "http://127.0.0.1:5190"));
var worker = new Uri(options.Get("--worker", "http://127.0.0.1:5193"));
var gallery = options.Get("--gallery", "src/Gateway/Gallery/Items");
var levels = options.Get("--levels", "100,200,400").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
var deadline = TimeSpan.FromSeconds(double.Parse(options.Get("--deadline-s", "900"), CultureInfo.InvariantCulture));
var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 2000, PooledConnectionLifetime = TimeSpan.FromMinutes(30) })
{
    BaseAddress = server,
    Timeout = TimeSpan.FromMinutes(10),
};
if (key.Length > 0) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);

// Inputs, made here: the demo gallery's drawn heads placed on larger "photos" at different sizes, places and
// backgrounds (the YOLOv8-face model finds them at 0.74-0.76), encoded as JPEG like a phone upload.
var photos = InputPhotos.Make(gallery, 8);
Console.Error.WriteLine($"made {photos.Count} input photos ({string.Join(", ", photos.Select(p => $"{p.Length / 1024} KiB"))})");

// Models must be loaded before any request: both processes report ready only after preloading and warming.
var workerReady = await Health.WaitReadyAsync(worker, TimeSpan.FromMinutes(3));
var gatewayReady = await Health.WaitReadyAsync(server, TimeSpan.FromMinutes(3));
Console.Error.WriteLine($"worker ready: {workerReady.Report}");
var preloaded = workerReady.Ok && workerReady.Report.Contains("face-detection", StringComparison.Ordinal) && workerReady.Report.Contains("hair-transfer", StringComparison.Ordinal);

// The first job after start: if a model were loaded on the request path, it would show here.
var first = await Client.RunAsync(http, photos[0], json, deadline);
Console.Error.WriteLine($"first job: {first.State} in {first.CompletionSeconds:F3} s, detect+align {first.DetectAlignMs:F1} ms, transfer {first.TransferMs:F1} ms");

var rows = new List<LevelResult>();
foreach (var n in levels)
{
    Console.Error.WriteLine($"level {n}: {n} clients ...");
    var clock = Stopwatch.StartNew();
    var start = new TaskCompletionSource();
    var tasks = Enumerable.Range(0, n).Select(async i =>
    {
        await start.Task;
        return await Client.RunAsync(http, photos[i % photos.Count], json, deadline);
    }).ToArray();
    start.SetResult();
    var results = await Task.WhenAll(tasks);
    rows.Add(LevelResult.From(n, results, clock.Elapsed));
    var last = rows[^1];
    Console.Error.WriteLine($"level {n}: done in {clock.Elapsed.TotalSeconds:F1} s, {last.Succeeded} succeeded, {last.Errors} errors, {last.Lost} lost");
}

var workerMetrics = await Health.ReadTextAsync(new Uri(worker, "/metrics"));
Console.WriteLine();
Console.WriteLine("| clients | accepted | requests/s accepted | succeeded | jobs/s completed | p50 completion s | p95 completion s | errors | lost | detect+align ms/image (mean, p95) | transfer ms/job (mean) | wall s |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
foreach (var r in rows)
{
    Console.WriteLine(FormattableString.Invariant(
        $"| {r.Clients} | {r.Accepted} | {r.AcceptRate:F1} | {r.Succeeded} | {r.CompleteRate:F2} | {r.P50:F2} | {r.P95:F2} | {r.Errors} | {r.Lost} | {r.DetectAlignMean:F1}, {r.DetectAlignP95:F1} | {r.TransferMean:F1} | {r.Wall:F1} |"));
}
Console.WriteLine();
foreach (var r in rows.Where(r => r.ErrorSamples.Count > 0))
    Console.WriteLine($"errors at {r.Clients} clients, e.g.: {string.Join(" | ", r.ErrorSamples.Take(3))}");
Console.WriteLine(FormattableString.Invariant($"First job after start: {first.State}, {first.CompletionSeconds:F3} s (detect+align {first.DetectAlignMs:F1} ms, transfer {first.TransferMs:F1} ms); models preloaded before the first request: {(preloaded ? "yes" : "no")} (worker /health/ready: {workerReady.Report})."));
Console.WriteLine();

var top = rows.MaxBy(r => r.Clients)!;
var allDetect = rows.SelectMany(r => r.DetectAlign).ToArray();
var detectMean = allDetect.Length > 0 ? allDetect.Average() : double.NaN;
var goalsMet = top.Errors == 0 && top.Lost == 0 && detectMean <= 50 && preloaded;
var result = new StringBuilder("RESULT");
foreach (var r in rows)
{
    result.Append(FormattableString.Invariant($" rps_accepted_{r.Clients}={r.AcceptRate:F1} jobs_per_s_{r.Clients}={r.CompleteRate:F2} p50_s_{r.Clients}={r.P50:F2} p95_s_{r.Clients}={r.P95:F2} errors_{r.Clients}={r.Errors} lost_{r.Clients}={r.Lost}"));
}
result.Append(FormattableString.Invariant($" detect_align_ms={detectMean:F1} first_job_s={first.CompletionSeconds:F3} models_preloaded={(preloaded ? 1 : 0)} goals_met={(goalsMet ? 1 : 0)}"));
Console.WriteLine(result.ToString());
// A run in which no job succeeded measured nothing: say so by the exit status too (bench/smoke checks it).
if (rows.Sum(r => r.Succeeded) == 0)
{
    Console.Error.WriteLine("HairBench: no job succeeded; the figures above measure nothing");
    return 1;
}
return 0;

/// <summary>One simulated user: submit one hair job, poll it until it ends.</summary>
internal static class Client
{
    public static async Task<JobOutcome> RunAsync(HttpClient http, byte[] photo, JsonSerializerOptions json, TimeSpan deadline)
    {
        var watch = Stopwatch.StartNew();
        string id;
        try
        {
            using var form = new MultipartFormDataContent();
            form.Add(new ByteArrayContent(photo), "face", "photo.jpg");
            form.Add(new StringContent("both"), "mode");
            form.Add(new StringContent("curly-auburn"), "shapeId");
            form.Add(new StringContent("long-blonde"), "colorId");
            using var response = await http.PostAsync("/api/jobs/hair", form);
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.Accepted) return JobOutcome.Error(watch.Elapsed.TotalSeconds, $"submit {(int)response.StatusCode}: {Trim(body)}");
            id = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return JobOutcome.Error(watch.Elapsed.TotalSeconds, "submit: " + e.Message);
        }
        var accepted = watch.Elapsed.TotalSeconds;
        var poll = TimeSpan.FromMilliseconds(1000 + Random.Shared.Next(250));
        while (watch.Elapsed < deadline)
        {
            await Task.Delay(poll);
            JsonElement job;
            try
            {
                job = JsonDocument.Parse(await http.GetStringAsync($"/api/jobs/{id}")).RootElement;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                continue; // a slow answer is retried; the deadline decides
            }
            var state = job.GetProperty("state").GetString()!;
            if (state is not ("succeeded" or "failed" or "cancelled")) continue;
            var created = job.GetProperty("createdAt").GetDateTimeOffset();
            var finished = job.GetProperty("finishedAt").GetDateTimeOffset();
            double detect = 0, transfer = 0;
            foreach (var stage in job.GetProperty("stages").EnumerateArray())
            foreach (var t in stage.GetProperty("timings").EnumerateArray())
            {
                var step = t.GetProperty("step").GetString();
                var ms = t.GetProperty("seconds").GetDouble() * 1000;
                if (step is "face_detection" or "face_alignment") detect += ms;
                else if (step is "hair_embedding" or "hair_shape" or "hair_blend" or "hair_synthesis" or "hair_transfer") transfer += ms;
            }
            var reason = job.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            return new JobOutcome(state, accepted, (finished - created).TotalSeconds, detect, transfer, state == "succeeded" ? null : $"job {state}: {reason}");
        }
        return new JobOutcome("lost", accepted, double.NaN, double.NaN, double.NaN, $"job {id} not finished after {deadline.TotalSeconds:F0} s");
    }

    private static string Trim(string s) => s.Length > 200 ? s[..200] : s;
}

internal sealed record JobOutcome(string State, double AcceptSeconds, double CompletionSeconds, double DetectAlignMs, double TransferMs, string? Problem)
{
    public static JobOutcome Error(double at, string problem) => new("error", at, double.NaN, double.NaN, double.NaN, problem);
}

internal sealed record LevelResult(int Clients, int Accepted, double AcceptRate, int Succeeded, double CompleteRate, double P50, double P95, int Errors, int Lost,
    double[] DetectAlign, double DetectAlignMean, double DetectAlignP95, double TransferMean, double Wall, List<string> ErrorSamples)
{
    public static LevelResult From(int clients, JobOutcome[] results, TimeSpan wall)
    {
        var accepted = results.Where(r => r.State != "error").ToArray();
        var lastAccept = accepted.Length > 0 ? accepted.Max(r => r.AcceptSeconds) : double.NaN;
        var done = results.Where(r => r.State == "succeeded").ToArray();
        var completions = done.Select(r => r.CompletionSeconds).Order().ToArray();
        var detect = done.Select(r => r.DetectAlignMs).Order().ToArray();
        var errors = results.Count(r => r.State is "error" or "failed" or "cancelled");
        var lost = results.Count(r => r.State == "lost");
        return new LevelResult(clients, accepted.Length, accepted.Length / lastAccept, done.Length, done.Length / wall.TotalSeconds,
            Stats.Percentile(completions, 0.50), Stats.Percentile(completions, 0.95), errors, lost,
            detect, detect.Length > 0 ? detect.Average() : double.NaN, Stats.Percentile(detect, 0.95),
            done.Length > 0 ? done.Average(r => r.TransferMs) : double.NaN, wall.TotalSeconds,
            [.. results.Where(r => r.Problem is not null).Select(r => r.Problem!).Distinct().Take(5)]);
    }
}

internal static class InputPhotos
{
    public static List<byte[]> Make(string galleryDir, int count)
    {
        string[] heads = ["long-blonde", "bob-black", "pixie-brown", "wavy-platinum"];
        var photos = new List<byte[]>();
        for (var i = 0; i < count; i++)
        {
            using var head = Cv2.ImRead(Path.Combine(galleryDir, heads[i % heads.Length] + ".png"));
            if (head.Empty()) throw new FileNotFoundException($"gallery image {heads[i % heads.Length]}.png not found in {galleryDir}");
            var side = 320 + 40 * (i % 4);
            using var canvas = new Mat(960, 720, MatType.CV_8UC3, new Scalar(150 + 10 * (i % 3), 160, 170 - 10 * (i % 2)));
            using var big = new Mat();
            Cv2.Resize(head, big, new Size(side, side), 0, 0, InterpolationFlags.Cubic);
            var x = 40 + 37 * i % (720 - side - 40);
            var y = 120 + 23 * i % (960 - side - 120);
            using (var roi = new Mat(canvas, new Rect(x, y, side, side))) big.CopyTo(roi);
            Cv2.ImEncode(".jpg", canvas, out var jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, 90));
            photos.Add(jpeg);
        }
        return photos;
    }
}
