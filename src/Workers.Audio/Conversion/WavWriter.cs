using System.Buffers;
using System.Buffers.Binary;

namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>Writes mono WAV files: 32-bit IEEE float (lossless for our samples) or 16-bit PCM (for players and tools).</summary>
public static class WavWriter
{
    private const ushort WaveFormatPcm = 0x0001;
    private const ushort WaveFormatIeeeFloat = 0x0003;
    private const int SamplesPerWrite = 16 * 1024;

    /// <summary>Writes a WAVE_FORMAT_IEEE_FLOAT file with a fact chunk, as the WAV specification asks for non-PCM data.</summary>
    /// <param name="output">Receives the file from its current position.</param>
    /// <param name="samples">Mono samples, nominally in [-1, 1]; written unchanged.</param>
    /// <param name="sampleRate">Samples per second.</param>
    public static void WriteFloat32(Stream output, ReadOnlySpan<float> samples, int sampleRate)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, 1);
        var dataLength = DataLength(samples.Length, bytesPerSample: 4);

        Span<byte> header = stackalloc byte[58];
        "RIFF"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], checked((uint)(header.Length - 8 + dataLength)));
        "WAVE"u8.CopyTo(header[8..]);
        WriteFormatChunk(header[12..], WaveFormatIeeeFloat, sampleRate, bitsPerSample: 32, withExtensionSize: true);
        "fact"u8.CopyTo(header[38..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[42..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[46..], (uint)samples.Length);
        "data"u8.CopyTo(header[50..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[54..], dataLength);
        output.Write(header);

        WriteSamples(output, samples, bytesPerSample: 4, static (sample, bytes) => BinaryPrimitives.WriteSingleLittleEndian(bytes, sample));
    }

    /// <summary>Writes a 16-bit PCM file; samples are scaled by 32768, rounded, and clipped to the 16-bit range.</summary>
    /// <param name="output">Receives the file from its current position.</param>
    /// <param name="samples">Mono samples in [-1, 1].</param>
    /// <param name="sampleRate">Samples per second.</param>
    public static void WritePcm16(Stream output, ReadOnlySpan<float> samples, int sampleRate)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, 1);
        var dataLength = DataLength(samples.Length, bytesPerSample: 2);

        Span<byte> header = stackalloc byte[44];
        "RIFF"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], checked((uint)(header.Length - 8 + dataLength)));
        "WAVE"u8.CopyTo(header[8..]);
        WriteFormatChunk(header[12..], WaveFormatPcm, sampleRate, bitsPerSample: 16, withExtensionSize: false);
        "data"u8.CopyTo(header[36..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[40..], dataLength);
        output.Write(header);

        WriteSamples(output, samples, bytesPerSample: 2, static (sample, bytes) =>
            BinaryPrimitives.WriteInt16LittleEndian(bytes, (short)Math.Clamp(MathF.Round(sample * 32768f), short.MinValue, short.MaxValue)));
    }

    private static uint DataLength(int sampleCount, int bytesPerSample)
    {
        var length = (long)sampleCount * bytesPerSample;
        if (length > uint.MaxValue - 64) throw new ArgumentException("Too many samples for a WAV file (4 GiB limit).", "samples");
        return (uint)length;
    }

    /// <summary>Writes a "fmt " chunk for mono audio; non-PCM formats carry a (zero) extension size, making it 18 bytes.</summary>
    private static void WriteFormatChunk(Span<byte> chunk, ushort formatTag, int sampleRate, int bitsPerSample, bool withExtensionSize)
    {
        var blockAlign = bitsPerSample / 8;
        "fmt "u8.CopyTo(chunk);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk[4..], withExtensionSize ? 18u : 16u);
        BinaryPrimitives.WriteUInt16LittleEndian(chunk[8..], formatTag);
        BinaryPrimitives.WriteUInt16LittleEndian(chunk[10..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk[12..], (uint)sampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk[16..], (uint)(sampleRate * blockAlign));
        BinaryPrimitives.WriteUInt16LittleEndian(chunk[20..], (ushort)blockAlign);
        BinaryPrimitives.WriteUInt16LittleEndian(chunk[22..], (ushort)bitsPerSample);
        if (withExtensionSize) BinaryPrimitives.WriteUInt16LittleEndian(chunk[24..], 0);
    }

    private delegate void SampleEncoder(float sample, Span<byte> destination);

    private static void WriteSamples(Stream output, ReadOnlySpan<float> samples, int bytesPerSample, SampleEncoder encode)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(SamplesPerWrite * bytesPerSample);
        try
        {
            for (var offset = 0; offset < samples.Length; offset += SamplesPerWrite)
            {
                var block = samples.Slice(offset, Math.Min(SamplesPerWrite, samples.Length - offset));
                for (var i = 0; i < block.Length; i++) encode(block[i], buffer.AsSpan(i * bytesPerSample, bytesPerSample));
                output.Write(buffer, 0, block.Length * bytesPerSample);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
