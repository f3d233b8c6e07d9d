using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using static TalkingFace.Workers.Audio.Conversion.DurationText;

namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>
/// Decodes RIFF/WAVE and RF64 files: PCM 8/16/24/32-bit, IEEE float 32/64-bit, G.711 mu-law and A-law, plain or
/// WAVE_FORMAT_EXTENSIBLE, any channel count up to <see cref="MaxChannels"/> and any rate up to <see cref="MaxSampleRate"/>.
/// </summary>
/// <remarks>
/// Memory follows the bytes actually present: a declared data length is believed only up to what a seekable stream
/// holds (or a fixed first allocation otherwise) and the length limit. A data chunk shorter than declared (common with
/// recorders that were cut off) is accepted with a warning if it holds at least one whole frame.
/// </remarks>
public static class WavReader
{
    /// <summary>Most channels accepted.</summary>
    public const int MaxChannels = 64;

    /// <summary>Highest sample rate accepted, in Hz.</summary>
    public const int MaxSampleRate = 768_000;

    private const uint UnknownChunkSize = 0xFFFFFFFF;
    private const int MaxHeaderChunkSize = 64 * 1024;
    private const int ReadBufferSize = 64 * 1024;
    private const int InitialSampleCapacity = 1 << 20;

    private const ushort WaveFormatPcm = 0x0001;
    private const ushort WaveFormatIeeeFloat = 0x0003;
    private const ushort WaveFormatALaw = 0x0006;
    private const ushort WaveFormatMuLaw = 0x0007;
    private const ushort WaveFormatExtensible = 0xFFFE;

