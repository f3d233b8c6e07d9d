using TalkingFace.Gateway.Jobs.Uploads;
using TalkingFace.Media;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Gateway.Jobs;

/// <summary>Checks an uploaded WAV by its bytes before a job is accepted, so a broken file is a 400 now rather than a failed job later.</summary>
internal static class AudioProbe
{
    /// <summary>
    /// Files up to this size are decoded whole at submit (at most 4 floats a byte, for 8-bit PCM, so a bounded buffer);
    /// larger ones have their header checked and at least one whole frame of samples found behind it, without holding
    /// the samples: for PCM and float data, whole frames are all that decoding could still refuse.
    /// </summary>
    private const long FullDecodeLimit = 8L * 1024 * 1024;

    public static async Task<string?> CheckAsync(StagedUpload file, CancellationToken ct)
    {
        if (file.Kind != MediaKind.Wav) return null; // other formats are decoded by the worker through ffmpeg
        try
        {
            await using var stream = file.OpenRead();
            if (file.Length <= FullDecodeLimit)
            {
                await WavReader.ReadAsync(stream, cancellationToken: ct);
            }
            else
            {
                var header = await WavReader.ReadHeaderAsync(stream, ct);
                if (header.DeclaredFrameCount == 0) return $"'{file.FileName}' holds no samples.";
                if (stream.Length - stream.Position < header.BlockAlign)
                    return $"'{file.FileName}': the WAV file is truncated: no whole frame of samples follows its header.";
            }
            return null;
        }
        catch (AudioFormatException e)
        {
            return $"'{file.FileName}': {e.Message}";
        }
    }

    /// <summary>Seconds of audio a WAV declares in its header (the scheduler's unit of work), or null for other formats and unreadable headers.</summary>
    public static async Task<double?> SecondsAsync(StagedUpload file, CancellationToken ct)
    {
        if (file.Kind != MediaKind.Wav) return null;
        try
        {
            await using var stream = file.OpenRead();
            var header = await WavReader.ReadHeaderAsync(stream, ct);
            return header.DeclaredDuration is { } duration ? Math.Round(duration.TotalSeconds, 3) : null;
        }
        catch (AudioFormatException)
        {
            return null;
        }
    }
}
