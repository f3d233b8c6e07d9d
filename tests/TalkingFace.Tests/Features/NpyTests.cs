using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TalkingFace.Media;
using TalkingFace.Tests.Audio;

namespace TalkingFace.Tests.Features;

/// <summary>Npy against NumPy itself (Debian's /usr/bin/python3): files NumPy wrote, and NumPy reading ours.</summary>
public class NpyTests
{
    private const string Python = "/usr/bin/python3";
    private const string NumpyHint = "install Debian's numpy for /usr/bin/python3: apt-get install python3-numpy";

    /// <summary>Writes the fixtures read below; the folder is cached by this text's hash.</summary>
    private const string NumpyWriter = """
        import sys
        import numpy as np
        d = sys.argv[1]
        np.save(d + "/f4.npy", (np.arange(24, dtype="<f4").reshape(2, 3, 4) / 8 - 1).astype("<f4"))
        np.save(d + "/f8.npy", np.arange(12, dtype="<f8").reshape(3, 4) * 0.1)
        np.save(d + "/i8.npy", np.arange(-3, 4, dtype="<i8"))
        np.save(d + "/i4.npy", np.arange(6, dtype="<i4").reshape(2, 3) * 1000)
        np.save(d + "/fortran.npy", np.asfortranarray(np.arange(24, dtype="<f4").reshape(2, 3, 4)))
        np.save(d + "/bigendian.npy", np.arange(6, dtype=">f8").reshape(3, 2))
        np.save(d + "/scalar.npy", np.float32(2.5))
        np.save(d + "/empty.npy", np.zeros((0, 80), dtype="<f4"))
        np.save(d + "/complex.npy", np.zeros(3, dtype="<c8"))
        with open(d + "/v2.npy", "wb") as f:
            np.lib.format.write_array(f, np.arange(10, dtype="<f4"), version=(2, 0))
        """;

    private static string NumpyFixtures()
    {
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(NumpyWriter)))[..12];
        var folder = Path.Combine(Path.GetTempPath(), "talkingface-tests", $"npy-fixtures-{key}");
        if (Directory.Exists(folder)) return folder;
        var partial = folder + $".{Guid.NewGuid():N}.tmp";
        Directory.CreateDirectory(partial);
        RunPython(NumpyWriter, partial);
        try
        {
            Directory.Move(partial, folder);
        }
        catch (IOException) when (Directory.Exists(folder))
        {
            Directory.Delete(partial, recursive: true);   // another test process got there first
        }
        return folder;
    }

    private static string RunPython(string code, params string[] arguments)
    {
        var result = ExternalTool.TryRun(Python, ["-c", code, .. arguments]);
        if (result is null) Assert.Fail($"{Python} is missing; {NumpyHint}");
        var (exitCode, stdout, errors) = result.Value;
        if (exitCode != 0) Assert.Fail($"{Python} failed ({exitCode}): {errors}; {NumpyHint}");
        return stdout;
    }

    private static NpyArray ReadFixture(string name)
    {
        using var file = File.OpenRead(Path.Combine(NumpyFixtures(), name));
        var array = Npy.Read(file);
        Assert.Equal(file.Length, file.Position);
        return array;
    }

    [Fact]
    public void Reads_what_numpy_wrote()
    {
        var f4 = ReadFixture("f4.npy");
        Assert.Equal([2, 3, 4], f4.Shape);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => i / 8f - 1), f4.Data);

        var f8 = ReadFixture("f8.npy");
        Assert.Equal([3, 4], f8.Shape);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (float)(i * 0.1)), f8.Data);

        var i8 = ReadFixture("i8.npy");
        Assert.Equal([7], i8.Shape);
        Assert.Equal([-3f, -2, -1, 0, 1, 2, 3], i8.Data);

        var i4 = ReadFixture("i4.npy");
        Assert.Equal([2, 3], i4.Shape);
        Assert.Equal([0f, 1000, 2000, 3000, 4000, 5000], i4.Data);

        var v2 = ReadFixture("v2.npy");
        Assert.Equal([10], v2.Shape);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (float)i), v2.Data);
    }

    [Fact]
    public void Reads_fortran_order_big_endian_scalars_and_empty_arrays()
    {
        var fortran = ReadFixture("fortran.npy");
        Assert.Equal([2, 3, 4], fortran.Shape);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (float)i), fortran.Data);

        var bigEndian = ReadFixture("bigendian.npy");
        Assert.Equal([3, 2], bigEndian.Shape);
        Assert.Equal([0f, 1, 2, 3, 4, 5], bigEndian.Data);

        var scalar = ReadFixture("scalar.npy");
        Assert.Empty(scalar.Shape);
        Assert.Equal([2.5f], scalar.Data);

        var empty = ReadFixture("empty.npy");
        Assert.Equal([0, 80], empty.Shape);
        Assert.Empty(empty.Data);
    }

    [Fact]
    public void Refuses_other_dtypes_and_non_npy_input()
    {
        var complex = Assert.Throws<InvalidDataException>(() => ReadFixture("complex.npy"));
        Assert.Contains("<c8", complex.Message);
        Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream("RIFF....WAVEfmt "u8.ToArray())));

        var bytes = Write([1f, 2, 3, 4], 2, 2);
        Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes[..^3])));
    }

    [Theory]
    [InlineData(new[] { 1184, 80 })]
    [InlineData(new[] { 5 })]
    [InlineData(new[] { 2, 3, 4 })]
    [InlineData(new[] { 0, 80 })]
    public void Round_trips_and_numpy_reads_it(int[] shape)
    {
        var count = shape.Aggregate(1, (a, b) => a * b);
        var data = Enumerable.Range(0, count).Select(i => MathF.Sin(i) * 100).ToArray();
        var bytes = Write(data, shape);

        Assert.Equal(0, (bytes.Length - 4 * count) % 64);   // header padded to 64 bytes, as NumPy does
        Assert.Equal(1, bytes[6]);   // version 1.0
        var back = Npy.Read(new MemoryStream(bytes));
        Assert.Equal(shape, back.Shape);
        Assert.Equal(data, back.Data);

        var path = Path.Combine(Path.GetTempPath(), $"talkingface-npy-{Guid.NewGuid():N}.npy");
        try
        {
            File.WriteAllBytes(path, bytes);
            var printed = RunPython(
                "import sys, numpy as np; a = np.load(sys.argv[1]); print(a.dtype.str, list(a.shape), repr(float(a.astype('<f8').sum())), a.flags['C_CONTIGUOUS'])",
                path).Trim();
            var sum = data.Sum(v => (double)v);
            var parts = printed.Split(' ', 2);
            Assert.Equal("<f4", parts[0]);
            Assert.StartsWith($"[{string.Join(", ", shape)}] ", parts[1]);
            Assert.EndsWith(" True", printed);
            var numpySum = double.Parse(printed.Split(' ')[^2], CultureInfo.InvariantCulture);
            Assert.Equal(sum, numpySum, 6);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Without_a_shape_the_array_is_one_dimensional()
    {
        var back = Npy.Read(new MemoryStream(Write([1f, 2, 3])));

        Assert.Equal([3], back.Shape);
        Assert.Equal([1f, 2, 3], back.Data);
    }

    [Fact]
    public void A_shape_that_does_not_fit_the_data_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Write([1f, 2, 3], 2, 2));
        Assert.Throws<ArgumentException>(() => Write([1f, 2, 3], -3));
    }

    private static byte[] Write(float[] data, params int[] shape)
    {
        var stream = new MemoryStream();
        Npy.Write(stream, data, shape);
        return stream.ToArray();
    }
}