    /// <summary>Bytes 4..16 of every KSDATAFORMAT_SUBTYPE_* GUID whose first four bytes are a format tag.</summary>
    private static ReadOnlySpan<byte> SubFormatGuidTail => [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <summary>Reads the header and all samples.</summary>
    /// <param name="stream">Positioned at the start of the file; read forwards only.</param>
    /// <param name="maxDuration">Longest audio accepted; checked against the header before any sample is decoded.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <exception cref="AudioFormatException">The file is not a usable WAV file; the message says why.</exception>
    public static async Task<PcmAudio> ReadAsync(Stream stream, TimeSpan? maxDuration = null, CancellationToken cancellationToken = default)
    {
        var header = await ReadHeaderAsync(stream, cancellationToken).ConfigureAwait(false);
        return await ReadSamplesAsync(stream, header, maxDuration, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads chunks up to the start of the data chunk's samples, skipping chunks it does not need.</summary>
    /// <exception cref="AudioFormatException">Empty, truncated, not WAV, or an unsupported or absurd format.</exception>
    public static async Task<WavHeader> ReadHeaderAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var riff = new byte[12];
        var read = await stream.ReadAtLeastAsync(riff, riff.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read == 0) throw new AudioFormatException("the file is empty");
        if (read < riff.Length)
        {
            throw new AudioFormatException(StartsLikeRiff(riff)
                ? $"the WAV file is truncated: it is only {Count(read)} bytes long, too short for a WAV header"
                : "this is not a WAV file: it does not start with RIFF....WAVE");
        }
        var container = ContainerOf(riff);

        var warnings = new List<string>();
        FormatChunk? format = null;
        ulong? rf64DataSize = null;
        var chunkHeader = new byte[8];
        while (true)
        {
            read = await stream.ReadAtLeastAsync(chunkHeader, chunkHeader.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read < chunkHeader.Length)
            {
                throw new AudioFormatException(format is null
                    ? "the WAV file is truncated: it ends before its fmt chunk (the part that says how the samples are stored)"
                    : "the WAV file is truncated: it ends before its data chunk (it holds no samples)");
            }
            var id = Encoding.ASCII.GetString(chunkHeader, 0, 4);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(chunkHeader.AsSpan(4));

            switch (id)
            {
                case "ds64" when container == "rf64":
                    var ds64 = await ReadSmallChunkAsync(stream, id, size, minimumSize: 24, cancellationToken).ConfigureAwait(false);
                    rf64DataSize = BinaryPrimitives.ReadUInt64LittleEndian(ds64.AsSpan(8));
                    break;
                case "fmt ":
                    var body = await ReadSmallChunkAsync(stream, id, size, minimumSize: 16, cancellationToken).ConfigureAwait(false);
                    format = FormatChunk.Parse(body, warnings);
                    break;
                case "data":
                    if (format is null) throw new AudioFormatException("the WAV file is malformed: its data chunk comes before its fmt chunk");
                    return format.ToHeader(container, DataLengthOf(size, container, rf64DataSize, warnings), warnings);
                default:
                    await SkipChunkAsync(stream, id, size, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>Reads the samples of the data chunk whose header <paramref name="header"/> describes.</summary>
    /// <param name="stream">Positioned at the first sample, as <see cref="ReadHeaderAsync"/> leaves it.</param>
    /// <param name="header">The header read from the same stream.</param>
    /// <param name="maxDuration">Longest audio accepted: a longer declared length is refused before reading, and an
    /// open-ended data chunk stops being read as soon as it passes the limit.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <exception cref="AudioFormatException">No samples, too long, or no whole frame in a truncated file.</exception>
    public static async Task<PcmAudio> ReadSamplesAsync(
        Stream stream, WavHeader header, TimeSpan? maxDuration = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(header);
        if (header.DataLength == 0) throw new AudioFormatException("the WAV file holds no samples: its data chunk is empty");
        if (maxDuration is { } limit && header.DeclaredDuration is { } declared && declared > limit)
        {
            throw new AudioFormatException($"the audio is {Format(declared)} long; the limit is {Format(limit)}");
        }
        var maxFrames = maxDuration is { } max ? (long)Math.Ceiling(max.TotalSeconds * header.SampleRate) : long.MaxValue;

        var warnings = new List<string>(header.Warnings);
        var blockAlign = header.BlockAlign;
        var bytesPerSample = header.Encoding.BytesPerSample();
        var bytesLeft = header.DataLength ?? long.MaxValue;
        var expectedSamples = header.DeclaredFrameCount * header.ChannelCount;
        var samples = new SampleBuffer(
            InitialCapacity(expectedSamples, AvailableSamples(stream, bytesPerSample), maxFrames, header.ChannelCount),
            expectedSamples);
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
        try
        {
            var bufferBytes = ReadBufferSize / blockAlign * blockAlign; // whole frames only
            var pending = 0; // bytes of an incomplete frame carried over from the last read
            long bytesRead = 0;
            while (bytesLeft > 0)
            {
                var want = (int)Math.Min(bufferBytes - pending, bytesLeft);
                var got = await stream.ReadAtLeastAsync(buffer.AsMemory(pending, want), want, throwOnEndOfStream: false, cancellationToken)
                    .ConfigureAwait(false);
                bytesRead += got;
                bytesLeft -= got;
                var available = pending + got;
                var whole = available / blockAlign * blockAlign;
                if (samples.Count / header.ChannelCount + whole / blockAlign > maxFrames)
                {
                    throw new AudioFormatException($"the audio is longer than the {Format(maxDuration!.Value)} limit");
                }
                Decode(buffer.AsSpan(0, whole), header.Encoding, samples.Append(whole / bytesPerSample));
                pending = available - whole;
                buffer.AsSpan(whole, pending).CopyTo(buffer);
                if (got < want) break; // end of stream
            }

            var frames = samples.Count / header.ChannelCount;
            if (header.DataLength is { } declaredBytes && bytesRead < declaredBytes)
            {
                var truncated = $"the WAV file is truncated: the data chunk declares {Count(declaredBytes)} bytes but only {Count(bytesRead)} were present";
                if (frames == 0) throw new AudioFormatException(truncated);
                warnings.Add($"{truncated}; the {Format(TimeSpan.FromSeconds((double)frames / header.SampleRate))} that were there were decoded");
            }
            else if (frames == 0)
            {
                throw new AudioFormatException("the WAV file holds no samples");
            }
            if (pending > 0)
            {
                warnings.Add($"the WAV data ends with {Count(pending)} bytes that do not make a whole frame; they were ignored");
            }
            return new PcmAudio(samples.ToArray(), header.SampleRate, header.ChannelCount, header.Format, warnings);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool StartsLikeRiff(ReadOnlySpan<byte> head) =>
        head.StartsWith("RIFF"u8) || head.StartsWith("RF64"u8) || head.StartsWith("BW64"u8);

    /// <summary>"wav" for RIFF, "rf64" for RF64 and BW64 (64-bit sizes in a ds64 chunk).</summary>
    /// <summary>
    /// The first allocation: what the header declares, but never more than a seekable stream really holds (or a
    /// fixed size when the stream cannot tell) nor more than the length limit allows.
    /// </summary>
    private static long InitialCapacity(long? declaredSamples, long? availableSamples, long maxFrames, int channelCount)
    {
        var maxSamples = maxFrames > Array.MaxLength / channelCount ? Array.MaxLength : maxFrames * channelCount;
        return Math.Min(Math.Min(declaredSamples ?? long.MaxValue, availableSamples ?? InitialSampleCapacity), maxSamples);
    }

    /// <summary>Samples a seekable stream really holds from here on; null when it cannot tell.</summary>
    private static long? AvailableSamples(Stream stream, int bytesPerSample) =>
        stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) / bytesPerSample : null;

    private static string ContainerOf(ReadOnlySpan<byte> riff)
    {
        if (!StartsLikeRiff(riff) || !riff[8..12].SequenceEqual("WAVE"u8))
        {
            throw new AudioFormatException("this is not a WAV file: it does not start with RIFF....WAVE");
        }
        return riff.StartsWith("RIFF"u8) ? "wav" : "rf64";
    }

    private static long? DataLengthOf(uint size, string container, ulong? rf64DataSize, List<string> warnings)
    {
        if (size != UnknownChunkSize) return size;
        if (container == "rf64")
        {
            if (rf64DataSize is null) throw new AudioFormatException("the RF64 file is malformed: it has no ds64 chunk giving the data length");
            return rf64DataSize > long.MaxValue ? null : (long)rf64DataSize.Value;
        }
        warnings.Add("the WAV header does not give the data length (written by a streaming tool); the data was read to the end of the file");
        return null;
    }

    /// <summary>Reads a header chunk's body (and its pad byte) into memory; such chunks are small.</summary>
    private static async Task<byte[]> ReadSmallChunkAsync(Stream stream, string id, uint size, int minimumSize, CancellationToken cancellationToken)
    {
        if (size < minimumSize)
        {
            throw new AudioFormatException($"the WAV file is malformed: its '{id.Trim()}' chunk is {size} bytes, it needs at least {minimumSize}");
        }
        if (size > MaxHeaderChunkSize)
        {
            throw new AudioFormatException($"the WAV file is malformed: its '{id.Trim()}' chunk claims {Count(size)} bytes");
        }
        // The pad byte after an odd size is read too, whatever sizes the stream hands out, so the next chunk header is
        // read from the right place; only a pad byte missing at the very end of the file is forgiven.
        var body = new byte[size + (size & 1)];
        var read = await stream.ReadAtLeastAsync(body, body.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < size) throw new AudioFormatException($"the WAV file is truncated: it ends inside its '{id.Trim()}' chunk");
        return body;
    }

    /// <summary>Skips a chunk this reader does not use (LIST, bext, fact, JUNK...), honouring the pad byte after odd sizes.</summary>
    private static async Task SkipChunkAsync(Stream stream, string id, uint size, CancellationToken cancellationToken)
    {
        var toSkip = (long)size + (size & 1);
        if (stream.CanSeek)
        {
            var remaining = stream.Length - stream.Position;
            if (size > remaining) throw EndsInsideChunk(id);
            stream.Seek(Math.Min(toSkip, remaining), SeekOrigin.Current); // a missing final pad byte is harmless
            return;
        }
        var scratch = ArrayPool<byte>.Shared.Rent((int)Math.Min(toSkip, ReadBufferSize));
        try
        {
            while (toSkip > 0)
            {
                var want = (int)Math.Min(toSkip, scratch.Length);
                var got = await stream.ReadAtLeastAsync(scratch.AsMemory(0, want), want, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                toSkip -= got;
                if (got < want)
                {
                    // A missing pad byte at the very end is harmless; anything more means the file was cut.
                    if (toSkip == 1 && (size & 1) == 1) return;
                    throw EndsInsideChunk(id);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private static AudioFormatException EndsInsideChunk(string id) =>
        new($"the WAV file is truncated: it ends inside a '{Printable(id)}' chunk, before its data chunk");

    private static string Printable(string id) =>
        id.All(c => c is >= ' ' and <= '~') ? id.Trim() : Convert.ToHexString(Encoding.Latin1.GetBytes(id));

    private static void Decode(ReadOnlySpan<byte> source, WavSampleEncoding encoding, Span<float> destination)
    {
        if (!BitConverter.IsLittleEndian)
        {
            DecodePortably(source, encoding, destination);
            return;
        }
        // Little-endian machine: the samples can be viewed in place as their native type.
        switch (encoding)
        {
            case WavSampleEncoding.Pcm16:
                var pcm16 = MemoryMarshal.Cast<byte, short>(source);
                for (var i = 0; i < destination.Length; i++) destination[i] = pcm16[i] * (1f / 32768);
                break;
            case WavSampleEncoding.Pcm32:
                var pcm32 = MemoryMarshal.Cast<byte, int>(source);
                for (var i = 0; i < destination.Length; i++) destination[i] = (float)(pcm32[i] * (1.0 / 2147483648));
                break;
            case WavSampleEncoding.Float32:
                MemoryMarshal.Cast<byte, float>(source)[..destination.Length].CopyTo(destination);
                break;
            case WavSampleEncoding.Float64:
                var float64 = MemoryMarshal.Cast<byte, double>(source);
                for (var i = 0; i < destination.Length; i++) destination[i] = (float)float64[i];
                break;
            default:
                DecodePortably(source, encoding, destination);
                break;
        }
    }

    private static void DecodePortably(ReadOnlySpan<byte> source, WavSampleEncoding encoding, Span<float> destination)
    {
        switch (encoding)
        {
            case WavSampleEncoding.Pcm8:
                for (var i = 0; i < destination.Length; i++) destination[i] = (source[i] - 128) * (1f / 128);
                break;
            case WavSampleEncoding.Pcm16:
                for (var i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadInt16LittleEndian(source[(2 * i)..]) * (1f / 32768);
                break;
            case WavSampleEncoding.Pcm24:
                for (var i = 0; i < destination.Length; i++)
                {
                    var b = source.Slice(3 * i, 3);
                    destination[i] = ((b[0] << 8 | b[1] << 16 | b[2] << 24) >> 8) * (1f / 8388608);
                }
                break;
            case WavSampleEncoding.Pcm32:
                for (var i = 0; i < destination.Length; i++) destination[i] = (float)(BinaryPrimitives.ReadInt32LittleEndian(source[(4 * i)..]) * (1.0 / 2147483648));
                break;
            case WavSampleEncoding.Float32:
                for (var i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
                break;
            case WavSampleEncoding.Float64:
                for (var i = 0; i < destination.Length; i++) destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(source[(8 * i)..]);
                break;
            case WavSampleEncoding.MuLaw:
                for (var i = 0; i < destination.Length; i++) destination[i] = G711.MuLaw[source[i]];
                break;
            case WavSampleEncoding.ALaw:
                for (var i = 0; i < destination.Length; i++) destination[i] = G711.ALaw[source[i]];
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(encoding), encoding, null);
        }
    }

    /// <summary>The fields of a fmt chunk, validated.</summary>
    private sealed record FormatChunk(WavSampleEncoding Encoding, int ChannelCount, int SampleRate, int BlockAlign)
    {
        public static FormatChunk Parse(ReadOnlySpan<byte> fmt, List<string> warnings)
        {
            var tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
            int channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
            var sampleRate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]);
            var byteRate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[8..]);
            int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
            int bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);

            if (tag == WaveFormatExtensible) tag = SubFormatTag(fmt);
            if (channels == 0) throw new AudioFormatException("the WAV header declares 0 channels");
            if (channels > MaxChannels)
            {
                throw new AudioFormatException($"the WAV header declares {channels} channels; at most {MaxChannels} are supported");
            }
            if (sampleRate == 0 || sampleRate > MaxSampleRate)
            {
                throw new AudioFormatException(
                    $"the WAV header declares a sample rate of {Count(sampleRate)} Hz; rates from 1 Hz to {Count(MaxSampleRate)} Hz are supported");
            }

            var encoding = EncodingOf(tag, bits);
            var expectedBlockAlign = channels * encoding.BytesPerSample();
            if (blockAlign != expectedBlockAlign)
            {
                throw new AudioFormatException(
                    $"the WAV header is inconsistent: it declares {blockAlign} bytes per frame (block align), " +
                    $"but {channels} channel(s) of {encoding.BytesPerSample() * 8}-bit samples take {expectedBlockAlign}");
            }
            if (byteRate != (long)sampleRate * blockAlign)
            {
                warnings.Add($"the WAV header's byte rate ({Count(byteRate)}) does not match its sample rate times block align " +
                             $"({Count((long)sampleRate * blockAlign)}); the sample rate was trusted");
            }
            return new FormatChunk(encoding, channels, (int)sampleRate, blockAlign);
        }

        public WavHeader ToHeader(string container, long? dataLength, List<string> warnings) =>
            new(container, Encoding, ChannelCount, SampleRate, BlockAlign, dataLength, warnings);

        private static ushort SubFormatTag(ReadOnlySpan<byte> fmt)
        {
            if (fmt.Length < 40)
            {
                throw new AudioFormatException($"the WAV file is malformed: its extensible fmt chunk is {fmt.Length} bytes, it needs 40");
            }
            var guid = fmt.Slice(24, 16);
            var tag = BinaryPrimitives.ReadUInt32LittleEndian(guid);
            if (!guid[4..].SequenceEqual(SubFormatGuidTail) || tag > ushort.MaxValue)
            {
                throw new AudioFormatException($"this WAV file uses the sub-format {new Guid(guid)}, which is not supported; only PCM, IEEE float, mu-law and A-law are");
            }
            return (ushort)tag;
        }

        private static WavSampleEncoding EncodingOf(ushort tag, int bits) => tag switch
        {
            WaveFormatPcm => ((bits + 7) / 8) switch
            {
                1 => WavSampleEncoding.Pcm8,
                2 => WavSampleEncoding.Pcm16,
                3 => WavSampleEncoding.Pcm24,
                4 => WavSampleEncoding.Pcm32,
                _ => throw new AudioFormatException($"this WAV file holds {bits}-bit PCM, which is not supported; 8, 16, 24 and 32-bit are"),
            },
            WaveFormatIeeeFloat => bits switch
            {
                32 => WavSampleEncoding.Float32,
                64 => WavSampleEncoding.Float64,
                _ => throw new AudioFormatException($"this WAV file holds {bits}-bit floating point, which is not supported; 32 and 64-bit are"),
            },
            WaveFormatMuLaw or WaveFormatALaw => bits == 8
                ? (tag == WaveFormatMuLaw ? WavSampleEncoding.MuLaw : WavSampleEncoding.ALaw)
                : throw new AudioFormatException($"this WAV file holds {bits}-bit {FormatTagName(tag)}, which is not supported; G.711 is 8-bit"),
            _ => throw new AudioFormatException(
                $"this WAV file is encoded as {FormatTagName(tag)} (format tag 0x{tag:X4}), which is not supported; " +
                "only PCM (8, 16, 24, 32-bit), IEEE float and G.711 mu-law/A-law WAV files are decoded: save it as 16-bit PCM WAV, FLAC or MP3"),
        };

        private static string FormatTagName(ushort tag) => tag switch
        {
            0x0002 => "Microsoft ADPCM",
            0x0006 => "A-law",
            0x0007 => "mu-law",
            0x0011 => "IMA ADPCM",
            0x0031 => "GSM 6.10",
            0x0050 => "MPEG audio",
            0x0055 => "MP3",
            0x00FF => "AAC",
            0x0161 => "Windows Media Audio",
            0x1610 => "HE-AAC",
            0xF1AC => "FLAC",
            _ => "an unknown encoding",
        };
    }

    /// <summary>
    /// A float array that grows (by doubling, up to the expected count) with what was actually decoded, so a header
    /// that declares hours of audio costs nothing until the samples really arrive.
    /// </summary>
    private sealed class SampleBuffer(long initialCapacity, long? expectedCount)
    {
        private float[] _items = new float[initialCapacity];

        public int Count { get; private set; }

        /// <summary>Reserves <paramref name="count"/> more samples and returns them to be written.</summary>
        public Span<float> Append(int count)
        {
            long needed = (long)Count + count;
            if (needed > Array.MaxLength)
            {
                throw new AudioFormatException("the audio holds too many samples to decode at once; shorten it or lower its sample rate");
            }
            if (needed > _items.Length)
            {
                var grown = Math.Max(needed, Math.Max(2L * _items.Length, InitialSampleCapacity));
                if (expectedCount is { } expected && expected >= needed) grown = Math.Min(grown, expected);
                Array.Resize(ref _items, (int)Math.Min(grown, Array.MaxLength));
            }
            var span = _items.AsSpan(Count, count);
            Count += count;
            return span;
        }

        public float[] ToArray()
        {
            if (_items.Length != Count) Array.Resize(ref _items, Count);
            return _items;
        }
    }
}

/// <summary>
/// ITU-T G.711 expansion: each 8-bit code word to its linear value (the 16-bit value sox and ffmpeg decode it to,
/// scaled to [-1, 1) like 16-bit PCM).
/// </summary>
internal static class G711
{
    public static readonly float[] MuLaw = Table(ExpandMuLaw);
    public static readonly float[] ALaw = Table(ExpandALaw);

    private static float[] Table(Func<byte, int> expand)
    {
        var table = new float[256];
        for (var code = 0; code < 256; code++) table[code] = expand((byte)code) * (1f / 32768);
        return table;
    }

    /// <summary>mu-law: the code is stored inverted; bias 0x84 added before the segment shift and removed after.</summary>
    private static int ExpandMuLaw(byte code)
    {
        var u = ~code & 0xFF;
        var magnitude = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
        return (u & 0x80) != 0 ? 0x84 - magnitude : magnitude - 0x84;
    }

    /// <summary>A-law: even bits are stored inverted (XOR 0x55); segment 0 is linear, the others add the implicit leading bit.</summary>
    private static int ExpandALaw(byte code)
    {
        var a = code ^ 0x55;
        var magnitude = (a & 0x0F) << 4;
        var segment = (a & 0x70) >> 4;
        magnitude = segment switch
        {
            0 => magnitude + 8,
            1 => magnitude + 0x108,
            _ => (magnitude + 0x108) << (segment - 1),
        };
        return (a & 0x80) != 0 ? magnitude : -magnitude;
    }
}
