namespace TalkingFace.Workers.Motion.Preview;

/// <summary>One contour of the face: the landmark indices it joins, whether it closes, and its colour (BGR).</summary>
public sealed record FaceContour(string Name, int[] Points, bool Closed, byte B, byte G, byte R);

/// <summary>The iBUG-68 contours drawn in the preview (0-based indices, as in dlib and GeneFace++).</summary>
public static class FaceMesh
{
    private static int[] Range(int from, int to) => [.. Enumerable.Range(from, to - from + 1)];

    public static IReadOnlyList<FaceContour> Contours { get; } =
    [
        new("jaw", Range(0, 16), false, 200, 190, 170),
        new("right brow", Range(17, 21), false, 215, 205, 185),
        new("left brow", Range(22, 26), false, 215, 205, 185),
        new("nose bridge", Range(27, 30), false, 205, 200, 190),
        new("nose base", [31, 32, 33, 34, 35], false, 205, 200, 190),
        new("nose tip", [31, 30, 35], false, 205, 200, 190),
        new("right eye", Range(36, 41), true, 250, 220, 120),
        new("left eye", Range(42, 47), true, 250, 220, 120),
        new("outer lips", Range(48, 59), true, 130, 110, 240),
        new("inner lips", Range(60, 67), true, 160, 150, 255),
    ];
}
