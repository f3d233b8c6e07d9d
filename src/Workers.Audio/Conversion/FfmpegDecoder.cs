using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using TalkingFace.Media;
using static TalkingFace.Workers.Audio.Conversion.DurationText;

namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>
/// Decodes every audio format other than WAV with the ffmpeg command-line tool, at the source's own sample rate and
/// channel count, so all inputs are downmixed and resampled by the same code afterwards.
/// </summary>
/// <remarks>
/// The input is spooled to a temporary file (MP4/M4A need a seekable input). When ffprobe is available the length
/// is checked against <see cref="AudioConversionOptions.MaxDuration"/> before decoding; the decoded output is
/// bounded by the same limit in any case. Each tool run is killed after <see cref="AudioConversionOptions.FfmpegTimeout"/>.
/// </remarks>
public sealed partial class FfmpegDecoder(AudioConversionOptions options)
{
    /// <summary>Decodes <paramref name="input"/>, sniffed as <paramref name="kind"/>, to float samples.</summary>
    /// <exception cref="AudioFormatException">ffmpeg is not installed, cannot decode the file, the file has no
    /// audio track, or it is longer than allowed.</exception>
    /// <exception cref="TimeoutException">ffmpeg ran longer than <see cref="AudioConversionOptions.FfmpegTimeout"/>.</exception>
    public async Task<PcmAudio> DecodeAsync(Stream input, MediaKind kind, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var path = Path.Combine(Path.GetTempPath(), $"talkingface-audio-{Guid.NewGuid():N}");
        try
        {
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await input.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            }
            var probe = await ProbeAsync(path, kind, cancellationToken).ConfigureAwait(false);
            if (probe?.Duration is { } duration && duration > options.MaxDuration)
            {
                throw new AudioFormatException($"the audio is {Format(duration)} long; the limit is {Format(options.MaxDuration)}");
            }
            var audio = await DecodeFileAsync(path, kind, cancellationToken).ConfigureAwait(false);
            return audio with { Format = FormatName(kind, probe?.Codec), Warnings = [] };
        }
        finally
        {
            File.Delete(path);
        }
    }

    private async Task<PcmAudio> DecodeFileAsync(string path, MediaKind kind, CancellationToken cancellationToken)
    {
        string[] arguments = ["-nostdin", "-v", "error", "-i", path, "-map", "0:a:0", "-f", "wav", "-c:a", "pcm_f32le", "-"];
        var result = await ProcessRunner.RunAsync(
                options.FfmpegPath,
                arguments,
                (stdout, ct) => WavReader.ReadAsync(stdout, options.MaxDuration, ct),
                options.FfmpegTimeout,
                cancellationToken)
            .ConfigureAwait(false);
        if (result is null)
        {
            throw new AudioFormatException(
                $"this file is {kind.Describe()}; only WAV is decoded without ffmpeg; install ffmpeg on the server " +
                $"(Debian/Ubuntu: apt-get install ffmpeg) or set Audio:Conversion:FfmpegPath (now '{options.FfmpegPath}')");
        }
        if (result.ExitCode != 0 || result.Output is null)
        {
            throw new AudioFormatException(Unreadable(kind, "decode", result.ErrorText, path));
        }
        return result.Output;
    }

    /// <summary>Asks ffprobe for the first audio track's codec and the file's length; null when ffprobe is missing.</summary>
    private async Task<ProbeResult?> ProbeAsync(string path, MediaKind kind, CancellationToken cancellationToken)
    {
        string[] arguments =
        [
            "-v", "error", "-select_streams", "a:0",
            "-show_entries", "stream=codec_name:format=duration", "-of", "json", path,
        ];
        var result = await ProcessRunner.RunAsync(
                options.FfprobePath,
                arguments,
                async (stdout, ct) => await JsonDocument.ParseAsync(stdout, cancellationToken: ct).ConfigureAwait(false),
                options.FfmpegTimeout,
                cancellationToken)
            .ConfigureAwait(false);
        if (result is null) return null;
        if (result.ExitCode != 0 || result.Output is null)
        {
            throw new AudioFormatException(Unreadable(kind, "read", result.ErrorText, path));
        }
        using var json = result.Output;
        var root = json.RootElement;
        if (!root.TryGetProperty("streams", out var streams) || streams.GetArrayLength() == 0)
        {
            throw new AudioFormatException($"this {kind.Describe()} file has no audio track");
        }
        var codec = streams[0].TryGetProperty("codec_name", out var name) ? name.GetString() : null;
        TimeSpan? duration = root.TryGetProperty("format", out var format) &&
                             format.TryGetProperty("duration", out var text) &&
                             double.TryParse(text.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) &&
                             double.IsFinite(seconds) && seconds >= 0 && seconds < TimeSpan.MaxValue.TotalSeconds
            ? TimeSpan.FromSeconds(seconds)
            : null;
        return new ProbeResult(codec, duration);
    }

    /// <summary>"flac", "mp3", or container and codec when they differ, e.g. "ogg opus" or "mp4 aac".</summary>
    private static string FormatName(MediaKind kind, string? codec)
    {
        var container = kind.ToString().ToLowerInvariant();
        return string.IsNullOrEmpty(codec) || codec == container ? container : $"{container} {codec}";
    }

    /// <summary>What is wrong with a file ffmpeg refused, in the user's terms, with ffmpeg's words after.</summary>
    private static string Unreadable(MediaKind kind, string verb, string errorText, string path) =>
        $"it starts like {kind.Describe()}, but ffmpeg could not {verb} it: it is damaged, cut short or not {kind.Describe()} at all " +
        $"({Explain(errorText, path)})";

    /// <summary>
    /// ffmpeg's own words, for users: its last few distinct lines, without the server's temporary file name
    /// ("/tmp/talkingface-audio-...: Invalid argument" becomes "Invalid argument") or its "[mp3 @ 0x55...]" prefixes.
    /// </summary>
    internal static string Explain(string errorText, string path)
    {
        var lines = errorText.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => ContextPrefix().Replace(line, ""))
            .Select(line => line.StartsWith(path + ": ", StringComparison.Ordinal) ? line[(path.Length + 2)..] : line)
            .Select(line => line.Replace(path, "the file", StringComparison.Ordinal))
            .Where(line => line.Length > 0)
            .Distinct()
            .TakeLast(3)
            .ToList();
        return lines.Count == 0 ? "ffmpeg gave no reason" : "ffmpeg: " + string.Join("; ", lines);
    }

    [GeneratedRegex(@"^\[[^\]]* @ 0x[0-9a-fA-F]+\]\s*")]
    private static partial Regex ContextPrefix();

    private sealed record ProbeResult(string? Codec, TimeSpan? Duration);
}
