using System.Diagnostics;
using System.Text.Json;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Cli;

/// <summary>
/// The README's first command as a new user runs it: the real <c>talkingface</c> program in its own process, on a
/// machine with only the .NET runtime (nothing on PATH, so no ffmpeg) and an empty home folder. It must succeed with
/// the preview skipped and said so, and print no warn/error log line.
/// </summary>
public sealed class CliFreshMachineTests : IDisposable
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);

    private readonly string _root = Directory.CreateTempSubdirectory("talkingface-fresh-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private sealed record Run(int ExitCode, string Output, string Errors);

    private async Task<Run> TalkAsync(string audio, string output)
    {
        var home = Directory.CreateDirectory(Path.Combine(_root, "home")).FullName;
        var emptyPath = Directory.CreateDirectory(Path.Combine(_root, "bin")).FullName; // no ffmpeg, no ffprobe, nothing
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = TestPaths.RepoRoot,
        };
        start.Environment.Clear();
        start.Environment["HOME"] = home;
        start.Environment["PATH"] = emptyPath;
        string[] arguments = [Path.Combine(AppContext.BaseDirectory, "talkingface.dll"), "talk", audio, "--out", output, "--models", Path.Combine(TestPaths.RepoRoot, "models")];
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(RunTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"talkingface talk did not finish within {RunTimeout}: {await stdout}{await stderr}");
        }
        return new Run(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The dotnet host running these tests: named by the SDK, or this process, or found above the runtime folder.</summary>
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } named) return named;
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") return Environment.ProcessPath!;
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!; // .../shared/Microsoft.NETCore.App/<version>
        return Path.GetFullPath(Path.Combine(runtime, "..", "..", "..", "dotnet"));
    }

    [Fact]
    public async Task The_first_command_without_ffmpeg_succeeds_says_the_preview_was_skipped_and_logs_no_warnings()
    {
        var output = Path.Combine(_root, "out");
        const string skipped = "preview skipped: ffmpeg is not installed (apt-get install ffmpeg)";

        var run = await TalkAsync(Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav"), output);

        var console = run.Output + run.Errors;
        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}:\n{console}");
        Assert.Contains("talking-face  SUCCEEDED", run.Output);
        Assert.Contains($"  warning: motion: {skipped}", run.Output);
        // Microsoft.Extensions.Logging's console format starts a warning with "warn:", an error with "fail:" or "crit:".
        var logLines = console.Split('\n').Where(l => l.StartsWith("warn:") || l.StartsWith("fail:") || l.StartsWith("crit:")).ToList();
        Assert.True(logLines.Count == 0, "log lines on the console:\n" + string.Join('\n', logLines) + "\n---\n" + console);
        Assert.Equal("", run.Errors);

        using var job = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "job.json")));
        Assert.Equal("succeeded", job.RootElement.GetProperty("state").GetString());
        Assert.Equal([$"motion: {skipped}"], job.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
        var motion = job.RootElement.GetProperty("stages").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "motion");
        Assert.Equal([skipped], motion.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));

        // Everything but the preview is there.
        Assert.Equal(
            ["audio-16k.wav", "exp.npy", "f0.npy", "features.npy", "job.json", "landmarks.npy", "landmarks2d.npy"],
            Directory.GetFiles(output).Select(Path.GetFileName).Order());
    }
}
