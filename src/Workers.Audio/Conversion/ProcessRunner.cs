using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;

namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>How an external tool run ended.</summary>
/// <param name="ExitCode">The process's exit status.</param>
/// <param name="Output">What the output reader returned; default when the process failed.</param>
/// <param name="ErrorText">The end of what the process wrote to stderr.</param>
internal sealed record ProcessResult<T>(int ExitCode, T? Output, string ErrorText);

/// <summary>
/// Runs a command-line tool with its stdout consumed by a reader, a time limit, and a kill (of the whole process
/// tree) on timeout, on cancellation or when the reader gives up.
/// </summary>
internal static class ProcessRunner
{
    private const int ErrorTailLength = 4000;

    /// <summary>Runs <paramref name="fileName"/> and hands its stdout to <paramref name="readOutput"/>.</summary>
    /// <returns>The result, or null when the executable cannot be started (not installed).</returns>
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/> and was killed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired; the process was killed.</exception>
    public static async Task<ProcessResult<T>?> RunAsync<T>(
        string fileName,
        IReadOnlyList<string> arguments,
        Func<Stream, CancellationToken, Task<T>> readOutput,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in arguments) startInfo.ArgumentList.Add(argument);

        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception)
        {
            return null;
        }
        process.StandardInput.Close();

        using var timeoutSource = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        var killedByReader = false;
        Task<string> errorText;
        T? output = default;
        ExceptionDispatchInfo? readFailure = null;
        await using (linked.Token.Register(() => Kill(process)))
        {
            errorText = ReadTailAsync(process.StandardError);
            try
            {
                output = await readOutput(process.StandardOutput.BaseStream, linked.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                readFailure = ExceptionDispatchInfo.Capture(e);
                killedByReader = !process.HasExited;
                Kill(process);
            }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        var errors = await errorText.ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (timeoutSource.IsCancellationRequested)
        {
            throw new TimeoutException($"{Path.GetFileName(fileName)} did not finish within {timeout} and was stopped");
        }
        if (readFailure is not null && (killedByReader || process.ExitCode == 0)) readFailure.Throw();
        return process.ExitCode == 0
            ? new ProcessResult<T>(0, output, errors)
            : new ProcessResult<T>(process.ExitCode, default, errors);
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    /// <summary>Reads stderr to its end (so the process never blocks on a full pipe), keeping only its tail.</summary>
    private static async Task<string> ReadTailAsync(StreamReader reader)
    {
        var tail = new StringBuilder();
        var buffer = new char[1024];
        int read;
        while ((read = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            tail.Append(buffer, 0, read);
            if (tail.Length > 2 * ErrorTailLength) tail.Remove(0, tail.Length - ErrorTailLength);
        }
        return tail.Length > ErrorTailLength ? tail.ToString(tail.Length - ErrorTailLength, ErrorTailLength) : tail.ToString();
    }
}
