using OpenCvSharp;
using TalkingFace.Workers.Hair.Detection;

namespace TalkingFace.Workers.Hair.Alignment;

/// <summary>
/// An FFHQ-aligned square crop and the transform that made it: <see cref="Matrix"/> maps original-photo pixels to
/// aligned pixels (2x3, row-major), so the result can be pasted back with its inverse.
/// </summary>
public sealed class AlignedFace(Mat image, double[] matrix, int originalWidth, int originalHeight, FacePoint[] quad) : IDisposable
{
    public Mat Image { get; } = image;
    public double[] Matrix { get; } = matrix;
    public int OriginalWidth { get; } = originalWidth;
    public int OriginalHeight { get; } = originalHeight;
    /// <summary>The FFHQ quad in the original photo: top-left, bottom-left, bottom-right, top-right.</summary>
    public FacePoint[] Quad { get; } = quad;
    public int Size => Image.Width;

    public FacePoint ToAligned(FacePoint p) =>
        new((float)(Matrix[0] * p.X + Matrix[1] * p.Y + Matrix[2]), (float)(Matrix[3] * p.X + Matrix[4] * p.Y + Matrix[5]));

    public void Dispose() => Image.Dispose();
}

/// <summary>
/// FFHQ alignment from five points, after the FFHQ dataset's recipe (ffhq-dataset's <c>recreate_aligned_images</c>):
/// eye-to-eye and eye-to-mouth vectors give an oriented square quad whose centre is the eye mean plus 0.1 x
/// eye-to-mouth and whose side is 2|x|, with |x| = max(2 |eye-to-eye|, 1.8 |eye-to-mouth|). The quad is mapped onto
/// the output square with reflect padding outside the photo. Resampling: when the quad is more than twice the output
/// side the photo is first shrunk by an integer factor with area averaging (FFHQ's "shrink" step), then warped with
/// Lanczos-4.
/// </summary>
public static class FfhqAlignment
{
    /// <summary>The quad: top-left, bottom-left, bottom-right, top-right corners in photo pixels.</summary>
    public static FacePoint[] Quad(IReadOnlyList<FacePoint> keypoints)
    {
        var eyeLeft = keypoints[DetectedFace.LeftEye];
        var eyeRight = keypoints[DetectedFace.RightEye];
        var mouthLeft = keypoints[DetectedFace.LeftMouth];
        var mouthRight = keypoints[DetectedFace.RightMouth];
        double eyeAvgX = (eyeLeft.X + eyeRight.X) / 2.0, eyeAvgY = (eyeLeft.Y + eyeRight.Y) / 2.0;
        double eyeToEyeX = eyeRight.X - eyeLeft.X, eyeToEyeY = eyeRight.Y - eyeLeft.Y;
        double mouthAvgX = (mouthLeft.X + mouthRight.X) / 2.0, mouthAvgY = (mouthLeft.Y + mouthRight.Y) / 2.0;
        double eyeToMouthX = mouthAvgX - eyeAvgX, eyeToMouthY = mouthAvgY - eyeAvgY;

        // x = eye_to_eye - flipud(eye_to_mouth) * [-1, 1]
        var xX = eyeToEyeX + eyeToMouthY;
        var xY = eyeToEyeY - eyeToMouthX;
        var norm = Math.Sqrt(xX * xX + xY * xY);
        if (norm < 1e-6) throw new ArgumentException("the keypoints are degenerate (eyes and mouth coincide)");
        var length = Math.Max(Hypot(eyeToEyeX, eyeToEyeY) * 2.0, Hypot(eyeToMouthX, eyeToMouthY) * 1.8);
        xX = xX / norm * length;
        xY = xY / norm * length;
        // y = flipud(x) * [-1, 1]
        var yX = -xY;
        var yY = xX;
        var cX = eyeAvgX + eyeToMouthX * 0.1;
        var cY = eyeAvgY + eyeToMouthY * 0.1;
        return
        [
            new((float)(cX - xX - yX), (float)(cY - xY - yY)),
            new((float)(cX - xX + yX), (float)(cY - xY + yY)),
            new((float)(cX + xX + yX), (float)(cY + xY + yY)),
            new((float)(cX + xX - yX), (float)(cY + xY - yY)),
        ];
    }

    /// <summary>Aligns <paramref name="bgr"/> to a <paramref name="size"/> x <paramref name="size"/> FFHQ crop.</summary>
    public static AlignedFace Align(Mat bgr, IReadOnlyList<FacePoint> keypoints, int size)
    {
        var quad = Quad(keypoints);
        var matrix = QuadToSquare(quad, size);
        var quadSide = Hypot(quad[3].X - quad[0].X, quad[3].Y - quad[0].Y);
        var shrink = (int)Math.Floor(quadSide / size * 0.5);
        var source = bgr;
        Mat? shrunk = null;
        var m = matrix;
        if (shrink > 1)
        {
            shrunk = new Mat();
            Cv2.Resize(bgr, shrunk, new Size((int)Math.Round((double)bgr.Width / shrink), (int)Math.Round((double)bgr.Height / shrink)), 0, 0, InterpolationFlags.Area);
            var sx = (double)bgr.Width / shrunk.Width;
            var sy = (double)bgr.Height / shrunk.Height;
            m = [matrix[0] * sx, matrix[1] * sy, matrix[2], matrix[3] * sx, matrix[4] * sy, matrix[5]]; // shrunk pixels -> aligned
            source = shrunk;
        }
        try
        {
            using var affine = Mat.FromPixelData(2, 3, MatType.CV_64FC1, m);
            var aligned = new Mat();
            Cv2.WarpAffine(source, aligned, affine, new Size(size, size), InterpolationFlags.Lanczos4, BorderTypes.Reflect101);
            return new AlignedFace(aligned, matrix, bgr.Width, bgr.Height, quad);
        }
        finally
        {
            shrunk?.Dispose();
        }
    }

    /// <summary>The affine map that sends the quad's top-left, bottom-left and top-right corners to (0,0), (0,size), (size,0).</summary>
    public static double[] QuadToSquare(FacePoint[] quad, int size)
    {
        var src = new[] { new Point2f(quad[0].X, quad[0].Y), new Point2f(quad[1].X, quad[1].Y), new Point2f(quad[3].X, quad[3].Y) };
        var dst = new[] { new Point2f(0, 0), new Point2f(0, size), new Point2f(size, 0) };
        using var affine = Cv2.GetAffineTransform(src, dst);
        var values = new double[6];
        for (var r = 0; r < 2; r++)
            for (var c = 0; c < 3; c++)
                values[r * 3 + c] = affine.At<double>(r, c);
        return values;
    }

    private static double Hypot(double x, double y) => Math.Sqrt(x * x + y * y);
}
