using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Tests.Audio;

/// <summary>
/// WAV files as real tools write them (sox, ffmpeg, head), made at test time: telephony G.711, chunks of odd size
/// before the data, files cut short. Each decode is compared with what the tool itself decodes the file to.
/// </summary>
public sealed class RealToolWavTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("talkingface-realwav-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string Hello => Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav");

    private string PathOf(string name) => Path.Combine(_folder, name);

    /// <summary>Runs sox, ffmpeg or sh; the suite needs them installed (scripts/services.sh start installs them as root).</summary>
    internal static void Tool(string name, params string[] arguments) =>
        Assert.True(ExternalTool.Run(name, arguments) is not null, $"{name} is not installed (apt-get install {(name == "sh" ? "dash" : name)})");

    private static async Task<PcmAudio> ReadFileAsync(string path, bool seekable = true)
    {
        await using var file = File.OpenRead(path);
        return await WavReader.ReadAsync(seekable ? file : new NonSeekableStream(file));
    }

    [Theory]
    [InlineData("sox", "mu-law", 1, 8000, "wav mulaw")]
    [InlineData("sox", "a-law", 1, 8000, "wav alaw")]
    [InlineData("ffmpeg", "pcm_mulaw", 1, 8000, "wav mulaw")]
    [InlineData("ffmpeg", "pcm_alaw", 2, 8000, "wav alaw")]
    [InlineData("ffmpeg", "pcm_mulaw", 3, 8000, "wav mulaw")]  // WAVE_FORMAT_EXTENSIBLE (more than two channels)
    [InlineData("ffmpeg", "pcm_alaw", 1, 96000, "wav alaw")]   // WAVE_FORMAT_EXTENSIBLE (above 48 kHz)
    public async Task G711_telephony_wavs_decode_to_exactly_what_the_tool_decodes_them_to(string tool, string encoding, int channels, int rate, string format)
    {
        var g711 = PathOf("g711.wav");
        var reference = PathOf("reference.wav");
        var ch = channels.ToString(CultureInfo.InvariantCulture);
        var hz = rate.ToString(CultureInfo.InvariantCulture);
        if (tool == "sox")
        {
            Tool("sox", Hello, "-r", hz, "-c", ch, "-e", encoding, g711);
            Tool("sox", g711, "-e", "signed-integer", "-b", "16", reference);
        }
        else
        {
            Tool("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", Hello, "-ar", hz, "-ac", ch, "-c:a", encoding, g711);
            Tool("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", g711, "-c:a", "pcm_s16le", reference);
        }

        var audio = await ReadFileAsync(g711);
        var expected = await ReadFileAsync(reference);

        Assert.Equal((format, rate, channels), (audio.Format, audio.SampleRate, audio.ChannelCount));
        Assert.Equal(expected.InterleavedSamples.Length, audio.InterleavedSamples.Length);
        Assert.Equal(expected.InterleavedSamples, audio.InterleavedSamples); // 16-bit values / 32768, bit for bit
        Assert.Contains(audio.InterleavedSamples, v => Math.Abs(v) > 0.1f); // speech, not silence
        Assert.Empty(audio.Warnings);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_odd_sized_bext_chunk_from_ffmpeg_is_skipped_with_its_pad_byte(bool seekable)
    {
        var wav = PathOf("bext.wav");
        // Broadcast WAV: ffmpeg's bext chunk is 602 bytes plus the coding history and its terminating zero.
        Tool("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", Hello, "-c:a", "pcm_s16le", "-write_bext", "1", "-metadata", "coding_history=ab", wav);
        var chunks = ChunkSizes(await File.ReadAllBytesAsync(wav));
        Assert.True(chunks["bext"] % 2 == 1, $"ffmpeg wrote an even bext chunk ({chunks["bext"]} bytes); the test needs an odd one");

        var audio = await ReadFileAsync(wav, seekable);
        var source = await ReadFileAsync(Hello);

        Assert.Equal(source.InterleavedSamples, audio.InterleavedSamples);
        Assert.Empty(audio.Warnings);
    }

    [Fact]
    public async Task The_pad_byte_of_an_odd_sized_fmt_chunk_is_read_even_from_a_stream_that_hands_out_one_byte_at_a_time()
    {
        // A fmt chunk of 17 bytes (the 16 of PCM and one extra) is followed by a pad byte; a reader that asks for at
        // least 17 bytes gets exactly 17 from such a stream and would read the next chunk header one byte early.
        var wav = PathOf("pcm.wav");
        Tool("sox", Hello, "-e", "signed-integer", "-b", "16", "-r", "8000", wav);
        var original = await File.ReadAllBytesAsync(wav);
        var data = original.AsSpan(ChunkOffset(original, "data"));
        var fmt = original.AsSpan(ChunkOffset(original, "fmt "), 8 + 16).ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(4), 17);
        byte[] body = [.. "WAVE"u8, .. fmt, 0x2A, 0x00, .. data];
        byte[] bytes = [.. "RIFF"u8, .. BitConverter.GetBytes((uint)body.Length), .. body];

        var audio = await WavReader.ReadAsync(new OneByteAtATimeStream(bytes));
        var source = await ReadFileAsync(wav);

        Assert.Equal(source.InterleavedSamples, audio.InterleavedSamples);
    }

    [Fact]
    public async Task A_wav_cut_short_by_head_is_decoded_up_to_the_cut_and_says_so()
    {
        var wav = PathOf("whole.wav");
        var cut = PathOf("cut.wav");
        Tool("sox", Hello, "-e", "signed-integer", "-b", "16", "-c", "1", wav);
        var whole = await File.ReadAllBytesAsync(wav);
        var dataStart = ChunkOffset(whole, "data") + 8;
        var keptBytes = (whole.Length - dataStart) / 2 + 1; // half the samples and one byte of the next
        Tool("sh", "-c", $"head -c {dataStart + keptBytes} '{wav}' > '{cut}'");

        var audio = await ReadFileAsync(cut);
        var source = await ReadFileAsync(wav);

        Assert.Equal(source.InterleavedSamples.Take(keptBytes / 2), audio.InterleavedSamples);
        Assert.Equal(2, audio.Warnings.Count);
        Assert.StartsWith("the WAV file is truncated: the data chunk declares", audio.Warnings[0]);
        Assert.Contains("were decoded", audio.Warnings[0]);
        Assert.Equal("the WAV data ends with 1 bytes that do not make a whole frame; they were ignored", audio.Warnings[1]);
    }

    /// <summary>Each chunk id before (and including) data with its declared size.</summary>
    internal static Dictionary<string, uint> ChunkSizes(byte[] wav)
    {
        var sizes = new Dictionary<string, uint>();
        for (var at = 12; at + 8 <= wav.Length;)
        {
            var id = Encoding.ASCII.GetString(wav, at, 4);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(wav.AsSpan(at + 4));
            sizes[id] = size;
            if (id == "data") break;
            at += 8 + (int)size + (int)(size & 1);
        }
        return sizes;
    }

    /// <summary>Where the chunk's 8-byte header starts.</summary>
    internal static int ChunkOffset(byte[] wav, string wanted)
    {
        for (var at = 12; at + 8 <= wav.Length;)
        {
            var id = Encoding.ASCII.GetString(wav, at, 4);
            if (id == wanted) return at;
            var size = BinaryPrimitives.ReadUInt32LittleEndian(wav.AsSpan(at + 4));
            at += 8 + (int)size + (int)(size & 1);
        }
        throw new Xunit.Sdk.XunitException($"no '{wanted}' chunk");
    }

    /// <summary>A network-like stream: never seekable, and every read returns a single byte.</summary>
    private sealed class OneByteAtATimeStream(byte[] bytes) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (buffer.Length == 0 || _position >= bytes.Length) return 0;
            buffer[0] = bytes[_position++];
            return 1;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
