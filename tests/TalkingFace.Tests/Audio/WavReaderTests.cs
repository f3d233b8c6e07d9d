using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Tests.Audio;

public class WavReaderTests
{
    private static Task<PcmAudio> Read(byte[] bytes, TimeSpan? maxDuration = null) =>
        WavReader.ReadAsync(new MemoryStream(bytes), maxDuration);

    private static async Task<AudioFormatException> ReadFails(byte[] bytes, TimeSpan? maxDuration = null) =>
        await Assert.ThrowsAsync<AudioFormatException>(() => Read(bytes, maxDuration));

    [Fact]
    public async Task Pcm8_is_unsigned_with_128_as_silence()
    {
        var audio = await Read(new WavBuilder { BitsPerSample = 8, Data = [0, 64, 128, 192, 255] }.Build());

        Assert.Equal([-1f, -0.5f, 0f, 0.5f, 127f / 128], audio.InterleavedSamples);
        Assert.Equal("wav pcm8", audio.Format);
    }

    [Fact]
    public async Task Pcm16_round_trips_exactly()
    {
        short[] values = [short.MinValue, -12345, -1, 0, 1, 12345, short.MaxValue];
        var audio = await Read(new WavBuilder { SampleRate = 44100, Data = WavBuilder.Pcm16(values) }.Build());

        Assert.Equal(values.Select(v => v / 32768f), audio.InterleavedSamples);
        Assert.Equal((44100, 1, "wav pcm16"), (audio.SampleRate, audio.ChannelCount, audio.Format));
        Assert.Empty(audio.Warnings);
    }

    [Fact]
    public async Task Pcm24_round_trips_exactly_including_negative_values()
    {
        int[] values = [-8388608, -1234567, -1, 0, 1, 1234567, 8388607];
        var audio = await Read(new WavBuilder { BitsPerSample = 24, Data = WavBuilder.Pcm24(values) }.Build());

        Assert.Equal(values.Select(v => v / 8388608f), audio.InterleavedSamples);
        Assert.Equal("wav pcm24", audio.Format);
    }

    [Fact]
    public async Task Pcm32_round_trips()
    {
        int[] values = [int.MinValue, -65536, 0, 65536, int.MaxValue];
        var audio = await Read(new WavBuilder { BitsPerSample = 32, Data = WavBuilder.Pcm32(values) }.Build());

        Assert.Equal(values.Select(v => (float)(v / 2147483648.0)), audio.InterleavedSamples);
        Assert.Equal("wav pcm32", audio.Format);
    }

    [Fact]
    public async Task Float32_round_trips_bit_for_bit()
    {
        float[] values = [-1f, -0.123456789f, 0f, 1e-30f, 0.5f, 1.5f];
        var audio = await Read(new WavBuilder { FormatTag = 3, BitsPerSample = 32, Data = WavBuilder.Float32(values) }.Build());

        Assert.Equal(values, audio.InterleavedSamples);
        Assert.Equal("wav float32", audio.Format);
    }

    [Fact]
    public async Task Float64_is_narrowed_to_float()
    {
        double[] values = [-1, -0.1, 0, 0.25, 0.999];
        var audio = await Read(new WavBuilder { FormatTag = 3, BitsPerSample = 64, Data = WavBuilder.Float64(values) }.Build());

        Assert.Equal(values.Select(v => (float)v), audio.InterleavedSamples);
        Assert.Equal("wav float64", audio.Format);
    }

    [Fact]
    public async Task Extensible_pcm24_and_float32_are_read_through_their_sub_format()
    {
        var pcm = await Read(new WavBuilder
        {
            ExtensibleSubFormat = 1, Channels = 2, BitsPerSample = 24, Data = WavBuilder.Pcm24(100, -100, 4000000, -4000000),
        }.Build());
        var ieee = await Read(new WavBuilder
        {
            ExtensibleSubFormat = 3, Channels = 6, BitsPerSample = 32, Data = WavBuilder.Float32([.. Enumerable.Range(0, 12).Select(i => i / 16f)]),
        }.Build());

        Assert.Equal(new[] { 100, -100, 4000000, -4000000 }.Select(v => v / 8388608f), pcm.InterleavedSamples);
        Assert.Equal((2, 2), (pcm.ChannelCount, pcm.FrameCount));
        Assert.Equal(Enumerable.Range(0, 12).Select(i => i / 16f), ieee.InterleavedSamples);
        Assert.Equal((6, 2, "wav float32"), (ieee.ChannelCount, ieee.FrameCount, ieee.Format));
    }

