using TalkingFace.Gateway.Jobs;
using TalkingFace.Media;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Api;

/// <summary>Submit-time decoding: images whose container passes <see cref="ImageProbe"/> but whose pixels do not decode are refused.</summary>
public sealed class ImageDecodeProbeTests
{
    private static byte[] Face => File.ReadAllBytes(TestPaths.TestData("faces", "one-face-a.jpg"));
    private static byte[] Png => File.ReadAllBytes(TestPaths.TestData("faces", "no-human-face-rgba.png"));

    public static TheoryData<string> Whole => ["faces/one-face-a.jpg", "faces/no-human-face-rgba.png"];

    [Theory]
    [MemberData(nameof(Whole))]
    public void A_whole_image_decodes(string relative)
    {
        var bytes = File.ReadAllBytes(TestPaths.TestData(relative.Split('/')));
        Assert.Null(Probe(bytes, "whole"));
    }

    [Fact]
    public void A_png_with_valid_crcs_but_garbage_pixel_data_passes_the_container_check_and_fails_to_decode()
    {
        var problem = Probe(CorruptImages.PngWithGarbagePixels(Png), "garbage.png");
        Assert.NotNull(problem);
        Assert.Contains("garbage.png", problem);
        Assert.Contains("does not decode", problem);
    }

    [Fact]
    public void A_jpeg_without_quantization_tables_passes_the_container_check_and_fails_to_decode()
    {
        var problem = Probe(CorruptImages.JpegWithoutQuantizationTables(Face), "no-dqt.jpg");
        Assert.NotNull(problem);
        Assert.Contains("does not decode", problem);
    }

    /// <summary>The container check must pass (else the decoder would never be asked); then the decoder's verdict.</summary>
    private static string? Probe(byte[] bytes, string name)
    {
        var kind = ContentSniffer.Sniff(bytes.AsSpan(0, Math.Min(bytes.Length, ContentSniffer.HeadLength)));
        using (var stream = new MemoryStream(bytes))
            Assert.Null(ImageProbe.Check(stream, kind, name));
        var path = Path.Combine(Path.GetTempPath(), "decode-probe-" + Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(path, bytes);
        try
        {
            return ImageDecodeProbe.Check(path, kind, name);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
