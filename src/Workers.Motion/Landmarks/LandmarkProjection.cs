namespace TalkingFace.Workers.Motion.Landmarks;

/// <summary>
/// Orthographic projection of 3D landmarks into a square image: <c>u = size/2 + sx·s·(x − cx)</c>,
/// <c>v = size/2 + sy·s·(y − cy)</c>, depth dropped. Fitted once per model from its mean shape (never per frame, so
/// the motion is not normalised away): the mean face's x/y box is centred and its larger side fills
/// <see cref="DefaultFill"/> of the image; the axis signs put the chin below the eyes and landmark 0 (the jaw's start)
/// on the image's left, as in iBUG-68 annotations, whether the model's y axis points up (3DMM) or down (image).
/// </summary>
public sealed record LandmarkProjection(double CenterX, double CenterY, double Scale, double SignX, double SignY, int Size)
{
    /// <summary>Image space the stored 2D landmarks live in.</summary>
    public const int DefaultSize = 512;

    /// <summary>Part of the image the mean face's larger side fills, leaving room for the motion.</summary>
    public const double DefaultFill = 0.62;

    public static LandmarkProjection Fit(ReadOnlySpan<float> mean, int size = DefaultSize, double fill = DefaultFill)
    {
        if (mean.Length != LandmarkModel.Points * 3) throw new ArgumentException("the mean shape must be 68 x 3", nameof(mean));
        double minX = double.MaxValue, maxX = double.MinValue, minY = double.MaxValue, maxY = double.MinValue;
        for (var i = 0; i < LandmarkModel.Points; i++)
        {
            minX = Math.Min(minX, mean[3 * i]);
            maxX = Math.Max(maxX, mean[3 * i]);
            minY = Math.Min(minY, mean[3 * i + 1]);
            maxY = Math.Max(maxY, mean[3 * i + 1]);
        }
        var extent = Math.Max(maxX - minX, maxY - minY);
        var scale = extent > 0 && double.IsFinite(extent) ? size * fill / extent : 1;

        double eyesY = 0;
        for (var i = 36; i < 48; i++) eyesY += mean[3 * i + 1];
        eyesY /= 12;
        var chinY = mean[3 * 8 + 1];
        var signY = chinY < eyesY ? -1 : 1; // y up: flip so the chin is lower in the image
        var signX = mean[0] > mean[3 * 16] ? -1 : 1;
        return new LandmarkProjection((minX + maxX) / 2, (minY + maxY) / 2, scale, signX, signY, size);
    }

    /// <summary>[frames, 68, 2] pixel coordinates from [frames, 68, 3] landmarks.</summary>
    public float[] Project(ReadOnlySpan<float> landmarks3d)
    {
        if (landmarks3d.Length % 3 != 0) throw new ArgumentException("landmarks must be (x, y, z) triples", nameof(landmarks3d));
        var points = landmarks3d.Length / 3;
        var result = new float[points * 2];
        var half = Size / 2.0;
        for (var p = 0; p < points; p++)
        {
            result[2 * p] = (float)(half + SignX * Scale * (landmarks3d[3 * p] - CenterX));
            result[2 * p + 1] = (float)(half + SignY * Scale * (landmarks3d[3 * p + 1] - CenterY));
        }
        return result;
    }
}
