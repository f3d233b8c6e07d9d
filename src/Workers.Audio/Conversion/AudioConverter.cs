using Microsoft.Extensions.Options;
using TalkingFace.Media;

namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>
/// The audio conversion stage: recognises what was uploaded, decodes it (WAV natively, other audio through ffmpeg),
/// averages its channels to mono and resamples it to <see cref="TargetSampleRate"/> Hz with <see cref="Resampler"/>.
/// </summary>
public sealed class AudioConverter
{
    /// <summary>The sample rate every converted signal has, in Hz.</summary>
    public const int TargetSampleRate = 16000;

    private const string AcceptedFormats = "WAV, FLAC, MP3, Ogg (Vorbis or Opus), M4A/MP4, AAC, WebM, Matroska or AIFF";

    private readonly AudioConversionOptions _options;
    private readonly FfmpegDecoder _ffmpeg;

    /// <summary>Creates the converter with settings bound from <see cref="AudioConversionOptions.SectionName"/>.</summary>
    public AudioConverter(IOptions<AudioConversionOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _ffmpeg = new FfmpegDecoder(_options);
    }

    /// <summary>Converts an uploaded audio file to mono float samples at <see cref="TargetSampleRate"/> Hz.</summary>
    /// <param name="input">The file, read forwards from its current position; need not be seekable.</param>
    /// <param name="cancellationToken">Stops reading and decoding (an ffmpeg process is killed).</param>
    /// <exception cref="AudioFormatException">The input is not usable audio; the message says why, for users.</exception>
    /// <exception cref="TimeoutException">ffmpeg took longer than <see cref="AudioConversionOptions.FfmpegTimeout"/>.</exception>
    public async Task<ConvertedAudio> ConvertAsync(Stream input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (kind, stream) = await SniffAsync(input, cancellationToken).ConfigureAwait(false);
        var audio = await DecodeAsync(kind, stream, cancellationToken).ConfigureAwait(false);

        var mono = Downmix.ToMono(audio);
        var samples = new Resampler(audio.SampleRate, TargetSampleRate).Process(mono);
        return new ConvertedAudio(
            samples,
            audio.SampleRate,
            audio.ChannelCount,
            audio.Format,
            TimeSpan.FromSeconds((double)samples.Length / TargetSampleRate),
            audio.Warnings);
    }

    private async Task<PcmAudio> DecodeAsync(MediaKind kind, Stream stream, CancellationToken cancellationToken)
    {
        if (kind == MediaKind.Wav) return await WavReader.ReadAsync(stream, _options.MaxDuration, cancellationToken).ConfigureAwait(false);
        if (kind.IsAudio()) return await _ffmpeg.DecodeAsync(stream, kind, cancellationToken).ConfigureAwait(false);
        if (kind.IsImage()) throw new AudioFormatException($"this file is {kind.Describe()}, not audio; upload {AcceptedFormats}");
        throw new AudioFormatException($"this file is not audio in a format that is understood; upload {AcceptedFormats}");
    }

    /// <summary>Reads the first bytes to recognise the format, and gives back a stream that still starts at byte 0.</summary>
    private static async Task<(MediaKind Kind, Stream Stream)> SniffAsync(Stream input, CancellationToken cancellationToken)
    {
        var head = new byte[ContentSniffer.HeadLength];
        var start = input.CanSeek ? input.Position : 0;
        var read = await input.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read == 0) throw new AudioFormatException("the file is empty");
        var kind = ContentSniffer.Sniff(head.AsSpan(0, read));
        // A RIFF file that is not recognised (cut short, or AVI and the like) goes to the WAV reader, which says what is wrong.
        if (kind == MediaKind.Unknown && LooksLikeRiff(head.AsSpan(0, read))) kind = MediaKind.Wav;
        if (input.CanSeek)
        {
            input.Position = start;
            return (kind, input);
        }
        return (kind, new PrefixedReadStream(head.AsMemory(0, read), input));
    }

    private static bool LooksLikeRiff(ReadOnlySpan<byte> head) =>
        head.StartsWith("RIFF"u8) || head.StartsWith("RF64"u8) || head.StartsWith("BW64"u8);
}
