using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers;
using TalkingFace.Workers.Motion.Landmarks;
using TalkingFace.Workers.Motion.Preview;
using static TalkingFace.Tests.Motion.MotionTestKit;

namespace TalkingFace.Tests.Motion;

/// <summary>The landmark preview: anti-aliased drawing, and the MP4 Debian's ffmpeg makes of it with the job's audio.</summary>
public sealed class PreviewTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("talkingface-preview-test-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static PreviewRenderer Renderer(PreviewOptions? options = null) =>
        new(Options.Create(options ?? new PreviewOptions()), NullLogger<PreviewRenderer>.Instance);

    private static string HelloWav => Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav");

    [Fact]
    public void Lines_are_anti_aliased_and_stay_where_they_are_drawn()
    {
        var canvas = new Canvas(64);
        canvas.Clear((0, 0, 0), (0, 0, 0));
        canvas.Polyline([(8.5f, 10.3f), (56.5f, 30.7f)], closed: false, width: 2, (255, 255, 255));

        var values = canvas.Pixels.Where((_, i) => i % 3 == 0).ToArray();
        Assert.Contains(values, v => v == 255); // the core of the line
        Assert.Contains(values, v => v is > 20 and < 235); // soft edges
        Assert.Equal(0, canvas.Pixels[3 * (60 * 64 + 5)]); // far from the line: untouched
        // on the line's axis at x = 32.5 (y = 10.3 + 20.4 · 24 / 48 = 20.5): full coverage
        Assert.Equal(255, canvas.Pixels[3 * (20 * 64 + 32)]);

        // a joint of two segments of one stroke is not drawn twice (the coverage is blended once)
        var joint = new Canvas(32);
        joint.Clear((0, 0, 0), (0, 0, 0));
        joint.Polyline([(4.5f, 16.5f), (16.5f, 16.5f), (28.5f, 16.5f)], false, 3, (200, 200, 200), 0.5f);
        Assert.InRange(joint.Pixels[3 * (16 * 32 + 16)], (byte)99, (byte)101);
        Assert.Equal(joint.Pixels[3 * (16 * 32 + 10)], joint.Pixels[3 * (16 * 32 + 16)]);
    }

    [Fact]
    public void A_frame_shows_the_face_mesh_on_a_dark_background()
    {
        var landmarks = TalkingLandmarks2d(1);
        var pixels = new LandmarkFrameRenderer(512).Render(landmarks);

        Assert.Equal(512 * 512 * 3, pixels.Length);
        static int Brightness(byte[] p, int x, int y) => p[3 * (y * 512 + x)] + p[3 * (y * 512 + x) + 1] + p[3 * (y * 512 + x) + 2];
        Assert.True(Brightness(pixels, 5, 5) < 100, "the background is dark");
        Assert.True(Brightness(pixels, 256, 500) < 100);
        // every landmark is drawn (a lit pixel at it) and the middle of a lip segment too
        for (var p = 0; p < 68; p++)
            Assert.True(Brightness(pixels, (int)landmarks[2 * p], (int)landmarks[2 * p + 1]) > 300, $"landmark {p} is not drawn");
        var midX = (landmarks[2 * 48] + landmarks[2 * 49]) / 2;
        var midY = (landmarks[2 * 48 + 1] + landmarks[2 * 49 + 1]) / 2;
        Assert.True(Brightness(pixels, (int)midX, (int)midY) > 200, "the outer lip line is drawn between its points");
        var lit = Enumerable.Range(0, 512 * 512).Count(i => pixels[3 * i] + pixels[3 * i + 1] + pixels[3 * i + 2] > 200);
        Assert.InRange(lit, 2_000, 40_000); // lines, not filled areas
    }

    [Fact]
    public async Task Ffmpeg_encodes_25_fps_h264_with_the_audio_as_aac()
    {
        var output = Path.Combine(_folder, "preview.mp4");
        const int frames = 75; // 3 s; hello.wav is 3.14 s

        await Renderer().RenderAsync(TalkingLandmarks2d(frames), frames, 25, HelloWav, output, CancellationToken.None);

        AssertPreview(output);
        var video = Assert.Single(Probe(output), s => s.CodecType == "video");
        Assert.InRange(video.Duration ?? 0, 2.9, 3.1);
        Assert.False(Directory.EnumerateFiles(_folder).Any(f => f != output), "no temporary files are left beside the output");
    }

    [Fact]
    public async Task The_size_option_sets_the_video_size_and_no_audio_gives_a_silent_video()
    {
        var output = Path.Combine(_folder, "small.mp4");
        await Renderer(new PreviewOptions { Size = 256 }).RenderAsync(TalkingLandmarks2d(10), 10, 25, null, output, CancellationToken.None);

        var streams = Probe(output);
        var video = Assert.Single(streams);
        Assert.Equal(("video", "h264", 256, 256, "25/1"), (video.CodecType, video.CodecName, video.Width!.Value, video.Height!.Value, video.FrameRate!));
    }

    [Fact]
    public async Task A_missing_ffmpeg_is_reported_as_not_found_with_its_path()
    {
        var missing = Path.Combine(_folder, "no-such-ffmpeg");
        var renderer = Renderer(new PreviewOptions { FfmpegPath = missing });
        var error = await Assert.ThrowsAsync<FfmpegNotFoundException>(() =>
            renderer.RenderAsync(TalkingLandmarks2d(5), 5, 25, HelloWav, Path.Combine(_folder, "x.mp4"), CancellationToken.None));
        Assert.Equal(missing, error.Path);
        Assert.StartsWith($"could not start '{missing}'", error.Message);
        Assert.False(File.Exists(Path.Combine(_folder, "x.mp4")));
    }

    [Fact]
    public async Task A_failing_ffmpeg_fails_the_stage_with_its_message()
    {
        var error = await Assert.ThrowsAsync<StageFailedException>(() =>
            Renderer().RenderAsync(TalkingLandmarks2d(5), 5, 25, Path.Combine(_folder, "missing.wav"), Path.Combine(_folder, "x.mp4"), CancellationToken.None));
        Assert.Contains("ffmpeg failed to encode the preview", error.Message);
        Assert.Contains("missing.wav", error.Message); // ffmpeg's own words
    }

    [Fact]
    public async Task Cancelling_stops_ffmpeg_at_once()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var watch = Stopwatch.StartNew();
        // a 15-minute video would take a long while to encode
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Renderer().RenderAsync(TalkingLandmarks2d(22_500), 22_500, 25, HelloWav, Path.Combine(_folder, "long.mp4"), cancel.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed} to stop");
    }

    [Fact]
    public async Task An_encode_past_the_timeout_is_stopped_and_can_be_retried()
    {
        var renderer = Renderer(new PreviewOptions { Timeout = TimeSpan.FromMilliseconds(300) });
        var error = await Assert.ThrowsAsync<StageFailedException>(() =>
            renderer.RenderAsync(TalkingLandmarks2d(22_500), 22_500, 25, HelloWav, Path.Combine(_folder, "long.mp4"), CancellationToken.None));
        Assert.Contains("did not finish the preview within", error.Message);
        Assert.True(error.Retryable);
    }
}
