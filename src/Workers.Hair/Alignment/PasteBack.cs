using OpenCvSharp;

namespace TalkingFace.Workers.Hair.Alignment;

/// <summary>
/// Puts an aligned result back into the original photo: a mask in aligned space (the transfer's hair mask, grown a
/// little, united with an ellipse over the FFHQ face region), faded to zero at the crop's border and feathered with a
/// Gaussian, is warped back with the alignment's inverse together with the result and blended over the photo.
/// Outside the mask the photo keeps its own pixels.
/// </summary>
public static class PasteBack
{
    /// <summary>The paste mask in aligned space, 0..1 (CV_32F, size x size).</summary>
    public static Mat Mask(float[]? hairMask, int size)
    {
        var mask = new Mat(size, size, MatType.CV_32FC1, Scalar.All(0));
        if (hairMask is not null)
        {
            if (hairMask.Length != size * size) throw new ArgumentException($"hair mask has {hairMask.Length} values, expected {size * size}", nameof(hairMask));
            using var hair = Mat.FromPixelData(size, size, MatType.CV_32FC1, hairMask);
            using var grown = new Mat();
            var k = Math.Max(3, size / 32) | 1;
            using var kernel = Cv2.GetStructuringElement(MorphShapes.Ellipse, new Size(k, k));
            Cv2.Dilate(hair, grown, kernel);
            Cv2.Min(grown, 1.0, grown);
            Cv2.Max(grown, 0.0, grown);
            grown.CopyTo(mask);
        }
        // FFHQ puts the eyes at y ~ 0.4 size and the mouth near 0.6-0.7: the face region is an ellipse around them.
        Cv2.Ellipse(mask, new Point(size / 2, (int)(size * 0.55)), new Size((int)(size * 0.30), (int)(size * 0.38)), 0, 0, 360, Scalar.All(1.0), -1);
        var margin = Math.Max(2, size / 32);
        Cv2.Rectangle(mask, new Rect(0, 0, size, size), Scalar.All(0), margin);
        var sigma = Math.Max(1.0, size / 48.0);
        Cv2.GaussianBlur(mask, mask, new Size(0, 0), sigma);
        return mask;
    }

    /// <summary>
    /// The photo with <paramref name="result"/> (aligned space) blended in through <paramref name="mask"/>. Only the
    /// photo's region under the aligned square is warped and blended; the rest is copied.
    /// </summary>
    public static Mat Paste(Mat photo, Mat result, Mat mask, double[] alignedFromPhoto)
    {
        var pasted = photo.Clone();
        var region = Region(alignedFromPhoto, result.Width, photo.Width, photo.Height);
        if (region.Width <= 0 || region.Height <= 0) return pasted;
        // photo pixel (x0 + u, y0 + v) -> aligned: the same linear part, the offset moved by the region's origin
        double[] m = alignedFromPhoto;
        double[] local = [m[0], m[1], m[2] + m[0] * region.X + m[1] * region.Y, m[3], m[4], m[5] + m[3] * region.X + m[4] * region.Y];
        using var affine = Mat.FromPixelData(2, 3, MatType.CV_64FC1, local);
        var size = new Size(region.Width, region.Height);
        using var backResult = new Mat();
        using var backMask = new Mat();
        // WarpInverseMap: the matrix maps destination (photo) pixels to source (aligned) pixels, which is ours.
        // Bicubic: the aligned result is usually enlarged here, where Lanczos-4's 64 taps cost 4x for no visible gain.
        Cv2.WarpAffine(result, backResult, affine, size, InterpolationFlags.Cubic | InterpolationFlags.WarpInverseMap, BorderTypes.Replicate);
        Cv2.WarpAffine(mask, backMask, affine, size, InterpolationFlags.Linear | InterpolationFlags.WarpInverseMap, BorderTypes.Constant, Scalar.All(0));
        using var inverse = new Mat();
        Cv2.Subtract(Scalar.All(1.0), backMask, inverse);
        using var photoRegion = new Mat(photo, region);
        using var target = new Mat(pasted, region);
        Cv2.BlendLinear(backResult, photoRegion, backMask, inverse, target); // result * mask + photo * (1 - mask), per pixel
        return pasted;
    }

    /// <summary>The photo's pixels the aligned square covers (its four corners mapped back), clamped to the photo.</summary>
    internal static Rect Region(double[] m, int side, int width, int height)
    {
        var det = m[0] * m[4] - m[1] * m[3];
        double minX = double.MaxValue, minY = double.MaxValue, maxX = double.MinValue, maxY = double.MinValue;
        foreach (var (ax, ay) in new[] { (0.0, 0.0), (side, 0.0), (0.0, side), ((double)side, (double)side) })
        {
            var dx = ax - m[2];
            var dy = ay - m[5];
            var x = (m[4] * dx - m[1] * dy) / det;
            var y = (-m[3] * dx + m[0] * dy) / det;
            minX = Math.Min(minX, x); maxX = Math.Max(maxX, x);
            minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
        }
        var x0 = Math.Clamp((int)Math.Floor(minX) - 2, 0, width);
        var y0 = Math.Clamp((int)Math.Floor(minY) - 2, 0, height);
        var x1 = Math.Clamp((int)Math.Ceiling(maxX) + 2, 0, width);
        var y1 = Math.Clamp((int)Math.Ceiling(maxY) + 2, 0, height);
        return new Rect(x0, y0, x1 - x0, y1 - y0);
    }
}
