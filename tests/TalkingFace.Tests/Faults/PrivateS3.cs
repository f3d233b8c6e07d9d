using System.Diagnostics;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Faults;

/// <summary>An s3rver of the test's own (a free port, a temporary folder), so that a test can stop and restart it.</summary>
internal sealed class PrivateS3 : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tf-s3-" + Guid.NewGuid().ToString("N")[..8]);
    private Process? _process;

    public int Port { get; } = FaultTools.FreePort();
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>s3rver as scripts/services.sh installs it: in this checkout, or in the one whose .services this one uses.</summary>
    public static string? Script()
    {
        var local = Path.Combine(TestPaths.RepoRoot, "scripts", "s3", "node_modules", "s3rver", "bin", "s3rver.js");
        if (File.Exists(local)) return local;
        var services = new DirectoryInfo(Path.Combine(TestPaths.RepoRoot, ".services"));
        if (services.ResolveLinkTarget(returnFinalTarget: true) is { } target)
        {
            var shared = Path.GetFullPath(Path.Combine(target.FullName, "..", "scripts", "s3", "node_modules", "s3rver", "bin", "s3rver.js"));
            if (File.Exists(shared)) return shared;
        }
        return null;
    }

    public async Task StartAsync()
    {
        Directory.CreateDirectory(_dir);
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Script() ?? throw new FileNotFoundException("s3rver is not installed (scripts/services.sh start)"),
                     "--address", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--directory", _dir, "--silent" })
            start.ArgumentList.Add(a);
        _process = Process.Start(start)!;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await FaultTools.PortOpenAsync(Port))
        {
            if (DateTime.UtcNow > deadline || _process.HasExited) throw new InvalidOperationException("s3rver did not start");
            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: the store vanishes mid-request.</summary>
    public async Task KillAsync()
    {
        if (_process is null) return;
        _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}
