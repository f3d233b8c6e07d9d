using System.Buffers.Binary;
using System.Text;

namespace TalkingFace.Tests.Audio;

/// <summary>Builds WAV files byte by byte, including malformed ones, for the reader tests.</summary>
internal sealed class WavBuilder
{
    public string RiffId { get; init; } = "RIFF";
    public ushort FormatTag { get; init; } = 1;
    public int Channels { get; init; } = 1;
    public int SampleRate { get; init; } = 16000;
    public int BitsPerSample { get; init; } = 16;
    public int? BlockAlign { get; init; }
    /// <summary>When set, writes WAVE_FORMAT_EXTENSIBLE with this sub-format tag.</summary>
    public ushort? ExtensibleSubFormat { get; init; }
    public byte[] Data { get; init; } = [];
    /// <summary>The size the data chunk declares; the real length of <see cref="Data"/> when null.</summary>
    public uint? DeclaredDataSize { get; init; }
    /// <summary>Chunks written between fmt and data (LIST, JUNK...), odd sizes padded as the format requires.</summary>
    public List<(string Id, byte[] Body)> ChunksBeforeData { get; init; } = [];

    public byte[] Build()
    {
        using var body = new MemoryStream();
        var w = new BinaryWriter(body, Encoding.ASCII);
        w.Write("WAVE"u8);
        if (RiffId == "RF64")
        {
            w.Write("ds64"u8);
            w.Write(28u);
            w.Write(0UL); // RIFF size (unused by the reader)
            w.Write((ulong)(DeclaredDataSize ?? (uint)Data.Length));
            w.Write(0UL); // sample count
            w.Write(0u); // table length
        }
        WriteFormatChunk(w);
        foreach (var (id, chunk) in ChunksBeforeData)
        {
            w.Write(Encoding.ASCII.GetBytes(id));
            w.Write((uint)chunk.Length);
            w.Write(chunk);
            if (chunk.Length % 2 == 1) w.Write((byte)0);
        }
        w.Write("data"u8);
        w.Write(RiffId == "RF64" ? 0xFFFFFFFFu : DeclaredDataSize ?? (uint)Data.Length);
        w.Write(Data);
        w.Flush();

        var riff = new byte[8 + body.Length];
        Encoding.ASCII.GetBytes(RiffId).CopyTo(riff, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(riff.AsSpan(4), RiffId == "RF64" ? 0xFFFFFFFFu : (uint)body.Length);
        body.ToArray().CopyTo(riff, 8);
        return riff;
    }

    private void WriteFormatChunk(BinaryWriter w)
    {
        var blockAlign = BlockAlign ?? Channels * ((BitsPerSample + 7) / 8);
        w.Write("fmt "u8);
        w.Write(ExtensibleSubFormat is null ? 16u : 40u);
        w.Write(ExtensibleSubFormat is null ? FormatTag : (ushort)0xFFFE);
        w.Write((ushort)Channels);
        w.Write((uint)SampleRate);
        w.Write((uint)(SampleRate * blockAlign));
        w.Write((ushort)blockAlign);
        w.Write((ushort)BitsPerSample);
        if (ExtensibleSubFormat is { } subFormat)
        {
            w.Write((ushort)22);
            w.Write((ushort)BitsPerSample); // valid bits
            w.Write(0u); // channel mask
            w.Write((uint)subFormat);
            w.Write(new byte[] { 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 });
        }
    }

    public static byte[] Pcm16(params short[] samples)
    {
        var bytes = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(2 * i), samples[i]);
        return bytes;
    }

    public static byte[] Pcm24(params int[] samples)
    {
        var bytes = new byte[samples.Length * 3];
        for (var i = 0; i < samples.Length; i++)
        {
            bytes[3 * i] = (byte)samples[i];
            bytes[3 * i + 1] = (byte)(samples[i] >> 8);
            bytes[3 * i + 2] = (byte)(samples[i] >> 16);
        }
        return bytes;
    }

    public static byte[] Pcm32(params int[] samples)
    {
        var bytes = new byte[samples.Length * 4];
        for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), samples[i]);
        return bytes;
    }

    public static byte[] Float32(params float[] samples)
    {
        var bytes = new byte[samples.Length * 4];
        for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), samples[i]);
        return bytes;
    }

    public static byte[] Float64(params double[] samples)
    {
        var bytes = new byte[samples.Length * 8];
        for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), samples[i]);
        return bytes;
    }
}

/// <summary>Hides a stream's ability to seek, like an HTTP request body.</summary>
internal sealed class NonSeekableStream(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