    [Fact]
    public async Task Rf64_takes_the_data_length_from_its_ds64_chunk()
    {
        var audio = await Read(new WavBuilder { RiffId = "RF64", Channels = 2, Data = WavBuilder.Pcm16(1, 2, 3, 4, 5, 6) }.Build());

        Assert.Equal(new short[] { 1, 2, 3, 4, 5, 6 }.Select(v => v / 32768f), audio.InterleavedSamples);
        Assert.Equal((3, "rf64 pcm16"), (audio.FrameCount, audio.Format));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Unknown_chunks_with_odd_sizes_are_skipped(bool seekable)
    {
        var bytes = new WavBuilder
        {
            Data = WavBuilder.Pcm16(1000, -1000),
            ChunksBeforeData = [("LIST", "INFOISFT\x05\0\0\0Lavf\0"u8.ToArray()), ("JUNK", new byte[3]), ("bext", new byte[101])],
        }.Build();
        Stream stream = seekable ? new MemoryStream(bytes) : new NonSeekableStream(new MemoryStream(bytes));

        var audio = await WavReader.ReadAsync(stream);

        Assert.Equal([1000 / 32768f, -1000 / 32768f], audio.InterleavedSamples);
    }

    [Fact]
    public async Task A_streaming_header_with_open_data_size_is_read_to_the_end()
    {
        var audio = await Read(new WavBuilder { DeclaredDataSize = 0xFFFFFFFF, Data = WavBuilder.Pcm16(7, 8, 9) }.Build());

        Assert.Equal(3, audio.FrameCount);
        Assert.Contains(audio.Warnings, w => w.Contains("does not give the data length"));
    }

    [Fact]
    public async Task Empty_input_is_refused()
    {
        var error = await ReadFails([]);
        Assert.Equal("the file is empty", error.Message);
    }

    [Fact]
    public async Task A_10_byte_header_is_reported_as_truncated()
    {
        var error = await ReadFails("RIFF\x24\0\0\0WA"u8.ToArray());
        Assert.Equal("the WAV file is truncated: it is only 10 bytes long, too short for a WAV header", error.Message);
    }

    [Fact]
    public async Task A_header_that_ends_before_the_data_chunk_is_reported_as_truncated()
    {
        var full = new WavBuilder { Data = WavBuilder.Pcm16(1, 2) }.Build();
        var error = await ReadFails(full[..30]);
        Assert.Contains("truncated", error.Message);
        Assert.Contains("fmt", error.Message);
    }

    [Fact]
    public async Task Truncated_data_without_a_whole_frame_is_refused_with_both_sizes()
    {
        var bytes = new WavBuilder { Channels = 2, DeclaredDataSize = 1_000_000, Data = [1, 2, 3] }.Build();

        var error = await ReadFails(bytes);

        Assert.Equal("the WAV file is truncated: the data chunk declares 1,000,000 bytes but only 3 were present", error.Message);
    }

    [Fact]
    public async Task Truncated_data_with_whole_frames_is_accepted_with_a_warning()
    {
        var bytes = new WavBuilder { DeclaredDataSize = 1_000_000, Data = WavBuilder.Pcm16([.. Enumerable.Repeat((short)100, 1600)]) }.Build();

        var audio = await Read(bytes);

        Assert.Equal(1600, audio.FrameCount);
        var warning = Assert.Single(audio.Warnings);
        Assert.StartsWith("the WAV file is truncated: the data chunk declares 1,000,000 bytes but only 3,200 were present", warning);
        Assert.Contains("0.1 s", warning);
    }

    [Fact]
    public async Task A_trailing_partial_frame_is_dropped_with_a_warning()
    {
        var audio = await Read(new WavBuilder { Channels = 2, Data = [.. WavBuilder.Pcm16(1, 2), 9, 9] }.Build());

        Assert.Equal(1, audio.FrameCount);
        Assert.Contains(audio.Warnings, w => w.Contains("2 bytes that do not make a whole frame"));
    }

    [Fact]
    public async Task A_wav_with_zero_samples_is_refused()
    {
        var error = await ReadFails(new WavBuilder { Data = [] }.Build());
        Assert.Equal("the WAV file holds no samples: its data chunk is empty", error.Message);
    }

    [Theory]
    [InlineData((ushort)0x0002, "Microsoft ADPCM (format tag 0x0002)")]
    [InlineData((ushort)0x0011, "IMA ADPCM (format tag 0x0011)")]
    [InlineData((ushort)0x1234, "an unknown encoding (format tag 0x1234)")]
    public async Task Unsupported_encodings_are_named_with_their_format_tag(ushort tag, string expected)
    {
        var error = await ReadFails(new WavBuilder { FormatTag = tag, BitsPerSample = 8, Data = [1, 2, 3, 4] }.Build());

        Assert.StartsWith($"this WAV file is encoded as {expected}, which is not supported", error.Message);
    }

    [Fact]
    public async Task Unsupported_encoding_inside_extensible_is_named_too()
    {
        var error = await ReadFails(new WavBuilder { ExtensibleSubFormat = 2, BitsPerSample = 4, Data = [1, 2] }.Build());
        Assert.Contains("Microsoft ADPCM (format tag 0x0002)", error.Message);
    }

    [Theory]
    [InlineData(0, 16000, 16, null, "the WAV header declares 0 channels")]
    [InlineData(65, 16000, 16, null, "the WAV header declares 65 channels; at most 64 are supported")]
    [InlineData(1, 0, 16, null, "the WAV header declares a sample rate of 0 Hz; rates from 1 Hz to 768,000 Hz are supported")]
    [InlineData(1, 800000, 16, null, "the WAV header declares a sample rate of 800,000 Hz; rates from 1 Hz to 768,000 Hz are supported")]
    [InlineData(2, 16000, 16, 2, "the WAV header is inconsistent: it declares 2 bytes per frame (block align), but 2 channel(s) of 16-bit samples take 4")]
    [InlineData(1, 16000, 12, null, null)] // 12-bit PCM in 16-bit containers is fine
    [InlineData(1, 16000, 40, null, "this WAV file holds 40-bit PCM, which is not supported; 8, 16, 24 and 32-bit are")]
    public async Task Absurd_headers_are_refused(int channels, int rate, int bits, int? blockAlign, string? expected)
    {
        var bytes = new WavBuilder { Channels = channels, SampleRate = rate, BitsPerSample = bits, BlockAlign = blockAlign, Data = new byte[16] }.Build();

        if (expected is null)
        {
            Assert.Equal(8, (await Read(bytes)).FrameCount);
            return;
        }
        var error = await ReadFails(bytes);
        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public async Task Not_a_wav_file_is_refused()
    {
        var error = await ReadFails("OggS\0\x02\0\0\0\0\0\0\0\0\0\0"u8.ToArray());
        Assert.Equal("this is not a WAV file: it does not start with RIFF....WAVE", error.Message);
    }

    [Fact]
    public async Task A_declared_length_over_the_limit_is_refused_before_any_sample_is_read()
    {
        // 10 hours of 16 kHz mono 16-bit; none of the data is present, so only the header can have been judged.
        var bytes = new WavBuilder { DeclaredDataSize = 10u * 3600 * 16000 * 2, Data = [] }.Build();

        var error = await ReadFails(bytes, TimeSpan.FromMinutes(30));

        Assert.Equal("the audio is 10 h 0 min long; the limit is 30 min", error.Message);
    }

    [Fact]
    public async Task An_open_ended_data_chunk_stops_at_the_limit()
    {
        var bytes = new WavBuilder { SampleRate = 8000, DeclaredDataSize = 0xFFFFFFFF, Data = new byte[2 * 8000 * 3] }.Build();

        var error = await ReadFails(bytes, TimeSpan.FromSeconds(2));

        Assert.Equal("the audio is longer than the 2 s limit", error.Message);
    }

    [Fact]
    public async Task A_huge_declared_size_does_not_allocate_before_data_arrives()
    {
        // ~1 GB declared, 2,000 bytes present. MemoryStream completes synchronously, so this thread did all the work.
        var bytes = new WavBuilder { DeclaredDataSize = 1_000_000_000, Data = new byte[2000] }.Build();
        var before = GC.GetAllocatedBytesForCurrentThread();

        var audio = await Read(bytes);

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(1000, audio.FrameCount);
        Assert.True(allocated < 16 * 1024 * 1024, $"allocated {allocated:N0} bytes for 1,000 samples");
    }
}
