using OpenCvSharp;

namespace TalkingFace.Workers.Hair.Detection;

/// <summary>
/// The embedded default detector: OpenCV's frontal-face Haar cascade (<c>haarcascade_frontalface_alt2</c>) from
/// Debian's opencv-data. It finds upright frontal faces only and misses many (see the README); the YOLOv8-face
/// model in the model store is the detector to trust.
/// Five points: the eye centres come from OpenCV's eye cascade (<c>haarcascade_eye</c>) searched in the upper half
/// of the face box when it finds one eye on each side; otherwise, and for the mouth corners always, they come from
/// the box geometry (average proportions of a frontal face in an alt2 box). The nose is the box geometry too.
/// The score is the cascade's last-stage weight through a logistic: a rough confidence, not comparable with YOLO's.
/// </summary>
public sealed class HaarFaceDetector(HaarCascades cascades, int maxSide = 800) : IFaceDetector
{
    private const double ScaleFactor = 1.1;
    private const int MinNeighbours = 4;

    // Face-box proportions of the five points (x, y), measured from alt2 boxes of frontal faces.
    private static readonly (float X, float Y)[] Geometry = [(0.32f, 0.40f), (0.68f, 0.40f), (0.50f, 0.60f), (0.36f, 0.78f), (0.64f, 0.78f)];

    public string Name => "haar-cascade (opencv-data frontalface_alt2 + eye)";

    public IReadOnlyList<DetectedFace> Detect(Mat bgr)
    {
        using var grey = new Mat();
        Cv2.CvtColor(bgr, grey, ColorConversionCodes.BGR2GRAY);
        var scale = Math.Min(1.0, (double)maxSide / Math.Max(grey.Width, grey.Height));
        using var small = new Mat();
        if (scale < 1) Cv2.Resize(grey, small, new Size(), scale, scale, InterpolationFlags.Area);
        else grey.CopyTo(small);
        Cv2.EqualizeHist(small, small);
        var minSide = Math.Max(24, Math.Min(small.Width, small.Height) / 12);
        var (boxes, weights) = cascades.Use(HaarCascades.FrontalFace, c =>
        {
            var found = c.DetectMultiScale(small, out _, out var levelWeights, ScaleFactor, MinNeighbours, HaarDetectionTypes.ScaleImage, new Size(minSide, minSide), null, true);
            return (found, levelWeights);
        });
        var faces = new List<DetectedFace>();
        for (var i = 0; i < boxes.Length; i++)
        {
            var r = boxes[i];
            var box = new FaceBox((float)(r.X / scale), (float)(r.Y / scale), (float)(r.Width / scale), (float)(r.Height / scale));
            var score = i < weights.Length ? (float)(1 / (1 + Math.Exp(-weights[i]))) : 0.5f;
            faces.Add(new DetectedFace(box, score, FivePoints(small, r, scale)));
        }
        return [.. faces.OrderByDescending(f => f.Score).ThenByDescending(f => f.Box.Area)];
    }

    private FacePoint[] FivePoints(Mat grey, Rect face, double scale)
    {
        var points = Geometry.Select(g => new FacePoint(face.X + g.X * face.Width, face.Y + g.Y * face.Height)).ToArray();
        var upper = new Rect(face.X, face.Y + face.Height / 8, face.Width, face.Height / 2);
        using var roi = new Mat(grey, upper);
        var minEye = Math.Max(8, face.Width / 8);
        var eyes = cascades.Use(HaarCascades.Eye, c => c.DetectMultiScale(roi, 1.1, 3, HaarDetectionTypes.ScaleImage, new Size(minEye, minEye), new Size(face.Width / 2, face.Width / 2)));
        var centre = face.Width / 2f;
        var left = eyes.Where(e => e.X + e.Width / 2f < centre).OrderByDescending(e => e.Width * e.Height).Cast<Rect?>().FirstOrDefault();
        var right = eyes.Where(e => e.X + e.Width / 2f >= centre).OrderByDescending(e => e.Width * e.Height).Cast<Rect?>().FirstOrDefault();
        if (left is { } l && right is { } r)
        {
            points[DetectedFace.LeftEye] = new FacePoint(upper.X + l.X + l.Width / 2f, upper.Y + l.Y + l.Height / 2f);
            points[DetectedFace.RightEye] = new FacePoint(upper.X + r.X + r.Width / 2f, upper.Y + r.Y + r.Height / 2f);
        }
        return [.. points.Select(p => new FacePoint((float)(p.X / scale), (float)(p.Y / scale)))];
    }
}
