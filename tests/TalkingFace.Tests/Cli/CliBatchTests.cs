using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using TalkingFace.Cli.Batch;
using TalkingFace.Cli.Commands;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Browser;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Cli;

/// <summary>
/// <c>talkingface batch</c> against a running standalone gateway (real port, demo models, preview off for speed):
/// a folder of 10 espeak-ng clips, an interrupted run resumed without duplicate jobs, failed items, and the
/// <c>models</c> and <c>fleet</c> commands' JSON.
/// </summary>
public sealed class CliBatchTests : IAsyncLifetime
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(4);

    private readonly LiveGatewayFactory _gateway = new(new Dictionary<string, string?> { ["Motion:Preview:Enabled"] = "false" });
    private readonly string _root = Path.Combine(Path.GetTempPath(), "talkingface-batch-tests-" + Guid.NewGuid().ToString("N"));
    private HttpClient _client = null!;

    private string Clips => Path.Combine(_root, "clips");
    private string Out => Path.Combine(_root, "results");

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(Clips);
        _client = _gateway.CreateLiveClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private sealed record Run(int ExitCode, string Output, string Errors);

    private async Task<Run> CliAsync(CancellationToken ct, params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var root = new RootCommand { BatchCommand.Create(), CatalogCommands.Fleet(), CatalogCommands.Models(), RemoteCommands.Probe() };
        var exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = errors }, ct);
        return new Run(exitCode, output.ToString(), errors.ToString());
    }

    private string[] BatchArgs(params string[] more) =>
        ["batch", Clips, "--server", _gateway.Address.ToString(), "--out", Out, "--feature-model", "fast-hubert-int8", .. more];

    /// <summary>Ten different sentences spoken by espeak-ng (22.05 kHz mono WAV).</summary>
    private void MakeClips(int count)
    {
        for (var i = 1; i <= count; i++)
        {
            var path = Path.Combine(Clips, $"clip-{i:00}.wav");
            var result = ExternalTool.Run("espeak-ng", ["-w", path, $"This is clip number {i}, spoken for the batch test."]);
            Assert.True(result is not null, "espeak-ng is not installed (apt-get install espeak-ng; scripts/services.sh start does)");
        }
    }

    private BatchManifest ReadManifest() =>
        JsonSerializer.Deserialize<BatchManifest>(File.ReadAllText(Path.Combine(Out, "manifest.json")), TalkingFace.Cli.GatewayClient.Json)!;

    [Fact]
    public async Task An_interrupted_batch_of_ten_clips_resumes_without_duplicate_jobs_and_downloads_every_result()
    {
        MakeClips(10);

        // First run: stopped (as Ctrl+C would) once the gateway holds three of its jobs.
        Run first;
        using (var stop = new CancellationTokenSource(RunTimeout))
        {
            var running = CliAsync(stop.Token, BatchArgs("--parallel", "1"));
            await GatewayApi.PollAsync(() => _client.CountJobsAsync(), n => n >= 3 || running.IsCompleted, n => $"only {n} jobs were submitted");
            await stop.CancelAsync();
            first = await running;
        }
        Assert.True(first.ExitCode == BatchRunner.ExitInterrupted, $"exit {first.ExitCode}: {first.Errors}");
        Assert.Contains("interrupted", first.Errors);
        var interrupted = ReadManifest();
        var firstJobs = interrupted.Items.Where(i => i.JobId is not null).ToDictionary(i => i.File, i => i.JobId!.Value);
        Assert.InRange(firstJobs.Count, 3, 10);
        Assert.Equal(10, interrupted.Items.Count);
        var jobsAfterFirst = await _client.CountJobsAsync();
        // A submit cut off by the interruption may have made a job whose answer never arrived, so the gateway can hold
        // one job per cut-off upload more than the manifest knows; the item's key finds that job on the next run.
        Assert.InRange(jobsAfterFirst, firstJobs.Count, Math.Min(10, firstJobs.Count + 1));

        // Second run: the same command finishes the batch.
        using var timeout = new CancellationTokenSource(RunTimeout);
        var second = await CliAsync(timeout.Token, BatchArgs());

        Assert.True(second.ExitCode == BatchRunner.ExitSucceeded, $"exit {second.ExitCode}: {second.Output} {second.Errors}");
        Assert.Equal(10, await _client.CountJobsAsync()); // no duplicates: one job per clip, over both runs
        var manifest = ReadManifest();
        Assert.Equal(10, manifest.Summary.Succeeded);
        Assert.Equal(10, manifest.Items.Select(i => i.JobId).Distinct().Count());
        foreach (var (file, id) in firstJobs) Assert.Equal(id, manifest.Items.Single(i => i.File == file).JobId); // found again, not remade
        Assert.Contains("found the job an earlier run made", second.Errors);
        Assert.Contains("batch: 10 items, 10 succeeded", second.Output);

        foreach (var item in manifest.Items)
        {
            Assert.True(item.Downloaded, $"{item.File} was not downloaded");
            var job = await _client.GetJobAsync(item.JobId!.Value);
            Assert.Equal("succeeded", job.State);
            Assert.Equal(Path.GetFileName(item.File), job.InputName);
            var folder = Path.Combine(Out, item.Output!);
            var expected = job.Artifacts.Where(a => a.Stage != "input").Select(a => a.Name).Append("job.json").Order();
            Assert.Equal(expected, Directory.GetFiles(folder).Select(Path.GetFileName).Order());
            foreach (var artifact in job.Artifacts.Where(a => a.Stage != "input"))
            {
                await using var stream = File.OpenRead(Path.Combine(folder, artifact.Name));
                Assert.Equal(artifact.Sha256, Convert.ToHexStringLower(await SHA256.HashDataAsync(stream)));
                Assert.Contains(item.Files, f => f.Name == artifact.Name && f.Sha256 == artifact.Sha256);
            }
        }

        // A third run has nothing left to do: it neither submits nor downloads again.
        var third = await CliAsync(timeout.Token, BatchArgs());
        Assert.Equal(BatchRunner.ExitSucceeded, third.ExitCode);
        Assert.Contains("10 already done in an earlier run", third.Errors);
        Assert.Equal(10, await _client.CountJobsAsync());
    }

    [Fact]
    public async Task Items_the_gateway_refuses_make_the_batch_exit_2_with_a_summary_naming_them_and_json_says_the_same()
    {
        MakeClips(2);
        await File.WriteAllTextAsync(Path.Combine(Clips, "notes.wav"), "meeting notes, not speech");
        await File.WriteAllTextAsync(Path.Combine(Clips, "readme.txt"), "not an input: skipped");
        using var timeout = new CancellationTokenSource(RunTimeout);

        var run = await CliAsync(timeout.Token, BatchArgs("--json"));

        Assert.True(run.ExitCode == BatchRunner.ExitItemsFailed, $"exit {run.ExitCode}: {run.Errors}");
        var manifest = JsonSerializer.Deserialize<BatchManifest>(run.Output, TalkingFace.Cli.GatewayClient.Json)!; // --json: the manifest on stdout
        Assert.Equal(3, manifest.Summary.Total);
        Assert.Equal(2, manifest.Summary.Succeeded);
        Assert.Equal(1, manifest.Summary.Rejected);
        var refused = manifest.Items.Single(i => i.State == BatchStates.Rejected);
        Assert.Equal("notes.wav", refused.File);
        Assert.Contains("not audio", refused.Reason);
        Assert.Null(refused.JobId);
        Assert.Equal(2, await _client.CountJobsAsync());

        var text = await CliAsync(timeout.Token, BatchArgs()); // the same again, as text: resumes, and says what failed
        Assert.Equal(BatchRunner.ExitItemsFailed, text.ExitCode);
        Assert.Contains("batch: 3 items, 2 succeeded, 1 refused by the gateway", text.Output);
        Assert.Contains("rejected  notes.wav: 415", text.Output);
        Assert.Equal(2, await _client.CountJobsAsync());
    }

    [Fact]
    public async Task Models_and_fleet_print_json_a_script_can_read()
    {
        using var timeout = new CancellationTokenSource(RunTimeout);
        var models = await CliAsync(timeout.Token, "models", "--server", _gateway.Address.ToString(), "--json");
        Assert.Equal(0, models.ExitCode);
        using var modelsJson = JsonDocument.Parse(models.Output);
        Assert.Contains(modelsJson.RootElement.EnumerateArray(), m => m.GetProperty("name").GetString() == "fast-hubert-int8");

        var text = await CliAsync(timeout.Token, "models", "--server", _gateway.Address.ToString());
        Assert.Contains("fast-hubert-int8", text.Output);
        Assert.Contains("read by geneface-a2m-fast", text.Output);

        // The in-process workers report their heartbeat at start-up.
        var workers = await GatewayApi.PollAsync(async () =>
        {
            var run = await CliAsync(timeout.Token, "fleet", "--server", _gateway.Address.ToString(), "--json");
            Assert.Equal(0, run.ExitCode);
            using var doc = JsonDocument.Parse(run.Output);
            return doc.RootElement.GetProperty("workers").EnumerateArray().Select(w => w.GetProperty("stage").GetString()).ToList();
        }, stages => stages.Count >= 4, stages => $"the fleet lists {string.Join(", ", stages)}");
        Assert.Equal(["audio", "hair", "motion", "probe"], workers.Order()); // the standalone process serves the pipeline probe too
    }

    [Fact]
    public async Task Probe_runs_a_no_op_job_through_the_pipeline_and_exits_0()
    {
        using var timeout = new CancellationTokenSource(RunTimeout);
        var run = await CliAsync(timeout.Token, "probe", "--server", _gateway.Address.ToString(), "--json");
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Errors}");
        using var doc = JsonDocument.Parse(run.Output);
        Assert.Equal("probe", doc.RootElement.GetProperty("kind").GetString());
        Assert.Equal("succeeded", doc.RootElement.GetProperty("state").GetString());
        Assert.Equal("probe", doc.RootElement.GetProperty("stages")[0].GetProperty("name").GetString());
    }
}
