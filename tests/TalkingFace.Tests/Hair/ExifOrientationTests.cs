using System.Text.Json;
using OpenCvSharp;
using TalkingFace.Contracts;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Standalone;
using TalkingFace.Workers.Hair.Detection;
using TalkingFace.Workers.Hair.Imaging;

namespace TalkingFace.Tests.Hair;

/// <summary>
/// Photos that store their pixels turned and say so in EXIF (as phones do): the shared one-face photo turned by
/// ImageMagick so that the orientation tag exiftool writes makes it upright again. OpenCV's IMREAD_UNCHANGED decode
/// ignores the tag; the hair stage turns the photo upright before detection, so the face is found where a viewer
/// shows it and every output is upright.
/// </summary>
public sealed class ExifOrientationTests : IClassFixture<ExifOrientationTests.Photos>, IAsyncLifetime
{
    private readonly Photos _photos;
    private readonly HairGatewayFactory _factory = new();
    private HttpClient _client = null!;

    public ExifOrientationTests(Photos photos) => _photos = photos;

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

    /// <summary>The turned, tagged copies of the one-face photo, made once per run with ImageMagick and exiftool.</summary>
    public sealed class Photos : IDisposable
    {
        private readonly TempFolder _folder = new();
        private readonly Dictionary<(int, string), string> _made = [];
        private readonly Lock _gate = new();

        /// <summary>The photo stored turned so that EXIF orientation <paramref name="orientation"/> makes it upright.</summary>
        public string Tagged(int orientation, string extension)
        {
            lock (_gate)
            {
                if (_made.TryGetValue((orientation, extension), out var made)) return made;
                // ImageMagick's -rotate is clockwise; the stored pixels are the upright photo turned the other way.
                var rotate = orientation switch { 3 => "180", 6 => "-90", 8 => "90", _ => throw new ArgumentOutOfRangeException(nameof(orientation)) };
                var path = Path.Combine(_folder.Path, $"one-face-orientation-{orientation}.{extension}");
                Assert.True(ExternalTool.Run("/usr/bin/convert", [HairTestKit.OneFace, "-rotate", rotate, path]) is not null,
                    "ImageMagick is not installed: apt-get install imagemagick");
                Assert.True(ExternalTool.Run("exiftool", ["-q", "-overwrite_original", $"-Orientation={orientation}", "-n", path]) is not null,
                    "exiftool is not installed: apt-get install libimage-exiftool-perl");
                Assert.Equal(orientation.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ExternalTool.Run("exiftool", ["-s3", "-n", "-Orientation", path])!.Trim());
                _made[(orientation, extension)] = path;
                return path;
            }
        }

        public void Dispose() => _folder.Dispose();
    }

    [Theory]
    [InlineData(3, "jpg")]
    [InlineData(6, "jpg")]
    [InlineData(8, "jpg")]
    [InlineData(6, "png")]
    [InlineData(8, "webp")]
    public void The_decoded_photo_is_upright_and_its_face_is_found_where_the_upright_photo_has_it(int orientation, string extension)
    {
        var bytes = File.ReadAllBytes(_photos.Tagged(orientation, extension));
        using var upright = HairTestKit.Load(HairTestKit.OneFace);

        using (var stored = Cv2.ImDecode(bytes, ImreadModes.Unchanged)) // OpenCV alone: the stored order, the tag ignored
        {
            var turned = orientation is 6 or 8;
            Assert.Equal(turned ? (upright.Height, upright.Width) : (upright.Width, upright.Height), (stored.Width, stored.Height));
        }
        Assert.Equal(orientation, ExifOrientation.Read(bytes));

        using var decoded = ImageCodec.DecodeBgr(bytes);

        Assert.Equal((upright.Width, upright.Height), (decoded.Width, decoded.Height));
        Assert.True(MeanDifference(upright, decoded) < 6, $"the decoded photo differs from the upright one by {MeanDifference(upright, decoded):F1} per channel");
        using var yolo = HairTestKit.YoloModelStore();
        var (services, detectors) = HairTestKit.Detectors(yolo.Path);
        using (services)
        {
            var expected = Assert.Single(detectors.Get().Find(upright).Report.Faces);
            var found = detectors.Get().Find(decoded);
            Assert.Equal(FaceVerdicts.OneFace, found.Report.Verdict);
            var face = Assert.Single(found.Report.Faces);
            Assert.InRange(face.X, expected.X - 0.03f * upright.Width, expected.X + 0.03f * upright.Width);
            Assert.InRange(face.Y, expected.Y - 0.03f * upright.Height, expected.Y + 0.03f * upright.Height);
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(8)]
    public async Task A_standalone_hair_job_on_a_tagged_photo_finds_the_face_and_writes_upright_outputs(int orientation)
    {
        var submitted = await _client.SubmitHairAsync(_photos.Tagged(orientation, "jpg"), ("mode", "both"), ("shapeId", "bob-black"), ("colorId", "long-blonde"));
        var job = await _client.WaitUntilFinishedAsync(submitted.Id);

        Assert.True(job.State == "succeeded", job.Reason);
        using var upright = HairTestKit.Load(HairTestKit.OneFace);
        var detections = JsonDocument.Parse(await _client.ArtifactBytesAsync(job.Id, ArtifactNames.Detections)).RootElement;
        Assert.Equal(upright.Width, detections.GetProperty("imageWidth").GetInt32());
        Assert.Equal(upright.Height, detections.GetProperty("imageHeight").GetInt32());
        using var pasted = HairApi.DecodePng(await _client.ArtifactBytesAsync(job.Id, ArtifactNames.PastedPhoto));
        Assert.Equal((upright.Width, upright.Height), (pasted.Width, pasted.Height));
        // The demo chain repaints a large area (about 19 per channel on average), the rest is the photo itself: far closer
        // to the upright photo than to any other turn of it with the same size.
        var toUpright = MeanDifference(upright, pasted);
        foreach (var (name, flip) in new[] { ("turned 180°", FlipMode.XY), ("mirrored left-right", FlipMode.Y), ("mirrored top-bottom", FlipMode.X) })
        {
            using var wrong = upright.Flip(flip);
            var toWrong = MeanDifference(wrong, pasted);
            Assert.True(toUpright < toWrong / 3, $"the pasted photo is {toUpright:F1} from the upright photo and {toWrong:F1} from it {name}");
        }
    }

    private static double MeanDifference(Mat a, Mat b)
    {
        using var diff = new Mat();
        Cv2.Absdiff(a, b, diff);
        var mean = Cv2.Mean(diff);
        return (mean.Val0 + mean.Val1 + mean.Val2) / 3;
    }
}
