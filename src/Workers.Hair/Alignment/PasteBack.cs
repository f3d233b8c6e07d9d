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

    /// <summary>The photo with <paramref name="result"/> (aligned space) blended in through <paramref name="mask"/>.</summary>
    public static Mat Paste(Mat photo, Mat result, Mat mask, double[] alignedFromPhoto)
    {
        using var affine = Mat.FromPixelData(2, 3, MatType.CV_64FC1, alignedFromPhoto);
        var size = new Size(photo.Width, photo.Height);
        using var backResult = new Mat();
        using var backMask = new Mat();
        // WarpInverseMap: the matrix maps destination (photo) pixels to source (aligned) pixels, which is ours.
        Cv2.WarpAffine(result, backResult, affine, size, InterpolationFlags.Lanczos4 | InterpolationFlags.WarpInverseMap, BorderTypes.Replicate);
        Cv2.WarpAffine(mask, backMask, affine, size, InterpolationFlags.Linear | InterpolationFlags.WarpInverseMap, BorderTypes.Constant, Scalar.All(0));
        using var alpha = new Mat();
        Cv2.Merge([backMask, backMask, backMask], alpha);
        using var photoF = new Mat();
        using var resultF = new Mat();
        photo.ConvertTo(photoF, MatType.CV_32FC3);
        backResult.ConvertTo(resultF, MatType.CV_32FC3);
        using var inverse = new Mat();
        Cv2.Subtract(Scalar.All(1.0), alpha, inverse);
        using var a = new Mat();
        using var b = new Mat();
        Cv2.Multiply(resultF, alpha, a);
        Cv2.Multiply(photoF, inverse, b);
        using var blended = new Mat();
        Cv2.Add(a, b, blended);
        var pasted = new Mat();
        blended.ConvertTo(pasted, MatType.CV_8UC3);
        return pasted;
    }
}
