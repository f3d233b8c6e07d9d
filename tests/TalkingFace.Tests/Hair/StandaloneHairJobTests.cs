using System.Text.Json;
using OpenCvSharp;
using TalkingFace.Contracts;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Hair;

/// <summary>Whole hair jobs on the standalone gateway: the real detector, alignment, the demo ONNX chain, paste-back, gallery references.</summary>
public sealed class StandaloneHairJobTests : IAsyncLifetime
{
    private readonly HairGatewayFactory _factory = new();
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task One_face_with_gallery_shape_and_color_produces_aligned_crop_result_and_pasted_photo()
    {
        var submitted = await _client.SubmitHairAsync(HairTestKit.OneFace, ("mode", "both"), ("shapeId", "bob-black"), ("colorId", "long-blonde"));
        Assert.Equal("bob-black", submitted.Options.GetProperty("shapeGalleryId").GetString());
        Assert.DoesNotContain(submitted.Artifacts, a => a.Name is ArtifactNames.InputShape or ArtifactNames.InputColor); // only the ids travel

        var job = await _client.WaitUntilFinishedAsync(submitted.Id);

        Assert.True(job.State == "succeeded", job.Reason);
        var stage = Assert.Single(job.Stages);
        var steps = stage.Timings.Select(t => t.Step).ToHashSet();
        foreach (var step in new[] { Steps.FaceDetection, Steps.FaceAlignment, Steps.PasteBack, Steps.HairEmbedding, Steps.HairSynthesis })
            Assert.Contains(step, steps);
        Assert.All(stage.Timings, t => Assert.True(t.Seconds >= 0));

        using var aligned = HairApi.DecodePng(await _client.ArtifactBytesAsync(job.Id, ArtifactNames.AlignedFace));
        using var result = HairApi.DecodePng(await _client.ArtifactBytesAsync(job.Id, ArtifactNames.HairResult));
        using var pasted = HairApi.DecodePng(await _client.ArtifactBytesAsync(job.Id, ArtifactNames.PastedPhoto));
        using var original = HairTestKit.Load(HairTestKit.OneFace);
        Assert.Equal((128, 128), (aligned.Width, aligned.Height)); // the demo chain's resolution
        Assert.Equal((128, 128), (result.Width, result.Height));
        Assert.Equal((original.Width, original.Height), (pasted.Width, pasted.Height));

        // The pasted photo differs from the original inside the face box and not in the far corner.
        var detections = JsonDocument.Parse(await _client.ArtifactBytesAsync(job.Id, ArtifactNames.Detections)).RootElement;
        Assert.Equal("one-face", detections.GetProperty("verdict").GetString());
        var face = detections.GetProperty("faces")[0];
        var box = new Rect((int)face.GetProperty("x").GetSingle(), (int)face.GetProperty("y").GetSingle(), (int)face.GetProperty("width").GetSingle(), (int)face.GetProperty("height").GetSingle());
        using var diff = new Mat();
        Cv2.Absdiff(original, pasted, diff);
        using var inFace = new Mat(diff, box);
        Assert.True(Cv2.Mean(inFace).Val0 + Cv2.Mean(inFace).Val1 > 2, "the face region was not replaced");
        using var corner = new Mat(diff, new Rect(0, 0, 60, 60));
        Assert.Equal(0, Cv2.CountNonZero(corner.CvtColor(ColorConversionCodes.BGR2GRAY)));
    }

    [Fact]
    public async Task Two_faces_are_refused_as_two_faces_with_the_boxes_in_detections_json()
    {
        var submitted = await _client.SubmitHairAsync(HairTestKit.TwoFaces, ("mode", "both"), ("shapeId", "bob-black"), ("colorId", "long-blonde"));
        var job = await _client.WaitUntilFinishedAsync(submitted.Id);

        Assert.Equal("failed", job.State);
        Assert.Contains("2 faces found in the photo, exactly one is needed", job.Reason);
        Assert.Contains("yolov8-face", job.Reason);
        var detections = JsonDocument.Parse(await _client.ArtifactBytesAsync(job.Id, ArtifactNames.Detections)).RootElement;
        Assert.Equal("several-faces", detections.GetProperty("verdict").GetString());
        Assert.Equal(2, detections.GetProperty("faces").GetArrayLength());
        Assert.Equal(1080, detections.GetProperty("imageWidth").GetInt32());
        Assert.Equal(1908, detections.GetProperty("imageHeight").GetInt32());
        Assert.DoesNotContain(job.Artifacts, a => a.Name == ArtifactNames.PastedPhoto);
    }

    [Fact]
    public async Task The_gorilla_is_refused_as_no_human_face()
    {
        var submitted = await _client.SubmitHairAsync(HairTestKit.Gorilla, ("mode", "color"), ("colorId", "bun-rose"));
        var job = await _client.WaitUntilFinishedAsync(submitted.Id);

        Assert.Equal("failed", job.State);
        Assert.Contains("no human face found in the photo", job.Reason);
        var detections = JsonDocument.Parse(await _client.ArtifactBytesAsync(job.Id, ArtifactNames.Detections)).RootElement;
        Assert.Equal("no-human-face", detections.GetProperty("verdict").GetString());
        Assert.False(detections.GetProperty("faces")[0].GetProperty("human").GetBoolean());
    }

    [Fact]
    public async Task An_uploaded_shape_reference_is_detected_and_aligned_too()
    {
        var bytes = await File.ReadAllBytesAsync(HairTestKit.OneFace);
        using var form = GatewayApi.Form([("face", "a.jpg", bytes), ("shape", "b.jpg", bytes)], ("mode", "shape"));
        using var response = await _client.PostAsync("/api/jobs/hair", form);
        var submitted = await response.ReadJobAsync(System.Net.HttpStatusCode.Accepted);
        var job = await _client.WaitUntilFinishedAsync(submitted.Id);

        Assert.True(job.State == "succeeded", job.Reason);
        Assert.Contains(job.Artifacts, a => a.Name == ArtifactNames.PastedPhoto);
    }
}
