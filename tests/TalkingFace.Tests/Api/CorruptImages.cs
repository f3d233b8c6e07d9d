using System.Buffers.Binary;
using System.IO.Hashing;

namespace TalkingFace.Tests.Api;

/// <summary>Images whose container is whole (so <c>ImageProbe</c> passes them) but whose pixel data does not decode.</summary>
internal static class CorruptImages
{
    /// <summary>
    /// The PNG with its first IDAT's compressed data (after the 2-byte zlib header) replaced by noise and the chunk's
    /// CRC recomputed: every chunk checks out, only inflating the pixels fails.
    /// </summary>
    public static byte[] PngWithGarbagePixels(byte[] png)
    {
        var bytes = (byte[])png.Clone();
        var at = 8;
        while (at + 12 <= bytes.Length)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at));
            if (bytes.AsSpan(at + 4, 4).SequenceEqual("IDAT"u8))
            {
                var data = bytes.AsSpan(at + 8, length);
                var noise = new Random(7);
                for (var i = 2; i < data.Length; i++) data[i] = (byte)noise.Next(256);
                BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 8 + length), Crc32.HashToUInt32(bytes.AsSpan(at + 4, 4 + length)));
                return bytes;
            }
            at += 12 + length;
        }
        throw new InvalidOperationException("no IDAT in the test PNG");
    }

    /// <summary>
    /// The JPEG with every quantization table (DQT) turned into a comment: its markers are all in place, but the
    /// decoder has no table to dequantize the scan with.
    /// </summary>
    public static byte[] JpegWithoutQuantizationTables(byte[] jpeg)
    {
        var bytes = (byte[])jpeg.Clone();
        var found = false;
        var at = 2;
        while (at + 4 <= bytes.Length && bytes[at] == 0xFF)
        {
            var marker = bytes[at + 1];
            if (marker == 0xDA) break; // the scan: tables come before it
            var length = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(at + 2));
            if (marker == 0xDB)
            {
                bytes[at + 1] = 0xFE; // COM
                found = true;
            }
            at += 2 + length;
        }
        return found ? bytes : throw new InvalidOperationException("no DQT in the test JPEG");
    }
}
