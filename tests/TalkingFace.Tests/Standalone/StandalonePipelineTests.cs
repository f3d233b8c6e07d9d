using System.Net;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Batches;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Tests.Standalone;

/// <summary>
/// Whole jobs through the standalone gateway over HTTP, on real inputs. No model is configured, so each job
/// must end failed with that reason, keeping what the stages before it produced.
/// </summary>
public sealed class StandalonePipelineTests(StandaloneGatewayFactory gateway) : IClassFixture<StandaloneGatewayFactory>
{
    private readonly HttpClient _client = gateway.CreateClient();

    [Fact]
    public async Task Talking_face_job_converts_the_audio_then_fails_honestly_for_want_of_a_feature_model()
    {
        var source = await File.ReadAllBytesAsync(TestPaths.MacronSpeech);
        var submitted = await _client.SubmitAcceptedAsync(source, "MacronSpeech.wav");
        Assert.Equal("talking-face", submitted.Kind);

        var job = await _client.WaitUntilFinishedAsync(submitted.Id);

        Assert.Equal("failed", job.State);
        Assert.Contains("not configured", job.Reason);
        var audio = Assert.Single(job.Stages, s => s.Name == Stages.Audio);
        Assert.Equal("failed", audio.State);
        Assert.Contains("not configured", audio.Reason);
        Assert.Contains(audio.Timings, t => t.Step == Steps.AudioConversion && t.Seconds >= 0);
        var motion = Assert.Single(job.Stages, s => s.Name == Stages.Motion);
        Assert.Equal("cancelled", motion.State);

        var listed = Assert.Single(job.Artifacts, a => a.Name == ArtifactNames.Audio16k);
        Assert.Equal(Stages.Audio, listed.Stage);
        using var download = await _client.GetAsync(listed.Url);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        Assert.Equal(listed.Size, bytes.Length);

        var wav = ParsedWav.Parse(bytes);
        Assert.Equal((ParsedWav.IeeeFloat, 1, 16000, 32), (wav.FormatTag, wav.Channels, wav.SampleRate, wav.BitsPerSample));
        var sourceWav = ParsedWav.Parse(source);
        Assert.Equal((2, 48000), (sourceWav.Channels, sourceWav.SampleRate));
        var expectedLength = (sourceWav.FrameCount * 16000 + 48000 - 1) / 48000; // ceil(frames * 16000 / 48000)
        Assert.Equal(expectedLength, wav.FrameCount);

        // The worker's output is exactly what the converter gives when called directly on the same file.
        await using var file = File.OpenRead(TestPaths.MacronSpeech);
        var direct = await new AudioConverter(Options.Create(new AudioConversionOptions())).ConvertAsync(file);
        var served = wav.FloatSamples();
        Assert.Equal(direct.Samples.Length, served.Length);
        var firstDifference = Enumerable.Range(0, served.Length)
            .FirstOrDefault(i => BitConverter.SingleToInt32Bits(served[i]) != BitConverter.SingleToInt32Bits(direct.Samples[i]), -1);
        Assert.True(firstDifference < 0, $"sample {firstDifference} differs: served {served[Math.Max(0, firstDifference)]}, direct {direct.Samples[Math.Max(0, firstDifference)]}");
    }

    [Fact]
    public async Task Hair_job_refuses_a_shape_reference_without_exactly_one_face()
    {
        using var form = GatewayApi.Form(
            [
                ("face", "one-face-a.jpg", await File.ReadAllBytesAsync(TestPaths.TestData("faces", "one-face-a.jpg"))),
                ("shape", "two-faces.jpg", await File.ReadAllBytesAsync(TestPaths.TestData("faces", "two-faces.jpg"))),
            ],
            ("mode", "shape"));
        using var response = await _client.PostAsync("/api/jobs/hair", form);
        var submitted = await response.ReadJobAsync(HttpStatusCode.Accepted);
        Assert.Equal("hair", submitted.Kind);
        Assert.Contains(submitted.Artifacts, a => a.Name == ArtifactNames.InputFace && a.ContentType == "image/jpeg");
        Assert.Contains(submitted.Artifacts, a => a.Name == ArtifactNames.InputShape);

        var job = await _client.WaitUntilFinishedAsync(submitted.Id);

        // The embedded default detector (OpenCV's cascades) finds the face but neither face of two-faces.jpg.
        Assert.Equal("failed", job.State);
        Assert.Contains("no face found in the shape reference", job.Reason);
        Assert.Contains(job.Artifacts, a => a.Name == ArtifactNames.Detections);
        var hair = Assert.Single(job.Stages);
        Assert.Equal((Stages.Hair, "failed"), (hair.Name, hair.State));
    }

    [Fact]
    public async Task Batch_of_three_clips_finishes_with_one_job_per_clip()
    {
        using var form = GatewayApi.Form(
            [("files", "one.wav", ShortClip(1600)), ("files", "two.wav", ShortClip(3200)), ("files", "three.wav", ShortClip(4800))],
            ("name", "three short clips"));
        using var response = await _client.PostAsync("/api/batches", form);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, body);
        var submitted = System.Text.Json.JsonSerializer.Deserialize<BatchView>(body, GatewayApi.Json)!;
        Assert.Equal(3, submitted.Total);

        var batch = await GatewayApi.PollAsync(
            () => _client.GetJsonAsync<BatchView>($"/api/batches/{submitted.Id}"),
            b => b.Finished,
            b => $"batch {b.Id} did not finish within {GatewayApi.FinishTimeout}: " + string.Join(", ", b.Items.Select(i => $"{i.InputName}={i.State}")));

        Assert.Equal(3, batch.Items.Count);
        Assert.Equal(3, batch.Total);
        Assert.Equal(["one.wav", "three.wav", "two.wav"], batch.Items.Select(i => i.InputName).Order());
        Assert.All(batch.Items, item =>
        {
            Assert.Equal("failed", item.State);
            Assert.Contains("not configured", item.Reason);
            Assert.Equal(1, item.Progress);
        });
        Assert.Equal(3, batch.Counts["failed"]);
        Assert.Equal(1, batch.Progress);

        var listed = await _client.GetJsonAsync<JobPage<JobView>>($"/api/jobs?batchId={batch.Id}");
        Assert.Equal(3, listed.Total);
        Assert.Equal(batch.Items.Select(i => i.JobId).Order(), listed.Items.Select(j => j.Id).Order());
        Assert.All(listed.Items, j => Assert.Equal(batch.Id, j.BatchId));
    }

    /// <summary>A 16 kHz mono 16-bit clip of a 440 Hz tone, <paramref name="samples"/> long.</summary>
    private static byte[] ShortClip(int samples) => new WavBuilder
    {
        Data = WavBuilder.Pcm16([.. Enumerable.Range(0, samples).Select(i => (short)(8000 * Math.Sin(2 * Math.PI * 440 * i / 16000)))]),
    }.Build();
}
