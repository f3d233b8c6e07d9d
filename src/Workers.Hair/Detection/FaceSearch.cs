using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OpenCvSharp;

namespace TalkingFace.Workers.Hair.Detection;

/// <summary>The outcome of looking for exactly one human face.</summary>
public static class FaceVerdicts
{
    public const string OneFace = "one-face";
    public const string NoFace = "no-face";
    public const string NoHumanFace = "no-human-face";
    public const string SeveralFaces = "several-faces";
}

/// <summary>One face in <c>detections.json</c>: box, score, keypoints, and whether the human-face check accepted it (null: not checked).</summary>
public sealed record FaceReport(float X, float Y, float Width, float Height, float Score, float[][] Keypoints, bool? Human);

/// <summary><c>detections.json</c>: what was found where, by which detector, and the verdict; written on success and on refusal.</summary>
public sealed record DetectionReport(
    int ImageWidth,
    int ImageHeight,
    string Detector,
    string? Verifier,
    IReadOnlyList<FaceReport> Faces,
    string Verdict,
    string? Reason,
    int? Selected)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Json);
}

/// <summary>The face that may proceed (null when refused), the report, and the refusal reason.</summary>
public sealed record FaceSearchResult(DetectedFace? Face, DetectionReport Report)
{
    public bool Accepted => Face is not null;
}

/// <summary>
/// The exactly-one-face rule: the detector's candidates, each checked as a human face when a
/// <see cref="HumanFaceCheck"/> is given, must leave exactly one face. Zero or several refuse the photo with a reason
/// that says how many were found, where (boxes) and which detector or check saw what.
/// </summary>
public sealed class FaceSearch(IFaceDetector detector, HumanFaceCheck? check)
{
    public string DetectorName => detector.Name;

    public FaceSearchResult Find(Mat bgr, string what = "photo")
    {
        var candidates = detector.Detect(bgr);
        var human = candidates.Select(c => check is null ? (bool?)null : check.IsHumanFace(bgr, c)).ToArray();
        var accepted = Enumerable.Range(0, candidates.Count).Where(i => human[i] != false).ToArray();
        var reports = candidates.Select((c, i) => new FaceReport(
            Round(c.Box.X), Round(c.Box.Y), Round(c.Box.Width), Round(c.Box.Height), MathF.Round(c.Score, 4),
            [.. c.Keypoints.Select(k => new[] { Round(k.X), Round(k.Y) })], human[i])).ToList();

        string verdict;
        string? reason = null;
        int? selected = null;
        if (accepted.Length == 1)
        {
            verdict = FaceVerdicts.OneFace;
            selected = accepted[0];
        }
        else if (accepted.Length > 1)
        {
            verdict = FaceVerdicts.SeveralFaces;
            reason = $"{accepted.Length} faces found in the {what}, exactly one is needed: {detector.Name} found {Describe(candidates, accepted)}" +
                     (check is null ? "" : $", each confirmed as a human face by the {check.Name}") + RefusedNote(candidates, human) + ".";
        }
        else if (candidates.Count == 0)
        {
            verdict = FaceVerdicts.NoFace;
            reason = $"no face found in the {what}: {detector.Name} found 0 faces in the {bgr.Width}x{bgr.Height} image.";
        }
        else
        {
            verdict = FaceVerdicts.NoHumanFace;
            reason = $"no human face found in the {what}: {detector.Name} found {candidates.Count} face-like region{(candidates.Count == 1 ? "" : "s")} " +
                     $"{Describe(candidates, [.. Enumerable.Range(0, candidates.Count)])}, but the {check!.Name} found no human face in {(candidates.Count == 1 ? "it" : "any of them")}.";
        }
        var report = new DetectionReport(bgr.Width, bgr.Height, detector.Name, check?.Name, reports, verdict, reason, selected);
        return new FaceSearchResult(selected is { } s ? candidates[s] : null, report);
    }

    private static string Describe(IReadOnlyList<DetectedFace> faces, int[] which) =>
        string.Join(", ", which.Select(i => $"a face at {faces[i].Box} (score {faces[i].Score.ToString("F2", CultureInfo.InvariantCulture)})"));

    private static string RefusedNote(IReadOnlyList<DetectedFace> faces, bool?[] human)
    {
        var refused = Enumerable.Range(0, faces.Count).Where(i => human[i] == false).ToArray();
        return refused.Length == 0 ? "" : $"; not counted as human faces: {Describe(faces, refused)}";
    }

    private static float Round(float v) => MathF.Round(v, 1);
}
