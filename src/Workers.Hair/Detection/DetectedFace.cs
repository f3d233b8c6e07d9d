namespace TalkingFace.Workers.Hair.Detection;

/// <summary>A point in image pixels.</summary>
public readonly record struct FacePoint(float X, float Y);

/// <summary>A face box in image pixels (top-left corner and size).</summary>
public readonly record struct FaceBox(float X, float Y, float Width, float Height)
{
    public float Right => X + Width;
    public float Bottom => Y + Height;
    public float Area => Math.Max(0, Width) * Math.Max(0, Height);

    public float IoU(FaceBox other)
    {
        var w = Math.Min(Right, other.Right) - Math.Max(X, other.X);
        var h = Math.Min(Bottom, other.Bottom) - Math.Max(Y, other.Y);
        if (w <= 0 || h <= 0) return 0;
        var inter = w * h;
        return inter / (Area + other.Area - inter);
    }

    public override string ToString() => $"({X:F0},{Y:F0} {Width:F0}x{Height:F0})";
}

/// <summary>
/// One face a detector found: its box, its confidence (0..1) and five keypoints in the order
/// left eye, right eye, nose, left mouth corner, right mouth corner ("left" = image left).
/// </summary>
public sealed record DetectedFace(FaceBox Box, float Score, IReadOnlyList<FacePoint> Keypoints)
{
    public const int LeftEye = 0, RightEye = 1, Nose = 2, LeftMouth = 3, RightMouth = 4;
}

/// <summary>A face detector behind which the YOLOv8-face model and OpenCV's cascades sit.</summary>
public interface IFaceDetector
{
    /// <summary>Name recorded in <c>detections.json</c> and in refusal reasons, e.g. <c>yolov8-face (face-detector@1)</c>.</summary>
    string Name { get; }

    /// <summary>Every face found in an 8-bit BGR image, best first.</summary>
    IReadOnlyList<DetectedFace> Detect(OpenCvSharp.Mat bgr);
}
