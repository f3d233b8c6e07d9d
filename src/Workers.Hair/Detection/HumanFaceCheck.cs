using OpenCvSharp;
using TalkingFace.Workers.Hair.Alignment;

namespace TalkingFace.Workers.Hair.Detection;

/// <summary>
/// The second signal beside the detector's confidence. The YOLOv8-face model scores a gorilla's face 0.707, about
/// as high as the real faces in the two-face photo (0.70-0.75), so no threshold separates them. Each candidate is
/// FFHQ-aligned from its own keypoints, which puts the nose and cheeks at a known place, and that patch is measured
/// in CIE Lab: human skin of every tone has a warm hue (a* &gt; 0 and b* &gt; 0: red-yellow), while the gorilla's
/// grey-blue skin does not (measured on the aligned crops: the three human faces have median a* 7-11, hue 27-36°;
/// the gorilla a* 2, hue -80°). When the photo has no colour at all (greyscale), hue says nothing, so OpenCV's
/// frontal-face cascade is run on the aligned crop instead.
/// Limits, said plainly: this is a heuristic calibrated on the shared test photos; strongly blue or green lighting
/// can make a human face fail it, and the cascade fallback misses tilted faces.
/// </summary>
public sealed class HumanFaceCheck(HaarCascades cascades)
{
    public const int CropSize = 192;
    private const double MinRedness = 4;      // median a*
    private const double MinHue = -5, MaxHue = 85; // median hue angle of (a*, b*), degrees
    private const double GreyChroma = 2.5;    // median chroma of the whole crop below this: a greyscale photo

    public string Name => "skin-hue check on the aligned face (CIE Lab; frontal-face cascade for greyscale photos)";

    public bool IsHumanFace(Mat bgr, DetectedFace candidate) => Measure(bgr, candidate).Human;

    /// <summary>The measurements behind the verdict (for tests and logs).</summary>
    public (bool Human, double Redness, double Hue, double Chroma, bool Greyscale) Measure(Mat bgr, DetectedFace candidate)
    {
        using var aligned = FfhqAlignment.Align(bgr, candidate.Keypoints, CropSize);
        using var lab = new Mat();
        Cv2.CvtColor(aligned.Image, lab, ColorConversionCodes.BGR2Lab);
        var (_, _, wholeChroma) = MedianAb(lab, new Rect(0, 0, CropSize, CropSize));
        // nose, cheeks and upper lip in the FFHQ layout: x 35-65 %, y 50-72 %
        var patch = new Rect((int)(CropSize * 0.35), (int)(CropSize * 0.50), (int)(CropSize * 0.30), (int)(CropSize * 0.22));
        var (a, b, chroma) = MedianAb(lab, patch);
        var hue = Math.Atan2(b, a) * 180 / Math.PI;
        if (wholeChroma < GreyChroma) return (CascadeFindsFace(aligned.Image), a, hue, chroma, true);
        return (a >= MinRedness && hue >= MinHue && hue <= MaxHue, a, hue, chroma, false);
    }

    private static (double A, double B, double Chroma) MedianAb(Mat lab, Rect rect)
    {
        using var roi = new Mat(lab, rect);
        using var copy = roi.Clone();
        var bytes = new byte[rect.Width * rect.Height * 3];
        System.Runtime.InteropServices.Marshal.Copy(copy.Data, bytes, 0, bytes.Length);
        var n = rect.Width * rect.Height;
        var a = new double[n];
        var b = new double[n];
        var c = new double[n];
        for (var i = 0; i < n; i++)
        {
            a[i] = bytes[i * 3 + 1] - 128.0;
            b[i] = bytes[i * 3 + 2] - 128.0;
            c[i] = Math.Sqrt(a[i] * a[i] + b[i] * b[i]);
        }
        Array.Sort(a);
        Array.Sort(b);
        Array.Sort(c);
        return (a[n / 2], b[n / 2], c[n / 2]);
    }

    private bool CascadeFindsFace(Mat aligned)
    {
        using var grey = new Mat();
        Cv2.CvtColor(aligned, grey, ColorConversionCodes.BGR2GRAY);
        Cv2.EqualizeHist(grey, grey);
        var min = (int)(CropSize * 0.28);
        var max = (int)(CropSize * 0.80);
        var faces = cascades.Use(HaarCascades.FrontalFace, c => c.DetectMultiScale(grey, 1.05, 3, HaarDetectionTypes.ScaleImage, new Size(min, min), new Size(max, max)));
        return faces.Any(f => Math.Abs((f.X + f.Width / 2.0) / CropSize - 0.5) < 0.12 && Math.Abs((f.Y + f.Height / 2.0) / CropSize - 0.52) < 0.14);
    }
}
