using System.CommandLine;
using TalkingFace.Cli.Batch;
using TalkingFace.Cli.Commands;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Browser;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Cli;

/// <summary>
/// <c>talkingface batch</c> and <c>watch</c> against a gateway whose configured ffmpeg is not there: every job succeeds
/// without its preview, and the summary and the job say so.
/// </summary>
public sealed class CliBatchWarningsTests : IAsyncLifetime
{
    private const string MissingFfmpeg = "/nonexistent/talkingface-test/ffmpeg";
    private const string Skipped = "motion: preview skipped: ffmpeg is not installed at '" + MissingFfmpeg + "' (Motion:Preview:FfmpegPath; apt-get install ffmpeg)";

    private readonly LiveGatewayFactory _gateway = new(new Dictionary<string, string?> { ["Motion:Preview:FfmpegPath"] = MissingFfmpeg });
    private readonly string _root = Directory.CreateTempSubdirectory("talkingface-batch-warnings-").FullName;
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
        Directory.Delete(_root, recursive: true);
    }

    private async Task<(int ExitCode, string Output, string Errors)> CliAsync(params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var root = new RootCommand { BatchCommand.Create(), RemoteCommands.Watch() };
        var exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = errors }, timeout.Token);
        return (exitCode, output.ToString(), errors.ToString());
    }

    [Fact]
    public async Task A_batch_without_its_previews_succeeds_and_its_summary_says_so_once_for_all_items()
    {
        for (var i = 1; i <= 2; i++)
        {
            var made = ExternalTool.Run("espeak-ng", ["-w", Path.Combine(Clips, $"clip-{i}.wav"), $"Clip {i} has no preview."]);
            Assert.True(made is not null, "espeak-ng is not installed (apt-get install espeak-ng)");
        }

        var batch = await CliAsync("batch", Clips, "--server", _gateway.Address.ToString(), "--out", Out, "--feature-model", "fast-hubert-int8");

        Assert.True(batch.ExitCode == BatchRunner.ExitSucceeded, $"exit {batch.ExitCode}: {batch.Output} {batch.Errors}");
        Assert.Contains("batch: 2 items, 2 succeeded", batch.Output);
        Assert.Contains($"  warning   2 items: {Skipped}", batch.Output);
        var manifest = BatchManifest.TryRead(Path.Combine(Out, "manifest.json"))!;
        Assert.All(manifest.Items, item =>
        {
            Assert.Equal([Skipped], item.Warnings);
            Assert.DoesNotContain(item.Files, f => f.Name == "preview.mp4");
        });

        var watched = await CliAsync("watch", manifest.Items[0].JobId!.Value.ToString(), "--server", _gateway.Address.ToString());

        Assert.Equal(0, watched.ExitCode);
        Assert.Contains($"  warning: {Skipped}", watched.Output);
    }
}
