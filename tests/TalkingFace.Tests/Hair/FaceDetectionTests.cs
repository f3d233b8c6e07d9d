using TalkingFace.Workers.Hair.Detection;
using Xunit.Abstractions;

namespace TalkingFace.Tests.Hair;

/// <summary>The YOLOv8-face decoder (shared real detector), the Haar default, and the exactly-one-human-face rule, on the three shared photos.</summary>
public sealed class FaceDetectionTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _store = HairTestKit.YoloModelStore();

    [Fact]
    public void Yolo_finds_one_face_in_one_face_a_with_keypoints_inside_the_box()
    {
        var (services, detectors) = HairTestKit.Detectors(_store.Path);
        using var _ = services;
        using var image = HairTestKit.Load(HairTestKit.OneFace);
        var result = detectors.Get().Find(image);
        output.WriteLine(System.Text.Encoding.UTF8.GetString(result.Report.ToJson()));

        Assert.StartsWith("yolov8-face", result.Report.Detector);
        Assert.Equal(FaceVerdicts.OneFace, result.Report.Verdict);
        var face = Assert.Single(result.Report.Faces);
        Assert.InRange(face.Score, 0.75f, 0.9f); // measured 0.83 with ONNX Runtime 1.31.1
        Assert.True(face.Human);
        Assert.Equal(5, face.Keypoints.Length);
        foreach (var k in face.Keypoints)
        {
            Assert.InRange(k[0], face.X, face.X + face.Width);
            Assert.InRange(k[1], face.Y, face.Y + face.Height);
        }
        // eyes above the nose above the mouth; left eye left of the right eye
        Assert.True(face.Keypoints[0][0] < face.Keypoints[1][0]);
        Assert.True(face.Keypoints[0][1] < face.Keypoints[2][1] && face.Keypoints[2][1] < face.Keypoints[3][1]);
        Assert.NotNull(result.Face);
    }

    [Fact]
    public void Yolo_refuses_two_faces_saying_how_many_and_where()
    {
        var (services, detectors) = HairTestKit.Detectors(_store.Path);
        using var _ = services;
        using var image = HairTestKit.Load(HairTestKit.TwoFaces);
        var result = detectors.Get().Find(image);
        output.WriteLine(result.Report.Reason);

        Assert.Null(result.Face);
        Assert.Equal(FaceVerdicts.SeveralFaces, result.Report.Verdict);
        Assert.Equal(2, result.Report.Faces.Count);
        Assert.All(result.Report.Faces, f => Assert.InRange(f.Score, 0.65f, 0.8f)); // 0.71/0.70 measured with centred padding; 0.75/0.72 with ours (right/bottom)
        Assert.StartsWith("2 faces found", result.Report.Reason);
        Assert.Contains("yolov8-face", result.Report.Reason);
        foreach (var f in result.Report.Faces) Assert.Contains($"({f.X:F0},{f.Y:F0} {f.Width:F0}x{f.Height:F0})", result.Report.Reason);
        var boxes = result.Report.Faces.OrderBy(f => f.X).ToArray();
        Assert.True(boxes[0].X + boxes[0].Width <= boxes[1].X + 1, "the two faces are side by side, not overlapping");
    }

    [Fact]
    public void Yolo_sees_the_gorilla_but_the_human_face_check_refuses_it()
    {
        var (services, detectors) = HairTestKit.Detectors(_store.Path);
        using var _ = services;
        using var image = HairTestKit.Load(HairTestKit.Gorilla);
        Assert.Equal(3, image.Channels());
        var result = detectors.Get().Find(image);
        output.WriteLine(result.Report.Reason);

        Assert.Null(result.Face);
        var candidate = Assert.Single(result.Report.Faces);
        Assert.InRange(candidate.Score, 0.65f, 0.75f); // measured 0.707: the detector alone would accept it
        Assert.False(candidate.Human);
        Assert.Equal(FaceVerdicts.NoHumanFace, result.Report.Verdict);
        Assert.StartsWith("no human face found", result.Report.Reason);
        Assert.Contains("1 face-like region", result.Report.Reason);
        Assert.Contains("skin-hue check", result.Report.Reason);
    }

    [Fact]
    public void Haar_default_needs_no_model_and_finds_the_one_face()
    {
        using var empty = new TempFolder();
        var (services, detectors) = HairTestKit.Detectors(empty.Path);
        using var _ = services;
        using var image = HairTestKit.Load(HairTestKit.OneFace);
        var result = detectors.Get().Find(image);
        output.WriteLine(System.Text.Encoding.UTF8.GetString(result.Report.ToJson()));

        Assert.StartsWith("haar-cascade", result.Report.Detector);
        Assert.Equal(FaceVerdicts.OneFace, result.Report.Verdict);
        var face = Assert.Single(result.Report.Faces);
        Assert.Equal(5, face.Keypoints.Length);
        Assert.True(face.Keypoints[0][0] < face.Keypoints[1][0]);
    }

    [Fact]
    public void Haar_default_refuses_the_gorilla_and_the_two_face_photo()
    {
        using var empty = new TempFolder();
        var (services, detectors) = HairTestKit.Detectors(empty.Path);
        using var _ = services;
        foreach (var path in new[] { HairTestKit.Gorilla, HairTestKit.TwoFaces })
        {
            using var image = HairTestKit.Load(path);
            var result = detectors.Get().Find(image);
            output.WriteLine($"{Path.GetFileName(path)}: {result.Report.Reason}");
            Assert.Null(result.Face);
            Assert.NotEqual(FaceVerdicts.OneFace, result.Report.Verdict);
            Assert.Contains("haar-cascade", result.Report.Reason);
        }
    }

    public void Dispose() => _store.Dispose();
}
