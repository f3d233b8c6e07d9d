using Microsoft.Extensions.Options;
using TalkingFace.Media;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Tests.Audio;

/// <summary>Non-WAV inputs through ffmpeg. These need ffmpeg/ffprobe installed (apt-get install ffmpeg) and fail without it.</summary>
public sealed class FfmpegDecoderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("talkingface-ffmpeg-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static AudioConverter Converter(Action<AudioConversionOptions>? configure = null)
    {
        var options = new AudioConversionOptions();
        configure?.Invoke(options);
        return new AudioConverter(Options.Create(options));
    }

    /// <summary>A stereo 44.1 kHz 16-bit WAV: 440 Hz left, 1 kHz right.</summary>
    private string StereoWav(double seconds)
    {
        var frames = (int)(44100 * seconds);
        var left = SignalMath.Sine(440, 44100, frames, 0.4);
        var right = SignalMath.Sine(1000, 44100, frames, 0.3);
        var interleaved = new short[2 * frames];
        for (var i = 0; i < frames; i++)
        {
            interleaved[2 * i] = (short)Math.Round(left[i] * 32767);
            interleaved[2 * i + 1] = (short)Math.Round(right[i] * 32767);
        }
        var path = Path.Combine(_folder, "input.wav");
        File.WriteAllBytes(path, new WavBuilder { Channels = 2, SampleRate = 44100, Data = WavBuilder.Pcm16(interleaved) }.Build());
        return path;
    }

    private string Encode(string wav, string extension, params string[] codecArguments)
    {
        var path = Path.Combine(_folder, "encoded." + extension);
        var result = ExternalTool.Run("ffmpeg", ["-nostdin", "-y", "-v", "error", "-i", wav, .. codecArguments, path]);
        if (result is null) Assert.Fail("ffmpeg is not installed; these tests need it: apt-get install ffmpeg");
        return path;
    }

    [Fact]
    public async Task Flac_decodes_to_exactly_the_samples_of_the_wav_it_was_made_from()
    {
        var wav = StereoWav(2);
        var flac = Encode(wav, "flac", "-c:a", "flac");

        var fromWav = await Converter().ConvertAsync(File.OpenRead(wav));
        var fromFlac = await Converter().ConvertAsync(new NonSeekableStream(File.OpenRead(flac)));

        Assert.Equal((44100, 2, "flac"), (fromFlac.SourceSampleRate, fromFlac.SourceChannels, fromFlac.SourceFormat));
        Assert.Empty(fromFlac.Warnings);
        Assert.Equal(32000, fromFlac.Samples.Length);
        Assert.Equal(fromWav.Samples, fromFlac.Samples);
    }

    [Theory]
    [InlineData("mp3", "mp3", new[] { "-c:a", "libmp3lame", "-b:a", "128k" })]
    [InlineData("ogg", "ogg opus", new[] { "-c:a", "libopus", "-b:a", "96k" })]
    [InlineData("m4a", "mp4 aac", new[] { "-c:a", "aac", "-b:a", "128k" })]
    public async Task Lossy_formats_decode_to_about_the_same_signal(string extension, string expectedFormat, string[] codec)
    {
        var wav = StereoWav(2);
        var encoded = Encode(wav, extension, codec);

        var fromWav = await Converter().ConvertAsync(File.OpenRead(wav));
        var decoded = await Converter().ConvertAsync(File.OpenRead(encoded));

        Assert.Equal(expectedFormat, decoded.SourceFormat);
        Assert.Equal(2, decoded.SourceChannels);
        // Encoders add a little delay and padding; the length stays within ~0.1 s and the level within 1 dB.
        Assert.InRange(decoded.Samples.Length, 32000 - 1600, 32000 + 1600);
        var gain = SignalMath.Db(SignalMath.Rms(decoded.Samples.AsSpan(4000, 24000)) / SignalMath.Rms(fromWav.Samples.AsSpan(4000, 24000)));
        Assert.InRange(gain, -1, 1);
    }

    [Fact]
    public async Task Without_ffmpeg_non_wav_audio_is_refused_with_an_install_hint()
    {
        var flac = Encode(StereoWav(0.5), "flac", "-c:a", "flac");
        var converter = Converter(o => (o.FfmpegPath, o.FfprobePath) = ("/nonexistent/ffmpeg", "/nonexistent/ffprobe"));

        var error = await Assert.ThrowsAsync<AudioFormatException>(() => converter.ConvertAsync(File.OpenRead(flac)));

        Assert.StartsWith("this file is FLAC audio; only WAV is decoded without ffmpeg; install ffmpeg", error.Message);
    }

    [Fact]
    public async Task The_length_limit_is_checked_with_ffprobe_before_decoding()
    {
        var flac = Encode(StereoWav(3), "flac", "-c:a", "flac");

        var error = await Assert.ThrowsAsync<AudioFormatException>(
            () => Converter(o => o.MaxDuration = TimeSpan.FromSeconds(2)).ConvertAsync(File.OpenRead(flac)));

        Assert.Equal("the audio is 3 s long; the limit is 2 s", error.Message);
    }

    [Fact]
    public async Task Without_ffprobe_the_length_limit_is_enforced_while_decoding()
    {
        var flac = Encode(StereoWav(3), "flac", "-c:a", "flac");
        var converter = Converter(o => (o.MaxDuration, o.FfprobePath) = (TimeSpan.FromSeconds(2), "/nonexistent/ffprobe"));

        var error = await Assert.ThrowsAsync<AudioFormatException>(() => converter.ConvertAsync(File.OpenRead(flac)));

        Assert.Equal("the audio is longer than the 2 s limit", error.Message);
    }

    [Fact]
    public async Task A_corrupt_file_is_refused_with_ffmpegs_reason()
    {
        var flac = File.ReadAllBytes(Encode(StereoWav(1), "flac", "-c:a", "flac"));
        var corrupt = flac[..64].Concat(Enumerable.Repeat((byte)0x55, 4000)).ToArray();

        var error = await Assert.ThrowsAsync<AudioFormatException>(() => Converter().ConvertAsync(new MemoryStream(corrupt)));

        Assert.StartsWith("it starts like FLAC audio, but ffmpeg could not read it: it is damaged, cut short or not FLAC audio at all (ffmpeg: ", error.Message);
        Assert.DoesNotContain("talkingface-audio", error.Message); // the server's temporary copy is never named
        Assert.DoesNotContain(Path.GetTempPath(), error.Message);
    }

    [Fact]
    public async Task A_file_without_an_audio_track_is_refused()
    {
        var path = Path.Combine(_folder, "video.mp4");
        ExternalTool.Run("ffmpeg", ["-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-c:v", "mpeg4", path]);

        var error = await Assert.ThrowsAsync<AudioFormatException>(() => Converter().ConvertAsync(File.OpenRead(path)));

        Assert.Equal("this MP4/M4A audio file has no audio track", error.Message);
    }

    [Fact]
    public async Task A_run_past_the_timeout_is_killed()
    {
        var flac = Encode(StereoWav(1), "flac", "-c:a", "flac");
        var decoder = new FfmpegDecoder(new AudioConversionOptions { FfmpegTimeout = TimeSpan.FromMilliseconds(1) });

        await Assert.ThrowsAsync<TimeoutException>(() => decoder.DecodeAsync(File.OpenRead(flac), MediaKind.Flac));
    }

    [Fact]
    public async Task Cancellation_stops_decoding()
    {
        var flac = Encode(StereoWav(1), "flac", "-c:a", "flac");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Converter().ConvertAsync(File.OpenRead(flac), cancelled.Token));
    }
}
