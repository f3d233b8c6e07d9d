using System.ComponentModel;
using System.Diagnostics;

namespace TalkingFace.Tests.Audio;

/// <summary>Runs the command-line tools the audio tests compare against.</summary>
internal static class ExternalTool
{
    /// <summary>Runs a tool to completion; returns its stdout, or null when it is not installed.</summary>
    /// <exception cref="Xunit.Sdk.XunitException">The tool failed; the message carries its stderr.</exception>
    public static string? Run(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var result = TryRun(fileName, arguments, timeout);
        if (result is null) return null;
        var (exitCode, output, errors) = result.Value;
        if (exitCode != 0) throw new Xunit.Sdk.XunitException($"{fileName} {string.Join(' ', arguments)} failed ({exitCode}): {errors}");
        return output;
    }

    public static (int ExitCode, string Output, string Errors)? TryRun(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var startInfo = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) startInfo.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(startInfo)!;
        }
        catch (Win32Exception)
        {
            return null;
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                throw new Xunit.Sdk.XunitException($"{fileName} did not finish in time");
            }
            return (process.ExitCode, output.Result, errors.Result);
        }
    }
}
