using OpenCvSharp;
using TalkingFace.Workers.Hair.Imaging;

namespace TalkingFace.Tests.Hair;

/// <summary>Decoding to 3-channel BGR: alpha composited over white, grey expanded, non-images refused; RGB round trip.</summary>
public sealed class ImageCodecTests
{
    [Fact]
    public void A_png_with_alpha_becomes_three_channels_over_white()
    {
        using var bgra = new Mat(4, 4, MatType.CV_8UC4, new OpenCvSharp.Scalar(0, 0, 255, 255)); // opaque red
        bgra.Set(0, 0, new Vec4b(0, 0, 0, 0));       // fully transparent black pixel
        bgra.Set(1, 1, new Vec4b(0, 0, 255, 128));   // half-transparent red
        Cv2.ImEncode(".png", bgra, out var png);

        using var bgr = ImageCodec.DecodeBgr(png);

        Assert.Equal(3, bgr.Channels());
        Assert.Equal(new Vec3b(255, 255, 255), bgr.At<Vec3b>(0, 0));
        Assert.Equal(new Vec3b(0, 0, 255), bgr.At<Vec3b>(2, 2));
        var half = bgr.At<Vec3b>(1, 1);
        Assert.InRange(half.Item0, 125, 129);
        Assert.Equal(255, half.Item2);
    }

    [Fact]
    public void The_shared_gorilla_png_decodes_to_three_channels()
    {
        using var raw = Cv2.ImRead(HairTestKit.Gorilla, ImreadModes.Unchanged);
        Assert.Equal(4, raw.Channels());
        using var bgr = HairTestKit.Load(HairTestKit.Gorilla);
        Assert.Equal((527, 350, 3), (bgr.Width, bgr.Height, bgr.Channels()));
    }

    [Fact]
    public void Grey_is_expanded_and_non_images_are_refused()
    {
        using var grey = new Mat(3, 5, MatType.CV_8UC1, OpenCvSharp.Scalar.All(77));
        Cv2.ImEncode(".png", grey, out var png);
        using var bgr = ImageCodec.DecodeBgr(png);
        Assert.Equal(new Vec3b(77, 77, 77), bgr.At<Vec3b>(2, 4));
        Assert.Throws<InvalidDataException>(() => ImageCodec.DecodeBgr("RIFF....WAVEfmt "u8.ToArray()));
    }

    [Fact]
    public void Rgb_round_trip_keeps_every_byte()
    {
        using var bgr = new Mat(7, 9, MatType.CV_8UC3);
        Cv2.Randu(bgr, OpenCvSharp.Scalar.All(0), OpenCvSharp.Scalar.All(256));
        var rgb = ImageCodec.ToRgb(bgr);
        Assert.Equal(bgr.At<Vec3b>(3, 4).Item2, rgb.Pixels[(3 * 9 + 4) * 3]); // R first
        using var back = ImageCodec.FromRgb(rgb);
        using var diff = new Mat();
        Cv2.Absdiff(bgr, back, diff);
        Assert.Equal(0, Cv2.CountNonZero(diff.Reshape(1)));
    }
}
