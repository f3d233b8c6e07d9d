using System.CommandLine;
using System.Text.Json;
using TalkingFace.Cli.Commands;
using TalkingFace.Contracts;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Standalone;

/// <summary>
/// <c>talkingface talk</c> run in-process: it starts the embedded standalone gateway, runs one job on a real clip
/// and writes the artifacts and job.json. With an empty model store the job fails honestly: exit code 2.
/// </summary>
public sealed class CliTalkTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "talkingface-cli-tests-" + Guid.NewGuid().ToString("N"));

    public CliTalkTests()
    {
        Directory.CreateDirectory(Models);
    }

    private string Models => Path.Combine(_root, "models");
    private string Out => Path.Combine(_root, "out");

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static async Task<int> TalkAsync(params string[] args)
    {
        using var timeout = new CancellationTokenSource(GatewayApi.FinishTimeout);
        return await new RootCommand { TalkCommand.Create() }.Parse(["talk", .. args]).InvokeAsync(cancellationToken: timeout.Token);
    }

    [Fact]
    public async Task Talk_writes_the_converted_audio_and_job_json_and_exits_2_when_the_job_fails()
    {
        var exitCode = await TalkAsync(TestPaths.MacronSpeech, "--out", Out, "--models", Models);

        Assert.Equal(2, exitCode);
        var jobJson = Path.Combine(Out, "job.json");
        Assert.True(File.Exists(jobJson), $"{jobJson} was not written");
        using var job = JsonDocument.Parse(await File.ReadAllTextAsync(jobJson));
        Assert.Equal("failed", job.RootElement.GetProperty("state").GetString());
        var reason = job.RootElement.GetProperty("reason").GetString();
        Assert.Contains("not configured", reason);
        Assert.Equal("MacronSpeech.wav", job.RootElement.GetProperty("inputName").GetString());

        var audioPath = Path.Combine(Out, ArtifactNames.Audio16k);
        Assert.True(File.Exists(audioPath), $"{audioPath} was not written");
        var audio = ParsedWav.Parse(await File.ReadAllBytesAsync(audioPath));
        Assert.Equal((1, 16000), (audio.Channels, audio.SampleRate));
        var source = ParsedWav.Parse(await File.ReadAllBytesAsync(TestPaths.MacronSpeech));
        Assert.Equal((source.FrameCount * 16000 + 48000 - 1) / 48000, audio.FrameCount);

        // The user's own input is not copied back, only what the stages made.
        Assert.Equal([ArtifactNames.Audio16k, "job.json"], Directory.GetFiles(Out).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Talk_on_a_missing_file_exits_1_without_writing_anything()
    {
        var exitCode = await TalkAsync(Path.Combine(_root, "no-such-clip.wav"), "--out", Out, "--models", Models);

        Assert.Equal(1, exitCode);
        Assert.False(Directory.Exists(Out));
    }
}
