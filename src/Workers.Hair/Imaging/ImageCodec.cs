using OpenCvSharp;

namespace TalkingFace.Workers.Hair.Imaging;

/// <summary>
/// Decoding, encoding and conversion of images with OpenCV. Every image inside the hair stage is
/// 8-bit, 3-channel BGR (OpenCV's order); <see cref="RgbImage"/> is what crosses into the transfer.
/// </summary>
public static class ImageCodec
{
    /// <summary>
    /// Decodes JPEG/PNG/WebP/BMP bytes to 8-bit BGR, upright by its EXIF orientation (<see cref="ExifOrientation"/>).
    /// Grey becomes 3 channels; a PNG with alpha is composited over white (what a page shows), so transparent pixels
    /// do not leak whatever colour they happen to hold.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not an image OpenCV can read.</exception>
    public static Mat DecodeBgr(byte[] bytes)
    {
        var stored = DecodeStoredBgr(bytes);
        var orientation = ExifOrientation.Read(bytes);
        if (orientation == 1) return stored;
        using (stored) return ExifOrientation.Upright(stored, orientation);
    }

    /// <summary>The pixels in the order the file stores them.</summary>
    private static Mat DecodeStoredBgr(byte[] bytes)
    {
        using var raw = Cv2.ImDecode(bytes, ImreadModes.Unchanged);
        if (raw.Empty()) throw new InvalidDataException("the file is not an image that can be decoded (JPEG, PNG, WebP or BMP)");
        using var depth8 = raw.Depth() == MatType.CV_8U ? raw.Clone() : ToEightBit(raw);
        switch (depth8.Channels())
        {
            case 3:
                return depth8.Clone();
            case 1:
            {
                var bgr = new Mat();
                Cv2.CvtColor(depth8, bgr, ColorConversionCodes.GRAY2BGR);
                return bgr;
            }
            case 4:
                return CompositeOverWhite(depth8);
            default:
                throw new InvalidDataException($"images with {depth8.Channels()} channels are not supported");
        }
    }

    private static Mat ToEightBit(Mat raw)
    {
        var scaled = new Mat();
        var scale = raw.Depth() == MatType.CV_16U ? 1.0 / 257 : raw.Depth() is var d && (d == MatType.CV_32F || d == MatType.CV_64F) ? 255.0 : 1.0;
        raw.ConvertTo(scaled, MatType.MakeType(MatType.CV_8U, raw.Channels()), scale);
        return scaled;
    }

    private static Mat CompositeOverWhite(Mat bgra)
    {
        var channels = Cv2.Split(bgra);
        try
        {
            using var alpha = new Mat();
            channels[3].ConvertTo(alpha, MatType.CV_32F, 1.0 / 255);
            using var inverse = new Mat();
            Cv2.Subtract(Scalar.All(1.0), alpha, inverse);
            using var white = new Mat();
            Cv2.Multiply(inverse, Scalar.All(255.0), white);
            var outChannels = new Mat[3];
            for (var c = 0; c < 3; c++)
            {
                using var f = new Mat();
                channels[c].ConvertTo(f, MatType.CV_32F);
                using var over = new Mat();
                Cv2.Multiply(f, alpha, over);
                using var blended = new Mat();
                Cv2.Add(over, white, blended);
                outChannels[c] = new Mat();
                blended.ConvertTo(outChannels[c], MatType.CV_8U);
            }
            var bgr = new Mat();
            Cv2.Merge(outChannels, bgr);
            foreach (var m in outChannels) m.Dispose();
            return bgr;
        }
        finally
        {
            foreach (var c in channels) c.Dispose();
        }
    }

    public static byte[] EncodePng(Mat bgr)
    {
        Cv2.ImEncode(".png", bgr, out var bytes);
        return bytes;
    }

    /// <summary>BGR Mat to the transfer's RGB image.</summary>
    public static RgbImage ToRgb(Mat bgr)
    {
        using var rgb = new Mat();
        Cv2.CvtColor(bgr, rgb, ColorConversionCodes.BGR2RGB);
        using var continuous = rgb.Clone(); // a clone is continuous
        var pixels = new byte[rgb.Width * rgb.Height * 3];
        System.Runtime.InteropServices.Marshal.Copy(continuous.Data, pixels, 0, pixels.Length);
        return new RgbImage(rgb.Width, rgb.Height, pixels);
    }

    /// <summary>The transfer's RGB image to a BGR Mat.</summary>
    public static Mat FromRgb(RgbImage image)
    {
        using var rgb = Mat.FromPixelData(image.Height, image.Width, MatType.CV_8UC3, image.Pixels);
        var bgr = new Mat();
        Cv2.CvtColor(rgb, bgr, ColorConversionCodes.RGB2BGR);
        return bgr;
    }

    /// <summary>Resizes a square image to <paramref name="side"/> with area averaging when shrinking and Lanczos when growing.</summary>
    public static Mat ResizeSquare(Mat bgr, int side)
    {
        var resized = new Mat();
        if (bgr.Width == side && bgr.Height == side) return bgr.Clone();
        var shrinking = bgr.Width > side || bgr.Height > side;
        Cv2.Resize(bgr, resized, new Size(side, side), 0, 0, shrinking ? InterpolationFlags.Area : InterpolationFlags.Lanczos4);
        return resized;
    }
}
