using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Telemetry;

/// <summary>
/// Runs the Prometheus test alone, after the parallel collections. An OpenTelemetry meter provider listens to every
/// "TalkingFace" meter of its process, not only its own host's: a gateway of another test running meanwhile (the browser
/// tests' batch of three clips) adds to this gateway's job counters, and when that host is disposed the provider drops
/// the shared metric stream, so the counter this test reads vanishes ("no samples"). In a deployment each host is its
/// own process and neither can happen.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PrometheusScrapeCollection : ICollectionFixture<DistributedServices>
{
    public const string Name = "Prometheus scrape (alone)";
}

/// <summary>
/// A real Prometheus scrapes a running gateway and the audio and motion workers (separate hosts on the real services)
/// while a whole job runs, and answers for the job's metrics through its HTTP API; it loads the alert rules, and every
/// metric the dashboards and rules name is one these processes export.
/// </summary>
[Collection(PrometheusScrapeCollection.Name)]
public sealed partial class PrometheusScrapeTests(DistributedServices services)
{
    private static string ChartFiles => Path.Combine(TestPaths.RepoRoot, "deploy", "helm", "talkingface", "files");

    [Fact]
    public async Task Prometheus_scrapes_gateway_and_workers_and_reads_the_jobs_metrics_back()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
            ["Inference:OptimizedModelCache"] = "",
            ["Fleet:MetricsInterval"] = "00:00:00.500",
        });
        using var client = pipeline.GatewayOnSocket();
        await DistributedPipeline.WaitUntilReadyAsync(client);
        var audio = await pipeline.StartAudioWorkerAsync("audio-prom");
        var motion = await pipeline.StartMotionWorkerAsync("motion-prom");
        string[] targets = [client.BaseAddress!.Authority, .. new[] { audio, motion }.Select(w => new Uri(w.Urls.First()).Authority)];
        await using var prometheus = await PrometheusInstance.StartAsync(targets, [Path.Combine(ChartFiles, "alerts.yaml")]);

        using var form = new MultipartFormDataContent();
        form.Add(new StreamContent(File.OpenRead(TestPaths.MacronSpeech)), "audio", "MacronSpeech.wav");
        form.Add(new StringContent("fast-hubert-int8"), "featureModel");
        using var response = await client.PostAsync("/api/jobs/talking-face", form);
        var submitted = (await response.Content.ReadFromJsonAsync<JobView>(DistributedPipeline.Json))!;
        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);
        Assert.True(job.State == "succeeded", job.Reason);

        // Read back through Prometheus: the gateway's job and queue metrics, the workers' run histograms, the fleet gauges.
        // The hosts share this test process, and an OpenTelemetry meter provider sees every "TalkingFace" meter of its
        // process, so each query names the instance that records the metric (in a deployment each process is its own).
        var (g, a, m) = ($"instance=\"{targets[0]}\"", $"instance=\"{targets[1]}\"", $"instance=\"{targets[2]}\"");
        Assert.Equal(1, await prometheus.WaitForValueAsync($"sum(talkingface_jobs_finished_total{{{g},kind=\"talking-face\",state=\"succeeded\"}})", v => v >= 1));
        Assert.Equal(1, await prometheus.WaitForValueAsync($"sum(talkingface_jobs_submitted_total{{{g},kind=\"talking-face\"}})", v => v >= 1));
        Assert.Equal(2, await prometheus.WaitForValueAsync($"sum(talkingface_stage_queue_wait_seconds_count{{{g}}})", v => v >= 2));
        Assert.Equal(1, await prometheus.WaitForValueAsync(
            $"sum(talkingface_stage_run_seconds_count{{{a},stage=\"audio\",device_class=\"cpu\",provider=\"CPUExecutionProvider\",outcome=\"succeeded\"}})", v => v >= 1));
        Assert.Equal(1, await prometheus.WaitForValueAsync($"sum(talkingface_stage_run_seconds_count{{{m},stage=\"motion\",outcome=\"succeeded\"}})", v => v >= 1));
        var audioSeconds = await prometheus.WaitForValueAsync($"sum(talkingface_audio_processed_seconds_total{{{a}}})", v => v > 0);
        Assert.InRange(audioSeconds, 11, 13); // MacronSpeech.wav is about 11.9 s long
        Assert.Equal(1, await prometheus.WaitForValueAsync($"max(talkingface_worker_up{{{g},stage=\"audio\",device_class=\"cpu\"}})", v => v >= 1));
        Assert.Equal(1, await prometheus.WaitForValueAsync($"max(talkingface_worker_up{{{g},stage=\"motion\",device_class=\"cpu\"}})", v => v >= 1));
        Assert.True(await prometheus.WaitForValueAsync($"max(talkingface_worker_speed{{{g},stage=\"audio\",device_class=\"cpu\",measured=\"true\"}})", v => v > 0) > 0);
        Assert.Equal(0, await prometheus.WaitForValueAsync($"max(talkingface_backlog{{{g},stage=\"audio\",device_class=\"cpu\",state=\"queued\"}})", v => v == 0));
        var p95 = await prometheus.WaitForValueAsync(
            "histogram_quantile(0.95, sum by (le) (talkingface_stage_run_seconds_bucket{stage=\"audio\"}))", v => !double.IsNaN(v));
        Assert.InRange(p95, 0, 1800);

        // No series carries a job id: labels stay bounded.
        var labels = await prometheus.Api.GetFromJsonAsync<JsonElement>("/api/v1/labels?match[]=" + Uri.EscapeDataString("{__name__=~\"talkingface_.*\"}"));
        var names = labels.GetProperty("data").EnumerateArray().Select(l => l.GetString()!).ToList();
        Assert.DoesNotContain(names, n => n.Contains("job_id", StringComparison.Ordinal) || n.Contains("jobid", StringComparison.Ordinal));
        Assert.Contains("device_class", names);

        // The alert rules loaded and evaluate without errors against these series.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement[] rules;
        do
        {
            var answer = await prometheus.Api.GetFromJsonAsync<JsonElement>("/api/v1/rules");
            rules = [.. answer.GetProperty("data").GetProperty("groups").EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray())];
            if (rules.Length > 0 && rules.All(r => r.GetProperty("health").GetString() == "ok")) break;
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);
        Assert.NotEmpty(rules);
        Assert.All(rules, r => Assert.True(r.GetProperty("health").GetString() == "ok", r.ToString()));
        Assert.Contains(rules, r => r.GetProperty("name").GetString() == "TalkingFaceNoLiveWorkerForBacklog");

        // Every metric the dashboards and alert rules name is exported by these processes.
        var exported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var target in targets)
        {
            using var scrape = new HttpClient();
            var text = await scrape.GetStringAsync($"http://{target}/metrics");
            foreach (Match sample in SampleName().Matches(text)) exported.Add(sample.Groups[1].Value);
        }
        var named = DashboardAndRuleMetrics();
        Assert.NotEmpty(named);
        var missing = named.Where(n => !exported.Contains(n)).Order().ToList();
        Assert.True(missing.Count == 0, "named in dashboards/alerts but not exported: " + string.Join(", ", missing));
    }

    /// <summary>Every <c>talkingface_*</c> metric named in a Prometheus expression of a dashboard or in the alert rules.</summary>
    private static SortedSet<string> DashboardAndRuleMetrics()
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        var dashboards = Directory.GetFiles(Path.Combine(ChartFiles, "dashboards"), "*.json");
        Assert.True(dashboards.Length >= 3, "expected the overview, fleet and job dashboards");
        foreach (var file in dashboards)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var expr in Expressions(doc.RootElement))
                foreach (Match m in MetricName().Matches(expr)) names.Add(m.Value);
        }
        foreach (Match m in MetricName().Matches(File.ReadAllText(Path.Combine(ChartFiles, "alerts.yaml")))) names.Add(m.Value);
        return names;
    }

    private static IEnumerable<string> Expressions(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String) yield return property.Value.GetString()!;
                foreach (var inner in Expressions(property.Value)) yield return inner;
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
                foreach (var inner in Expressions(item)) yield return inner;
        }
    }

    [GeneratedRegex(@"\btalkingface_[a-z0-9_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^(talkingface_[a-zA-Z0-9_]+)(?:\{| )", RegexOptions.Multiline)]
    private static partial Regex SampleName();
}
