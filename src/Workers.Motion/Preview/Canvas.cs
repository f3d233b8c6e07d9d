namespace TalkingFace.Workers.Motion.Preview;

/// <summary>
/// A square BGR24 image with anti-aliased drawing, enough for a landmark preview without an imaging library.
/// A stroke (a polyline or a dot) is first rasterised into a coverage buffer, each pixel's coverage being
/// how much of it lies within half the line width of the nearest segment (a one-pixel linear ramp at the edge);
/// the stroke is then blended over the image once, so joints and overlaps of one stroke are never drawn twice.
/// </summary>
public sealed class Canvas
{
    private readonly float[] _coverage;
    private readonly int[] _touched; // pixels of the current stroke with coverage > 0
    private int _touchedCount;
    private byte[]? _background;
    private (byte B, byte G, byte R) _backgroundTop, _backgroundBottom;

    public Canvas(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 2);
        Size = size;
        Pixels = new byte[size * size * 3];
        _coverage = new float[size * size];
        _touched = new int[size * size];
    }

    public int Size { get; }

    /// <summary>Rows top to bottom, each pixel B, G, R.</summary>
    public byte[] Pixels { get; }

    /// <summary>Fills the image with a vertical gradient from <paramref name="top"/> to <paramref name="bottom"/> (BGR).</summary>
    public void Clear((byte B, byte G, byte R) top, (byte B, byte G, byte R) bottom)
    {
        if (_background is null || _backgroundTop != top || _backgroundBottom != bottom)
        {
            _background = Gradient(Size, top, bottom);
            (_backgroundTop, _backgroundBottom) = (top, bottom);
        }
        _background.CopyTo(Pixels, 0);
    }

    private static byte[] Gradient(int size, (byte B, byte G, byte R) top, (byte B, byte G, byte R) bottom)
    {
        var pixels = new byte[size * size * 3];
        for (var y = 0; y < size; y++)
        {
            var f = (float)y / (size - 1);
            var b = (byte)(top.B + (bottom.B - top.B) * f);
            var g = (byte)(top.G + (bottom.G - top.G) * f);
            var r = (byte)(top.R + (bottom.R - top.R) * f);
            var row = pixels.AsSpan(y * size * 3, size * 3);
            for (var x = 0; x < size; x++)
            {
                row[3 * x] = b;
                row[3 * x + 1] = g;
                row[3 * x + 2] = r;
            }
        }
        return pixels;
    }

    /// <summary>Draws the segments joining <paramref name="points"/> in order (and back to the first when closed).</summary>
    /// <param name="points">(x, y) pixel coordinates; pixel centres are at integer + 0.5. Non-finite points break the line.</param>
    public void Polyline(ReadOnlySpan<(float X, float Y)> points, bool closed, float width, (byte B, byte G, byte R) color, float opacity = 1f)
    {
        for (var i = 0; i + 1 < points.Length; i++) Segment(points[i], points[i + 1], width / 2);
        if (closed && points.Length > 2) Segment(points[^1], points[0], width / 2);
        Composite(color, opacity);
    }

    /// <summary>Draws filled dots of <paramref name="radius"/> pixels.</summary>
    public void Dots(ReadOnlySpan<(float X, float Y)> points, float radius, (byte B, byte G, byte R) color, float opacity = 1f)
    {
        foreach (var p in points) Segment(p, p, radius);
        Composite(color, opacity);
    }

    private void Segment((float X, float Y) a, (float X, float Y) b, float halfWidth)
    {
        if (!float.IsFinite(a.X) || !float.IsFinite(a.Y) || !float.IsFinite(b.X) || !float.IsFinite(b.Y)) return;
        var reach = halfWidth + 1;
        var x0 = Math.Max(0, (int)Math.Floor(Math.Min(a.X, b.X) - reach));
        var x1 = Math.Min(Size - 1, (int)Math.Ceiling(Math.Max(a.X, b.X) + reach));
        var y0 = Math.Max(0, (int)Math.Floor(Math.Min(a.Y, b.Y) - reach));
        var y1 = Math.Min(Size - 1, (int)Math.Ceiling(Math.Max(a.Y, b.Y) + reach));
        if (x0 > x1 || y0 > y1) return; // entirely outside

        var dx = b.X - a.X;
        var dy = b.Y - a.Y;
        var lengthSquared = dx * dx + dy * dy;
        for (var y = y0; y <= y1; y++)
        {
            var py = y + 0.5f - a.Y;
            var row = y * Size;
            for (var x = x0; x <= x1; x++)
            {
                var px = x + 0.5f - a.X;
                var t = lengthSquared > 0 ? Math.Clamp((px * dx + py * dy) / lengthSquared, 0f, 1f) : 0f;
                var ex = px - t * dx;
                var ey = py - t * dy;
                var distance = MathF.Sqrt(ex * ex + ey * ey);
                var coverage = Math.Clamp(halfWidth + 0.5f - distance, 0f, 1f);
                var i = row + x;
                if (coverage <= _coverage[i]) continue;
                if (_coverage[i] == 0) _touched[_touchedCount++] = i;
                _coverage[i] = coverage;
            }
        }
    }

    private void Composite((byte B, byte G, byte R) color, float opacity)
    {
        for (var n = 0; n < _touchedCount; n++)
        {
            var i = _touched[n];
            var a = _coverage[i] * opacity;
            _coverage[i] = 0;
            var p = 3 * i;
            Pixels[p] = (byte)(Pixels[p] + (color.B - Pixels[p]) * a + 0.5f);
            Pixels[p + 1] = (byte)(Pixels[p + 1] + (color.G - Pixels[p + 1]) * a + 0.5f);
            Pixels[p + 2] = (byte)(Pixels[p + 2] + (color.R - Pixels[p + 2]) * a + 0.5f);
        }
        _touchedCount = 0;
    }
}
