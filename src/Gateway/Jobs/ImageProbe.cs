using System.Buffers.Binary;
using System.IO.Hashing;
using TalkingFace.Media;

namespace TalkingFace.Gateway.Jobs;

/// <summary>
/// Checks an uploaded image by its bytes before a job is accepted: the container is whole (PNG chunks with valid CRCs
/// up to IEND, JPEG markers up to the scan and an end marker, WebP's RIFF size) and the declared size is sane, so a
/// truncated file, a file that only starts like an image, or a decompression bomb (a small file declaring a huge
/// canvas) is a 400 now, not a worker running out of memory later. It does not decode pixels; the worker does.
/// </summary>
public static class ImageProbe
{
    /// <summary>Largest side accepted (pixels).</summary>
    public const int MaxSide = 16384;

    /// <summary>Largest canvas accepted: 64 megapixels (a 256 MiB RGBA buffer).</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    /// <summary>Null when the image is acceptable, else why not (in words a user can act on).</summary>
    public static string? Check(Stream content, MediaKind kind, string fileName)
    {
        try
        {
            var (width, height) = kind switch
            {
                MediaKind.Png => Png(content),
                MediaKind.Jpeg => Jpeg(content),
                MediaKind.WebP => WebP(content),
                _ => (1, 1), // other image kinds are left to the worker's decoder
            };
            return CanvasProblem(width, height, fileName);
        }
        catch (InvalidDataException e)
        {
            return $"'{fileName}' is not a whole {kind.Describe()}: {e.Message}.";
        }
        catch (EndOfStreamException)
        {
            return $"'{fileName}' is not a whole {kind.Describe()}: it is truncated.";
        }
    }

    /// <summary>Null when a declared canvas is within the limits, else why not (also asked with the decoder's own reading, <see cref="ImageDecodeProbe"/>).</summary>
    public static string? CanvasProblem(int width, int height, string fileName)
    {
        if (width <= 0 || height <= 0) return $"'{fileName}' declares an empty image ({width}x{height}).";
        if (width > MaxSide || height > MaxSide || (long)width * height > MaxPixels)
            return $"'{fileName}' declares a {width}x{height} image; the limit is {MaxSide} pixels a side and {MaxPixels / (1024 * 1024)} megapixels.";
        return null;
    }

    private static (int, int) Png(Stream s)
    {
        Skip(s, 8); // signature, already sniffed
        int width = 0, height = 0;
        var sawData = false;
        var first = true;
        Span<byte> header = stackalloc byte[8];
        var buffer = new byte[64 * 1024];
        while (true)
        {
            s.ReadExactly(header);
            var length = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (length > int.MaxValue) throw new InvalidDataException("a chunk declares an impossible length");
            var type = header[4..8].ToArray();
            var name = System.Text.Encoding.ASCII.GetString(type);
            if (first && name != "IHDR") throw new InvalidDataException("it does not start with an IHDR chunk");
            var crc = new Crc32();
            crc.Append(type);
            var remaining = (int)length;
            var data = name == "IHDR" ? new byte[Math.Min(remaining, 64)] : null;
            var at = 0;
            while (remaining > 0)
            {
                var n = s.Read(buffer, 0, Math.Min(buffer.Length, remaining));
                if (n == 0) throw new EndOfStreamException();
                crc.Append(buffer.AsSpan(0, n));
                if (data is not null && at < data.Length) buffer.AsSpan(0, Math.Min(n, data.Length - at)).CopyTo(data.AsSpan(at));
                at += n;
                remaining -= n;
            }
            var stored = header[..4];
            s.ReadExactly(stored);
            if (BinaryPrimitives.ReadUInt32BigEndian(stored) != crc.GetCurrentHashAsUInt32())
                throw new InvalidDataException($"its {name} chunk is corrupt (CRC mismatch)");
            if (name == "IHDR")
            {
                if (length != 13) throw new InvalidDataException("its IHDR chunk has the wrong length");
                width = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(data));
                height = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4)));
            }
            if (name == "IDAT") sawData = true;
            if (name == "IEND")
            {
                if (!sawData) throw new InvalidDataException("it has no image data (IDAT)");
                return (width, height);
            }
            first = false;
        }
    }

    private static (int, int) Jpeg(Stream s)
    {
        Skip(s, 2); // SOI
        int width = 0, height = 0;
        Span<byte> two = stackalloc byte[2];
        Span<byte> sof = stackalloc byte[5];
        while (true)
        {
            int b;
            do b = ReadByte(s); while (b != 0xFF);
            int marker;
            do marker = ReadByte(s); while (marker == 0xFF);
            if (marker is 0xD9) throw new InvalidDataException("it ends before any image data");
            if (marker is >= 0xD0 and <= 0xD7 or 0x01) continue; // markers without a length
            s.ReadExactly(two);
            var length = BinaryPrimitives.ReadUInt16BigEndian(two);
            if (length < 2) throw new InvalidDataException("a marker segment has an impossible length");
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                s.ReadExactly(sof);
                height = BinaryPrimitives.ReadUInt16BigEndian(sof[1..3]);
                width = BinaryPrimitives.ReadUInt16BigEndian(sof[3..5]);
                Skip(s, length - 2 - 5);
                continue;
            }
            if (marker == 0xDA) // start of scan: entropy-coded data follows, ending at EOI
            {
                if (width == 0) throw new InvalidDataException("it has no frame header (SOF) before its image data");
                Skip(s, length - 2);
                var previous = 0;
                while (true)
                {
                    var c = s.ReadByte();
                    if (c < 0) throw new InvalidDataException("its image data is cut off before the end marker");
                    if (previous == 0xFF && c == 0xD9) return (width, height);
                    previous = c;
                }
            }
            Skip(s, length - 2);
        }
    }

    private static (int, int) WebP(Stream s)
    {
        Span<byte> head = stackalloc byte[30];
        s.ReadExactly(head);
        var riffSize = BinaryPrimitives.ReadUInt32LittleEndian(head[4..8]);
        if (s.CanSeek && s.Length < riffSize + 8L) throw new InvalidDataException("it is shorter than its RIFF header says");
        var chunk = System.Text.Encoding.ASCII.GetString(head[12..16]);
        return chunk switch
        {
            "VP8 " => (BinaryPrimitives.ReadUInt16LittleEndian(head[26..28]) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(head[28..30]) & 0x3FFF),
            "VP8L" => (1 + ((head[21] | (head[22] << 8)) & 0x3FFF), 1 + (((head[22] >> 6) | (head[23] << 2) | (head[24] << 10)) & 0x3FFF)),
            "VP8X" => (1 + (head[24] | (head[25] << 8) | (head[26] << 16)), 1 + (head[27] | (head[28] << 8) | (head[29] << 16))),
            _ => throw new InvalidDataException($"its first chunk '{chunk}' is not a VP8 image"),
        };
    }

    private static int ReadByte(Stream s) => s.ReadByte() is var b and >= 0 ? b : throw new EndOfStreamException();

    private static void Skip(Stream s, long count)
    {
        if (count <= 0) return;
        if (s.CanSeek)
        {
            if (s.Position + count > s.Length) throw new EndOfStreamException();
            s.Seek(count, SeekOrigin.Current);
            return;
        }
        var buffer = new byte[Math.Min(count, 8192)];
        while (count > 0)
        {
            var n = s.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
            if (n == 0) throw new EndOfStreamException();
            count -= n;
        }
    }
}
