using TalkingFace.Workers.Motion.Landmarks;

namespace TalkingFace.Workers.Motion.Preview;

/// <summary>Draws one frame of 2D landmarks as a face mesh (the iBUG-68 contours and the points) on a dark background.</summary>
public sealed class LandmarkFrameRenderer(int size)
{
    private static readonly (byte B, byte G, byte R) Top = (30, 22, 18);
    private static readonly (byte B, byte G, byte R) Bottom = (14, 10, 8);
    private static readonly (byte B, byte G, byte R) PointColor = (255, 255, 255);

    private readonly Canvas _canvas = new(size);
    private readonly (float X, float Y)[] _points = new (float X, float Y)[LandmarkModel.Points];
    private readonly (float X, float Y)[] _contour = new (float X, float Y)[LandmarkModel.Points];

    public int Size => _canvas.Size;

    /// <summary>Renders a frame and returns its BGR24 pixels (the same buffer every call).</summary>
    /// <param name="landmarks2d">68 (x, y) pairs in a <paramref name="space"/> x <paramref name="space"/> image space.</param>
    public byte[] Render(ReadOnlySpan<float> landmarks2d, int space = LandmarkProjection.DefaultSize)
    {
        if (landmarks2d.Length != LandmarkModel.Points * 2) throw new ArgumentException("a frame has 68 (x, y) pairs", nameof(landmarks2d));
        var scale = (float)Size / space;
        for (var i = 0; i < _points.Length; i++) _points[i] = (landmarks2d[2 * i] * scale, landmarks2d[2 * i + 1] * scale);

        _canvas.Clear(Top, Bottom);
        var width = Math.Max(1.2f, 2.2f * Size / 512f);
        foreach (var contour in FaceMesh.Contours)
        {
            for (var i = 0; i < contour.Points.Length; i++) _contour[i] = _points[contour.Points[i]];
            _canvas.Polyline(_contour.AsSpan(0, contour.Points.Length), contour.Closed, width, (contour.B, contour.G, contour.R), 0.95f);
        }
        _canvas.Dots(_points, Math.Max(1f, 2.2f * Size / 512f), PointColor, 0.8f);
        return _canvas.Pixels;
    }
}
