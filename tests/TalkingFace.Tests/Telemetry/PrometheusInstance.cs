using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace TalkingFace.Tests.Telemetry;

/// <summary>
/// Debian's <c>prometheus</c>, started by the test on a free loopback port with its own config and storage in a temp
/// folder (never the packaged service on :9090), scraping the given targets every second and loading the given rule files.
/// </summary>
public sealed class PrometheusInstance : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus";

    private readonly Process _process;
    private readonly string _directory;
    private readonly StringBuilder _log = new();

    private PrometheusInstance(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public HttpClient Api { get; }

    public string Log { get { lock (_log) return _log.ToString(); } }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<PrometheusInstance> StartAsync(IEnumerable<string> targets, IEnumerable<string> ruleFiles)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: install Debian's prometheus (scripts/services.sh start and .ci/run do)");
        var directory = Directory.CreateTempSubdirectory("talkingface-prometheus-").FullName;
        var port = FreePort();
        var config = new StringBuilder()
            .AppendLine("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s")
            .AppendLine("rule_files:");
        foreach (var rules in ruleFiles) config.AppendLine($"  - '{rules}'");
        config.AppendLine("scrape_configs:\n  - job_name: talkingface\n    static_configs:\n      - targets:");
        foreach (var target in targets) config.AppendLine($"          - '{target}'");
        var configPath = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(configPath, config.ToString());

        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
        {
            $"--config.file={configPath}", $"--storage.tsdb.path={Path.Combine(directory, "data")}",
            $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        })
            start.ArgumentList.Add(argument);
        var instance = new PrometheusInstance(Process.Start(start)!, directory, port);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (instance._process.HasExited) Assert.Fail($"prometheus exited ({instance._process.ExitCode}): {instance.Log}");
            try
            {
                using var ready = await instance.Api.GetAsync("/-/ready");
                if (ready.IsSuccessStatusCode) return instance;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(200);
        }
        await instance.DisposeAsync();
        Assert.Fail("prometheus never became ready: " + instance.Log);
        return instance;
    }

    /// <summary>An instant query; the result vector (empty when nothing matches).</summary>
    public async Task<JsonElement[]> QueryAsync(string promql)
    {
        var answer = await Api.GetFromJsonAsync<JsonElement>("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        Assert.Equal("success", answer.GetProperty("status").GetString());
        return [.. answer.GetProperty("data").GetProperty("result").EnumerateArray()];
    }

    /// <summary>Polls an instant query until its first sample's value satisfies <paramref name="done"/>; returns that value.</summary>
    public async Task<double> WaitForValueAsync(string promql, Func<double, bool> done, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(60));
        string last = "no samples";
        while (DateTime.UtcNow < deadline)
        {
            var result = await QueryAsync(promql);
            if (result.Length > 0)
            {
                var value = double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                if (done(value)) return value;
                last = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            await Task.Delay(500);
        }
        var targets = await Api.GetStringAsync("/api/v1/targets");
        Assert.Fail($"Prometheus never answered '{promql}' as expected (last: {last}); targets: {targets}");
        return double.NaN;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        Api.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
