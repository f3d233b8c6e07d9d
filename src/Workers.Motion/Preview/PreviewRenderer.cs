using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using TalkingFace.Workers.Motion.Landmarks;

namespace TalkingFace.Workers.Motion.Preview;

/// <summary>
/// Encodes the landmark preview: frames drawn here are piped as raw BGR24 into Debian's ffmpeg, which encodes
/// H.264 and muxes the job's audio as AAC (<c>ffmpeg -f rawvideo -pix_fmt bgr24 -s NxN -r FPS -i - -i audio.wav
/// -map 0:v -map 1:a -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -shortest -movflags +faststart out.mp4</c>).
/// ffmpeg is killed when the job is cancelled or the encode runs past <see cref="PreviewOptions.Timeout"/>;
/// a failing ffmpeg is a <see cref="StageFailedException"/> with its reason, a missing one a
/// <see cref="FfmpegNotFoundException"/> (the preview is optional: the stage skips it and warns).
/// </summary>
public sealed class PreviewRenderer(IOptions<PreviewOptions> options, ILogger<PreviewRenderer> logger)
{
    public const string InstallHint = "apt-get install ffmpeg";
    private const int StderrKept = 4000;

    /// <summary>Writes the MP4 to <paramref name="outputPath"/>.</summary>
    /// <param name="landmarks2d">[frames, 68, 2] in the <see cref="LandmarkProjection.DefaultSize"/> image space.</param>
    /// <param name="audioPath">A file ffmpeg can read, muxed in; null for a silent video.</param>
    public async Task RenderAsync(float[] landmarks2d, int frames, int fps, string? audioPath, string outputPath, CancellationToken ct)
    {
        var o = options.Value;
        if (o.Size < 16 || o.Size % 2 != 0) throw new StageFailedException($"Motion:Preview:Size must be an even number of pixels, at least 16 (it is {o.Size})");
        if (landmarks2d.Length != frames * LandmarkModel.Points * 2) throw new ArgumentException("landmarks2d must be [frames, 68, 2]", nameof(landmarks2d));
        if (frames == 0) throw new StageFailedException("no frames to render");

        var start = new ProcessStartInfo(o.FfmpegPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var size = o.Size.ToString(CultureInfo.InvariantCulture);
        string[] arguments =
        [
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", $"{size}x{size}", "-r", fps.ToString(CultureInfo.InvariantCulture), "-i", "-",
            .. audioPath is null ? Array.Empty<string>() : ["-i", audioPath],
            "-map", "0:v", .. audioPath is null ? Array.Empty<string>() : ["-map", "1:a"],
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            .. audioPath is null ? Array.Empty<string>() : ["-c:a", "aac", "-shortest"],
            "-movflags", "+faststart", outputPath,
        ];
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception("no process started");
        }
        catch (Win32Exception e)
        {
            throw new FfmpegNotFoundException(o.FfmpegPath, e);
        }

        using (process)
        using (var timeout = new CancellationTokenSource(o.Timeout))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token))
        using (linked.Token.Register(() => Kill(process))) // a write blocked on a stalled pipe ends when the process does
        {
            var stderr = ReadTailAsync(process.StandardError);
            var stdout = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
            var watch = Stopwatch.StartNew();
            var pipeBroken = false;
            try
            {
                try
                {
                    var renderer = new LandmarkFrameRenderer(o.Size);
                    var input = process.StandardInput.BaseStream;
                    for (var t = 0; t < frames; t++)
                    {
                        var pixels = renderer.Render(landmarks2d.AsSpan(t * LandmarkModel.Points * 2, LandmarkModel.Points * 2));
                        await input.WriteAsync(pixels, linked.Token);
                    }
                    await input.FlushAsync(linked.Token);
                }
                catch (IOException)
                {
                    pipeBroken = true; // ffmpeg exited early; its exit code and stderr say why
                }
                finally
                {
                    try { process.StandardInput.Close(); } catch (IOException) { }
                }
                await process.WaitForExitAsync(linked.Token);
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                Kill(process);
                await Task.WhenAll(stderr, stdout).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                ct.ThrowIfCancellationRequested();
                throw new StageFailedException($"ffmpeg did not finish the preview within {o.Timeout} and was stopped", retryable: true);
            }
            await Task.WhenAll(stderr, stdout);
            var errors = stderr.Result.Trim();
            if (process.ExitCode != 0)
                throw new StageFailedException($"ffmpeg failed to encode the preview (exit code {process.ExitCode}{(pipeBroken ? ", it stopped reading frames" : "")}): {(errors.Length > 0 ? errors : "no message")}");
            if (!File.Exists(outputPath) || new FileInfo(outputPath).Length == 0)
                throw new StageFailedException($"ffmpeg exited without writing the preview: {(errors.Length > 0 ? errors : "no message")}");
            logger.LogDebug("Encoded {Frames} preview frames in {Seconds:F2} s", frames, watch.Elapsed.TotalSeconds);
        }
    }

    private void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception)
        {
            logger.LogDebug(e, "ffmpeg had already exited");
        }
    }

    /// <summary>Reads a stream to its end, keeping only its last few thousand characters (ffmpeg can be chatty).</summary>
    private static async Task<string> ReadTailAsync(StreamReader reader)
    {
        var tail = new StringBuilder();
        var buffer = new char[1024];
        int read;
        while ((read = await reader.ReadAsync(buffer, CancellationToken.None)) > 0)
        {
            tail.Append(buffer, 0, read);
            if (tail.Length > 2 * StderrKept) tail.Remove(0, tail.Length - StderrKept);
        }
        return tail.Length > StderrKept ? tail.ToString(tail.Length - StderrKept, StderrKept) : tail.ToString();
    }
}

/// <summary>The configured ffmpeg (<see cref="PreviewOptions.FfmpegPath"/>) could not be started: it is not installed there.</summary>
public sealed class FfmpegNotFoundException(string path, Exception inner)
    : Exception($"could not start '{path}': {inner.Message}", inner)
{
    public string Path { get; } = path;
}
