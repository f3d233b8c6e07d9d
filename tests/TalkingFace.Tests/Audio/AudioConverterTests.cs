using Microsoft.Extensions.Options;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Tests.Audio;

public class AudioConverterTests
{
    private static AudioConverter Converter(Action<AudioConversionOptions>? configure = null)
    {
        var options = new AudioConversionOptions();
        configure?.Invoke(options);
        return new AudioConverter(Options.Create(options));
    }

    private static async Task<AudioFormatException> ConvertFails(byte[] bytes, AudioConverter? converter = null) =>
        await Assert.ThrowsAsync<AudioFormatException>(() => (converter ?? Converter()).ConvertAsync(new MemoryStream(bytes)));

    [Fact]
    public async Task Stereo_16_kHz_is_averaged_to_mono_without_resampling()
    {
        var bytes = new WavBuilder { Channels = 2, Data = WavBuilder.Pcm16(1000, 3000, -4000, 2000, 32767, 32767) }.Build();

        var audio = await Converter().ConvertAsync(new MemoryStream(bytes));

        Assert.Equal([2000 / 32768f, -1000 / 32768f, 32767 / 32768f], audio.Samples);
        Assert.Equal((16000, 2, "wav pcm16"), (audio.SourceSampleRate, audio.SourceChannels, audio.SourceFormat));
        Assert.Equal(TimeSpan.FromSeconds(3 / 16000.0), audio.Duration);
    }

    [Fact]
    public void Downmix_averages_any_number_of_channels()
    {
        float[] frames = [0.1f, 0.2f, 0.3f, 0.4f, 0.5f, /**/ -1f, -1f, 1f, 1f, 0f];

        var mono = Downmix.ToMono(frames, 5);

        Assert.Equal([(0.1f + 0.2f + 0.3f + 0.4f + 0.5f) / 5, 0f], mono);
    }

    [Fact]
    public async Task Six_channel_48_kHz_float_is_downmixed_and_resampled()
    {
        const int frames = 48000;
        var interleaved = new float[frames * 6];
        var sine = SignalMath.Sine(1000, 48000, frames);
        for (var i = 0; i < frames; i++)
        {
            // Channels 0-2 carry the sine, 3-5 carry its negative at half level: the average is sine / 4.
            for (var c = 0; c < 3; c++) interleaved[6 * i + c] = sine[i];
            for (var c = 3; c < 6; c++) interleaved[6 * i + c] = -0.5f * sine[i];
        }
        var bytes = new WavBuilder { ExtensibleSubFormat = 3, Channels = 6, SampleRate = 48000, BitsPerSample = 32, Data = WavBuilder.Float32(interleaved) }.Build();

        var audio = await Converter().ConvertAsync(new NonSeekableStream(new MemoryStream(bytes)));

        Assert.Equal(16000, audio.Samples.Length);
        Assert.Equal((48000, 6, "wav float32"), (audio.SourceSampleRate, audio.SourceChannels, audio.SourceFormat));
        var expected = SignalMath.Sine(1000, 16000, 16000, amplitude: 0.125);
        Assert.True(SignalMath.SnrDb(expected.AsSpan(500, 15000), audio.Samples.AsSpan(500, 15000)) > 40);
    }

    [Fact]
    public async Task Reads_from_the_current_position_of_a_seekable_stream()
    {
        var wav = new WavBuilder { Data = WavBuilder.Pcm16(5, 6, 7) }.Build();
        var stream = new MemoryStream([0xAA, 0xBB, .. wav]) { Position = 2 };

        var audio = await Converter().ConvertAsync(stream);

        Assert.Equal(3, audio.Samples.Length);
    }

    [Fact]
    public async Task Empty_input_is_refused()
    {
        var error = await ConvertFails([]);
        Assert.Equal("the file is empty", error.Message);
    }

    [Fact]
    public async Task A_truncated_10_byte_header_is_refused()
    {
        var error = await ConvertFails("RIFF\0\0\0\0WA"u8.ToArray());
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public async Task Truncated_data_is_refused_or_accepted_with_a_warning()
    {
        var none = await ConvertFails(new WavBuilder { DeclaredDataSize = 1_000_000, Data = [7] }.Build());
        var some = await Converter().ConvertAsync(new MemoryStream(new WavBuilder { DeclaredDataSize = 1_000_000, Data = new byte[320] }.Build()));

        Assert.Equal("the WAV file is truncated: the data chunk declares 1,000,000 bytes but only 1 were present", none.Message);
        Assert.Equal(160, some.Samples.Length);
        Assert.Contains("truncated", Assert.Single(some.Warnings));
    }

    [Fact]
    public async Task A_wav_with_no_samples_is_refused()
    {
        var error = await ConvertFails(new WavBuilder { Channels = 2, SampleRate = 48000 }.Build());
        Assert.Contains("holds no samples", error.Message);
    }

    [Fact]
    public async Task A_jpeg_is_refused_as_an_image()
    {
        var jpeg = File.ReadAllBytes(TestPaths.TestData("faces", "one-face-a.jpg"));

        var error = await ConvertFails(jpeg);

        Assert.StartsWith("this file is a JPEG image, not audio", error.Message);
    }

    [Fact]
    public async Task Unrecognised_bytes_are_refused_with_the_accepted_formats()
    {
        var error = await ConvertFails("just some text that is not audio"u8.ToArray());
        Assert.StartsWith("this file is not audio in a format that is understood; upload WAV, FLAC, MP3", error.Message);
    }

    [Fact]
    public async Task An_unsupported_wav_encoding_is_named()
    {
        var error = await ConvertFails(new WavBuilder { FormatTag = 0x11, BitsPerSample = 4, SampleRate = 8000, Data = new byte[80] }.Build());
        Assert.Contains("IMA ADPCM (format tag 0x0011)", error.Message);
    }

    [Fact]
    public async Task Ten_hours_declared_are_refused_by_the_30_minute_limit_before_decoding()
    {
        var tenHours = new WavBuilder { DeclaredDataSize = 10u * 3600 * 16000 * 2, Data = new byte[64] }.Build();

        var error = await ConvertFails(tenHours, Converter(o => o.MaxDuration = TimeSpan.FromMinutes(30)));

        Assert.Equal("the audio is 10 h 0 min long; the limit is 30 min", error.Message);
    }

    [Fact]
    public async Task The_limit_is_configurable()
    {
        var twoSeconds = new WavBuilder { Data = new byte[2 * 32000] }.Build();

        var error = await ConvertFails(twoSeconds, Converter(o => o.MaxDuration = TimeSpan.FromSeconds(1.5)));

        Assert.Equal("the audio is 2 s long; the limit is 1.5 s", error.Message);
    }

    [Fact]
    public async Task The_committed_espeak_sample_converts()
    {
        await using var file = File.OpenRead(Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav"));

        var audio = await Converter().ConvertAsync(file);

        Assert.Equal((22050, 1, "wav pcm16"), (audio.SourceSampleRate, audio.SourceChannels, audio.SourceFormat));
        Assert.InRange(audio.Duration.TotalSeconds, 2.5, 4.5);
        Assert.True(SignalMath.Rms(audio.Samples) > 0.01, "the sample is silent");
    }
}
