using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace TalkingFace.Media;

/// <summary>An array read from a <c>.npy</c> file: its values as float, in C (row-major) order, and its shape.</summary>
/// <param name="Data">The values, row-major; a 0-d (scalar) array has one value and an empty shape.</param>
/// <param name="Shape">The dimensions, outermost first.</param>
public sealed record NpyArray(float[] Data, int[] Shape);

/// <summary>
/// NumPy's <c>.npy</c> format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html), for the float
/// arrays the feature stages exchange with Python tools.
/// </summary>
/// <remarks>
/// <see cref="Write"/> writes format 1.0 (2.0 only when the header would not fit in 64 KiB), dtype <c>'&lt;f4'</c>,
/// C order, the header padded to a multiple of 64 bytes as NumPy does. <see cref="Read"/> accepts versions 1.0, 2.0
/// and 3.0, little- or big-endian <c>f4</c>, <c>f8</c>, <c>i4</c> and <c>i8</c> (converted to float: f8 and i8 values
/// are rounded to the nearest float) in C or Fortran order (Fortran data is reordered to C order). Object arrays
/// (pickles), structured dtypes and other types are refused with <see cref="InvalidDataException"/>.
/// </remarks>
public static partial class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
    private const int Alignment = 64;

    /// <summary>Writes <paramref name="data"/> as a float32 array of the given shape.</summary>
    /// <param name="output">Receives the file from its current position.</param>
    /// <param name="data">The values in C (row-major) order.</param>
    /// <param name="shape">The dimensions; their product must equal the number of values. No dimensions means a 1-D array of all the values.</param>
    /// <exception cref="ArgumentException">The shape does not match the data, or has a negative dimension.</exception>
    public static void Write(Stream output, ReadOnlySpan<float> data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0) shape = [data.Length];
        long count = 1;
        foreach (var dimension in shape)
        {
            if (dimension < 0) throw new ArgumentException($"Shape ({string.Join(", ", shape)}) has a negative dimension.", nameof(shape));
            count *= dimension;
        }
        if (count != data.Length)
        {
            throw new ArgumentException($"Shape ({string.Join(", ", shape)}) holds {count} values but {data.Length} were given.", nameof(shape));
        }

        var shapeText = shape.Length == 1
            ? $"({shape[0].ToString(CultureInfo.InvariantCulture)},)"
            : $"({string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))})";
        var dictionary = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shapeText}, }}";
        var major = dictionary.Length + 1 + 10 > ushort.MaxValue ? 2 : 1;
        var prefix = major == 1 ? 10 : 12;
        var total = (prefix + dictionary.Length + 1 + Alignment - 1) / Alignment * Alignment;
        var header = dictionary.PadRight(total - prefix - 1) + "\n";

        Span<byte> start = stackalloc byte[12];
        Magic.CopyTo(start);
        start[6] = (byte)major;
        start[7] = 0;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(start[8..], (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(start[8..], (uint)header.Length);
        output.Write(start[..prefix]);
        output.Write(Encoding.ASCII.GetBytes(header));

        if (BitConverter.IsLittleEndian)
        {
            output.Write(MemoryMarshal.AsBytes(data));
            return;
        }
        var buffer = new byte[4 * Math.Min(data.Length, 16384)];
        for (var offset = 0; offset < data.Length; offset += buffer.Length / 4)
        {
            var block = data.Slice(offset, Math.Min(buffer.Length / 4, data.Length - offset));
            for (var i = 0; i < block.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * i), block[i]);
            output.Write(buffer, 0, 4 * block.Length);
        }
    }

    /// <summary>Reads one array from a <c>.npy</c> stream, leaving the stream just after it.</summary>
    /// <exception cref="InvalidDataException">Not a <c>.npy</c> file, cut short, or a dtype or layout that is not supported.</exception>
    public static NpyArray Read(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Span<byte> start = stackalloc byte[8];
        ReadExactly(input, start, "the magic string");
        if (!start[..6].SequenceEqual(Magic)) throw new InvalidDataException("Not a .npy file: the magic string \\x93NUMPY is missing.");
        var major = start[6];
        int headerLength;
        if (major == 1)
        {
            Span<byte> length = stackalloc byte[2];
            ReadExactly(input, length, "the header length");
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(length);
        }
        else if (major is 2 or 3)
        {
            Span<byte> length = stackalloc byte[4];
            ReadExactly(input, length, "the header length");
            var value = BinaryPrimitives.ReadUInt32LittleEndian(length);
            if (value > 16 * 1024 * 1024) throw new InvalidDataException($"The .npy header claims {value} bytes.");
            headerLength = (int)value;
        }
        else
        {
            throw new InvalidDataException($"Unsupported .npy format version {major}.{start[7]} (1.0, 2.0 and 3.0 are read).");
        }
        var headerBytes = new byte[headerLength];
        ReadExactly(input, headerBytes, "the header");
        var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);

        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shapeMatch = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shapeMatch.Success)
        {
            throw new InvalidDataException($"Cannot read the .npy header: {header.Trim()}");
        }
        var dtype = descr.Groups[1].Value;
        var fortranOrder = fortran.Groups[1].Value == "True";
        var shape = ParseShape(shapeMatch.Groups[1].Value, header);

        var (size, bigEndian, kind) = dtype switch
        {
            "<f4" => (4, false, 'f'),
            ">f4" => (4, true, 'f'),
            "<f8" => (8, false, 'f'),
            ">f8" => (8, true, 'f'),
            "<i4" => (4, false, 'i'),
            ">i4" => (4, true, 'i'),
            "<i8" => (8, false, 'i'),
            ">i8" => (8, true, 'i'),
            _ => throw new InvalidDataException(
                $"Unsupported .npy dtype '{dtype}': float32/float64/int32/int64 ('<f4', '<f8', '<i4', '<i8') are read."),
        };

        long count = 1;
        foreach (var dimension in shape) count = checked(count * dimension);
        if (count > Array.MaxLength) throw new InvalidDataException($"The .npy array has {count} values, more than fit in one array.");
        var data = new float[count];
        if (size == 4 && kind == 'f' && bigEndian != BitConverter.IsLittleEndian)
        {
            ReadExactly(input, MemoryMarshal.AsBytes(data.AsSpan()), "the data");
        }
        else
        {
            var buffer = new byte[size * (int)Math.Min(Math.Max(count, 1), 8192)];
            for (long done = 0; done < count;)
            {
                var block = (int)Math.Min(buffer.Length / size, count - done);
                var bytes = buffer.AsSpan(0, block * size);
                ReadExactly(input, bytes, "the data");
                for (var i = 0; i < block; i++)
                {
                    var item = bytes.Slice(i * size, size);
                    data[done + i] = (size, kind, bigEndian) switch
                    {
                        (4, 'f', false) => BinaryPrimitives.ReadSingleLittleEndian(item),
                        (4, 'f', true) => BinaryPrimitives.ReadSingleBigEndian(item),
                        (8, 'f', false) => (float)BinaryPrimitives.ReadDoubleLittleEndian(item),
                        (8, 'f', true) => (float)BinaryPrimitives.ReadDoubleBigEndian(item),
                        (4, 'i', false) => BinaryPrimitives.ReadInt32LittleEndian(item),
                        (4, 'i', true) => BinaryPrimitives.ReadInt32BigEndian(item),
                        (8, 'i', false) => BinaryPrimitives.ReadInt64LittleEndian(item),
                        _ => BinaryPrimitives.ReadInt64BigEndian(item),
                    };
                }
                done += block;
            }
        }

        if (fortranOrder && shape.Length > 1) data = FortranToC(data, shape);
        return new NpyArray(data, shape);
    }

    private static int[] ParseShape(string text, string header)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var shape = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i].TrimEnd('L');
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]))
            {
                throw new InvalidDataException($"Cannot read the shape in the .npy header: {header.Trim()}");
            }
        }
        return shape;
    }

    /// <summary>Fortran-order data of <paramref name="shape"/> is C-order data of the reversed shape: transpose it.</summary>
    private static float[] FortranToC(float[] source, int[] shape)
    {
        var result = new float[source.Length];
        if (source.Length == 0) return result;
        var rank = shape.Length;
        // Stride in the Fortran layout of each C dimension: the first dimension varies fastest.
        var strides = new long[rank];
        long stride = 1;
        for (var d = 0; d < rank; d++)
        {
            strides[d] = stride;
            stride *= shape[d];
        }
        var index = new int[rank];
        long offset = 0;
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = source[offset];
            for (var d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d])
                {
                    offset += strides[d];
                    break;
                }
                offset -= strides[d] * (shape[d] - 1);
                index[d] = 0;
            }
        }
        return result;
    }

    private static void ReadExactly(Stream input, Span<byte> buffer, string what)
    {
        try
        {
            input.ReadExactly(buffer);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"The .npy file ends inside {what}.", e);
        }
    }

    [GeneratedRegex(@"['""]descr['""]\s*:\s*['""]([^'""]*)['""]")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"['""]fortran_order['""]\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"['""]shape['""]\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
