using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TalkingFace.Gateway.Hosting;
using TalkingFace.Gateway.Jobs;

namespace TalkingFace.Bench;

/// <summary>
/// C# side of <c>bench/pipeline</c>: whole talking-face jobs through the standalone gateway (gateway, SQLite, in-memory
/// bus, local artifact folder and all three workers in this one process, exactly what <c>talkingface talk</c> starts),
/// driven over its HTTP API on a loopback port.
/// <list type="number">
/// <item>Start the gateway with <c>Models:Root</c> = a store holding only the two models of one configuration (a
/// feature model and the audio-to-motion model that reads it), and wait for <c>/health/ready</c>: every model is
/// loaded and warmed by the workers' preloaders. This start-up is reported, never counted in a job.</item>
/// <item>One untimed warm-up job on an audio file that is not among the clips (the feature cache is keyed by the
/// audio's content, so no timed clip can hit it).</item>
/// <item>The clips one at a time (sequential, like the paper): submit, poll <c>GET /api/jobs/{id}</c> until it is
/// terminal, keep the job's own record: total seconds (created → finished), each stage's queue wait, run time and
/// step timings, artifacts.</item>
/// </list>
/// Prints one JSON object on stdout; progress goes to stderr.
/// Usage: PipelineBench --models DIR --clips DIR --feature-model NAME [--preview on|off] [--threads N (0: ORT's default)]
///        [--warmup WAV] [--limit N] [--label TEXT] [--data DIR] [--poll-ms 100]
/// </summary>
public static class Program
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    public static async Task<int> Main(string[] args)
    {
        var opts = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
        if (!opts.ContainsKey("models") || !opts.ContainsKey("clips") || !opts.ContainsKey("feature-model"))
        {
            Console.Error.WriteLine("usage: PipelineBench --models DIR --clips DIR --feature-model NAME [--preview on|off] [--threads N] " +
                                    "[--warmup WAV] [--limit N] [--label TEXT] [--data DIR] [--poll-ms 100]");
            return 2;
        }
        var modelsRoot = Path.GetFullPath(opts["models"]);
        var featureModel = opts["feature-model"];
        var preview = opts.GetValueOrDefault("preview", "off") == "on";
        var threads = int.Parse(opts.GetValueOrDefault("threads", "0"), CultureInfo.InvariantCulture);
        var limit = int.Parse(opts.GetValueOrDefault("limit", "0"), CultureInfo.InvariantCulture);
        var pollMs = int.Parse(opts.GetValueOrDefault("poll-ms", "100"), CultureInfo.InvariantCulture);
        var label = opts.GetValueOrDefault("label", featureModel);
        var dataDir = Path.GetFullPath(opts.GetValueOrDefault("data", Path.Combine(Path.GetTempPath(), "pipelinebench-" + Guid.NewGuid().ToString("N"))));
        var warmup = opts.GetValueOrDefault("warmup");

        var clips = Directory.GetFiles(opts["clips"], "clip*.wav").Order(StringComparer.Ordinal).ToArray();
        if (clips.Length == 0) throw new FileNotFoundException($"no clip*.wav in {opts["clips"]}");
        if (limit > 0) clips = clips.Take(limit).ToArray();
        if (Directory.Exists(dataDir)) Directory.Delete(dataDir, recursive: true); // a fresh database, store and feature cache
        Directory.CreateDirectory(dataDir);

        Log($"{label}: starting the standalone gateway (models {modelsRoot}, preview {(preview ? "on" : "off")}, ORT intra-op threads {threads})");
        var startWatch = Stopwatch.StartNew();
        await using var app = await StartGatewayAsync(dataDir, modelsRoot, preview, threads);
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(10) };
        var ready = await WaitReadyAsync(http);
        var startupSeconds = startWatch.Elapsed.TotalSeconds;
        Log($"{label}: ready in {startupSeconds:0.0} s: {ready}");

        var result = new Dictionary<string, object?>
        {
            ["label"] = label,
            ["feature_model"] = featureModel,
            ["preview"] = preview,
            ["ort_threads"] = threads,
            ["models_root"] = modelsRoot,
            ["startup_s"] = startupSeconds,
            ["ready"] = ready,
            ["ort"] = Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetVersionString(),
            ["dotnet"] = Environment.Version.ToString(),
            ["server_gc"] = System.Runtime.GCSettings.IsServerGC,
            ["poll_ms"] = pollMs,
        };

        if (warmup is not null)
        {
            var w = Stopwatch.StartNew();
            var job = await RunJobAsync(http, warmup, featureModel, pollMs);
            result["warmup_s"] = w.Elapsed.TotalSeconds;
            result["warmup_state"] = job.State;
            Log($"{label}: warm-up job on {Path.GetFileName(warmup)}: {job.State} in {w.Elapsed.TotalSeconds:0.00} s {job.Reason}");
        }

        var records = new List<Dictionary<string, object?>>();
        var all = Stopwatch.StartNew();
        for (var i = 0; i < clips.Length; i++)
        {
            var clip = clips[i];
            var watch = Stopwatch.StartNew();
            JobView job;
            try
            {
                job = await RunJobAsync(http, clip, featureModel, pollMs);
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                records.Add(new() { ["clip"] = Path.GetFileName(clip), ["state"] = "error", ["reason"] = e.Message });
                Log($"{label}: {Path.GetFileName(clip)}: {e.Message}");
                continue;
            }
            var clientSeconds = watch.Elapsed.TotalSeconds;
            records.Add(Record(clip, job, clientSeconds));
            Log($"{label}: [{i + 1}/{clips.Length}] {Path.GetFileName(clip)} {job.State} {job.TotalSeconds:0.000} s" +
                string.Concat(job.Stages.Select(s => $" | {s.Name} wait {s.QueueWaitSeconds:0.000} run {s.RunSeconds:0.000}")) +
                (job.Reason is null ? "" : $" | {job.Reason}"));
        }
        result["jobs_wall_s"] = all.Elapsed.TotalSeconds;
        result["jobs"] = records;
        result["peak_rss_bytes"] = PeakRss();

        await app.StopAsync();
        Console.Out.WriteLine(JsonSerializer.Serialize(result));
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException e)
        {
            Log($"could not delete {dataDir}: {e.Message}");
        }
        return records.All(r => (string?)r["state"] == "succeeded") ? 0 : 1;
    }

    /// <summary>The standalone gateway as <c>src/Cli/StandaloneGateway.cs</c> starts it, plus the benchmark's settings.</summary>
    private static async Task<WebApplication> StartGatewayAsync(string dataDir, string modelsRoot, bool preview, int threads)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Gateway:Mode"] = nameof(HostingMode.Standalone),
            ["Database:ConnectionString"] = $"Data Source={Path.Combine(dataDir, "talkingface.db")}",
            ["Storage:LocalRoot"] = Path.Combine(dataDir, "artifacts"),
            ["Models:Root"] = modelsRoot,
            ["Inference:OptimizedModelCache"] = Path.Combine(dataDir, "ort-cache"),
            ["Inference:IntraOpThreads"] = threads.ToString(CultureInfo.InvariantCulture),
            ["Motion:Preview:Enabled"] = preview ? "true" : "false",
            ["Pipeline:SweepInterval"] = "00:00:00.500",
            ["Worker:ProgressInterval"] = "00:00:01",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft"] = "Warning",
            ["Logging:LogLevel:Microsoft.AspNetCore.StaticFiles"] = "Error",
            ["Logging:LogLevel:MassTransit"] = "Error",
            ["Logging:LogLevel:TalkingFace"] = "Warning",
        });
        // Standard output carries the bench's one JSON object; every log line (start-up notices included) goes to stderr.
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.AddGateway();
        var app = builder.Build();
        app.MapGateway();
        await app.StartAsync();
        return app;
    }

    /// <summary>Polls <c>/health/ready</c> until every preloader has loaded and warmed its models; returns its report.</summary>
    private static async Task<string> WaitReadyAsync(HttpClient http)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.GetAsync("/health/ready");
            var body = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode) return body;
            if (deadline.Elapsed > TimeSpan.FromMinutes(15)) throw new TimeoutException($"the gateway never became ready: {body}");
            await Task.Delay(200);
        }
    }

    private static async Task<JobView> RunJobAsync(HttpClient http, string wav, string featureModel, int pollMs)
    {
        JobView job;
        using (var form = new MultipartFormDataContent())
        {
            var file = new StreamContent(File.OpenRead(wav));
            file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(file, "audio", Path.GetFileName(wav));
            form.Add(new StringContent(featureModel), "featureModel");
            using var response = await http.PostAsync("/api/jobs/talking-face", form);
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"submit of {wav} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            job = (await response.Content.ReadFromJsonAsync<JobView>(Json))!;
        }
        while (job.State is not ("succeeded" or "failed" or "cancelled"))
        {
            await Task.Delay(pollMs);
            job = (await http.GetFromJsonAsync<JobView>($"/api/jobs/{job.Id}", Json))!;
        }
        return job;
    }

    private static Dictionary<string, object?> Record(string clip, JobView job, double clientSeconds) => new()
    {
        ["clip"] = Path.GetFileName(clip),
        ["id"] = job.Id,
        ["state"] = job.State,
        ["reason"] = job.Reason,
        ["total_s"] = job.FinishedAt is { } end ? (end - job.CreatedAt).TotalSeconds : null, // unrounded job.TotalSeconds
        ["client_s"] = clientSeconds,
        ["created_at"] = job.CreatedAt,
        ["finished_at"] = job.FinishedAt,
        ["stages"] = job.Stages.Select(s => new Dictionary<string, object?>
        {
            ["name"] = s.Name,
            ["state"] = s.State,
            ["attempt"] = s.Attempt,
            ["provider"] = s.Provider,
            ["model"] = s.Model,
            ["queue_wait_s"] = s.QueueWaitSeconds,
            ["run_s"] = s.RunSeconds,
            ["dispatched_at"] = s.DispatchedAt,
            ["started_at"] = s.StartedAt,
            ["finished_at"] = s.FinishedAt,
            ["timings"] = s.Timings.ToDictionary(t => t.Step, t => t.Seconds),
        }).ToList(),
        ["artifacts"] = job.Artifacts.Where(a => a.Stage != "input").ToDictionary(a => a.Name, a => a.Size),
    };

    private static long? PeakRss()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void Log(string message) => Console.Error.WriteLine($"[PipelineBench {DateTime.Now:HH:mm:ss}] {message}");
}
