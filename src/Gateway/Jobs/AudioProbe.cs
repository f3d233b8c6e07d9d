using TalkingFace.Gateway.Jobs.Uploads;
using TalkingFace.Media;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Gateway.Jobs;

/// <summary>What <see cref="AudioProbe"/> found: why the audio cannot be used (null when it can), and the seconds of audio its header declares (the scheduler's unit of work; null for other formats).</summary>
internal sealed record AudioCheck(string? Problem, double? Seconds);

/// <summary>Checks an uploaded WAV by its bytes before a job is accepted, so a broken file is a 400 now rather than a failed job later.</summary>
internal static class AudioProbe
{
    /// <summary>
    /// Files up to this size are decoded whole at submit (at most 4 floats a byte, for 8-bit PCM, so a bounded buffer);
    /// larger ones have their header checked and at least one whole frame of samples found behind it, without holding
    /// the samples: for PCM and float data, whole frames are all that decoding could still refuse.
    /// </summary>
    private const long FullDecodeLimit = 8L * 1024 * 1024;

    /// <summary>Reads the header once: the check and the declared length come from the same read.</summary>
    public static async Task<AudioCheck> CheckAsync(StagedUpload file, CancellationToken ct)
    {
        if (file.Kind != MediaKind.Wav) return new AudioCheck(null, null); // other formats are decoded by the worker through ffmpeg
        try
        {
            await using var stream = file.OpenRead();
            var header = await WavReader.ReadHeaderAsync(stream, ct);
            var seconds = header.DeclaredDuration is { } duration ? Math.Round(duration.TotalSeconds, 3) : (double?)null;
            if (file.Length <= FullDecodeLimit)
            {
                await WavReader.ReadSamplesAsync(stream, header, cancellationToken: ct);
            }
            else
            {
                if (header.DeclaredFrameCount == 0) return new AudioCheck($"'{file.FileName}' holds no samples.", seconds);
                if (stream.Length - stream.Position < header.BlockAlign)
                    return new AudioCheck($"'{file.FileName}': the WAV file is truncated: no whole frame of samples follows its header.", seconds);
            }
            return new AudioCheck(null, seconds);
        }
        catch (AudioFormatException e)
        {
            return new AudioCheck($"'{file.FileName}': {e.Message}", null);
        }
    }
}
