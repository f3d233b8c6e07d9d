using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using TalkingFace.Contracts;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Api;

/// <summary>
/// What the gateway answers to wrong, broken or hostile requests: the right status, a problem+json body that
/// says what is wrong, and a gateway that keeps serving afterwards. Inputs that pass submit validation but
/// cannot be processed must end as failed jobs with a reason, never as server errors.
/// </summary>
public sealed class BadInputTests(StandaloneGatewayFactory gateway) : IClassFixture<StandaloneGatewayFactory>
{
    private readonly HttpClient _client = gateway.CreateClient();

    private static byte[] Clip(int samples = 1600, short level = 1000) =>
        new WavBuilder { Data = WavBuilder.Pcm16([.. Enumerable.Range(0, samples).Select(i => (short)(i % 2 == 0 ? level : -level))]) }.Build();

    /// <summary>Checks status and problem+json, returns the parsed body, and checks the gateway still answers.</summary>
    private async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()), body);
        await _client.AssertStillAnswersAsync();
        return problem;
    }

    private static string Detail(JsonElement problem)
    {
        var detail = problem.GetProperty("detail").GetString();
        Assert.False(string.IsNullOrWhiteSpace(detail));
        return detail!;
    }

    /// <summary>The messages the validation problem lists for <paramref name="field"/>, at least one.</summary>
    private static string FieldErrors(JsonElement problem, string field)
    {
        Assert.True(problem.TryGetProperty("errors", out var errors), $"no 'errors' in {problem}");
        Assert.True(errors.TryGetProperty(field, out var messages), $"no error for '{field}' in {errors}");
        var text = string.Join(" ", messages.EnumerateArray().Select(m => m.GetString()));
        Assert.False(string.IsNullOrWhiteSpace(text));
        return text;
    }

    // ---- talking-face submit: the audio file ----

    [Fact]
    public async Task Empty_audio_file_is_400()
    {
        using var response = await _client.SubmitTalkingFaceAsync([], "empty.wav");
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("empty", FieldErrors(problem, "audio"));
    }

    [Fact]
    public async Task Wav_cut_inside_its_header_is_400()
    {
        var header = (await File.ReadAllBytesAsync(TestPaths.MacronSpeech))[..20];
        using var response = await _client.SubmitTalkingFaceAsync(header, "cut.wav");
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("truncated", Detail(problem));
        Assert.Contains("cut.wav", Detail(problem));
    }

    [Fact]
    public async Task Jpeg_sent_as_audio_is_415()
    {
        var jpeg = await File.ReadAllBytesAsync(TestPaths.TestData("faces", "one-face-a.jpg"));
        using var response = await _client.SubmitTalkingFaceAsync(jpeg, "speech.wav");
        var problem = await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("JPEG", Detail(problem));
        Assert.Contains("not audio", Detail(problem));
    }

    [Fact]
    public async Task Wav_with_no_samples_is_400()
    {
        var silentNothing = new WavBuilder { Data = [] }.Build();
        using var response = await _client.SubmitTalkingFaceAsync(silentNothing, "nothing.wav");
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("no samples", Detail(problem));
    }

    [Fact]
    public async Task Request_that_is_not_multipart_is_415()
    {
        using var json = new StringContent("""{"audio":"speech.wav"}""", Encoding.UTF8, "application/json");
        using var response = await _client.PostAsync("/api/jobs/talking-face", json);
        var problem = await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("multipart/form-data", Detail(problem));
    }

    [Fact]
    public async Task Missing_audio_field_is_400()
    {
        using var form = GatewayApi.Form([], ("featureModel", "hubert-base"));
        using var response = await _client.PostAsync("/api/jobs/talking-face", form);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("required", FieldErrors(problem, "audio"));
    }

    [Fact]
    public async Task Audio_under_another_field_name_is_400_for_the_missing_audio_field()
    {
        using var form = GatewayApi.Form([("file", "speech.wav", Clip())]);
        using var response = await _client.PostAsync("/api/jobs/talking-face", form);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("required", FieldErrors(problem, "audio"));
    }

    // ---- talking-face submit: the options ----

    [Fact]
    public async Task Features_a_motion_model_cannot_read_are_refused_at_submit_saying_which_fit()
    {
        using var form = GatewayApi.Form([("audio", "speech.wav", Clip())], ("featureModel", "fast-hubert"), ("motionModel", "geneface-a2m"));
        using var response = await _client.PostAsync("/api/jobs/talking-face", form);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = FieldErrors(problem, "motionModel");
        Assert.Contains("does not take 'fast-hubert'", errors);
        Assert.Contains("geneface-a2m-fast takes fast-hubert", errors);
    }

    [Fact]
    public async Task Features_no_motion_model_reads_are_refused_at_submit()
    {
        using var form = GatewayApi.Form([("audio", "speech.wav", Clip())], ("featureModel", "hubert-base"));
        using var response = await _client.PostAsync("/api/jobs/talking-face", form);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("no audio-to-motion model takes 'hubert-base'", FieldErrors(problem, "featureModel"));
    }

    [Theory]
    [InlineData("featureModel", "banana", "hubert-large")]
    [InlineData("priority", "99", "0 to 9")]
    [InlineData("temperature", "abc", "not a number")]
    [InlineData("deviceClass", "gpu9", "cpu")]
    [InlineData("seed", "-1", "whole number")]
    [InlineData("temperature", "NaN", "not a number")]
    [InlineData("motionModel", "banana", "not an audio-to-motion model")]
    public async Task Malformed_option_is_400_naming_the_field(string field, string value, string hint)
    {
        var before = await _client.CountJobsAsync();
        using var response = await _client.SubmitTalkingFaceAsync(Clip(), "speech.wav", null, (field, value));
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = FieldErrors(problem, field);
        Assert.Contains(value, errors);
        Assert.Contains(hint, errors);
        Assert.Equal(before, await _client.CountJobsAsync());
    }

    // ---- idempotency ----

    [Fact]
    public async Task Same_key_same_request_returns_the_first_job_and_creates_no_second()
    {
        var key = "same-" + Guid.NewGuid().ToString("N");
        var audio = Clip(2400);
        var before = await _client.CountJobsAsync();

        using var first = await _client.SubmitTalkingFaceAsync(audio, "speech.wav", key, ("seed", "7"));
        var created = await first.ReadJobAsync(HttpStatusCode.Accepted);
        using var again = await _client.SubmitTalkingFaceAsync(audio, "speech.wav", key, ("seed", "7"));
        var repeated = await again.ReadJobAsync(HttpStatusCode.OK);

        Assert.Equal(created.Id, repeated.Id);
        Assert.Equal(before + 1, await _client.CountJobsAsync());
        await _client.WaitUntilFinishedAsync(created.Id);
    }

    [Fact]
    public async Task Same_key_different_audio_is_422()
    {
        var key = "differs-" + Guid.NewGuid().ToString("N");
        using var first = await _client.SubmitTalkingFaceAsync(Clip(1600), "speech.wav", key);
        var created = await first.ReadJobAsync(HttpStatusCode.Accepted);
        var before = await _client.CountJobsAsync();

        using var other = await _client.SubmitTalkingFaceAsync(Clip(1600, level: 2000), "speech.wav", key);
        var problem = await AssertProblemAsync(other, HttpStatusCode.UnprocessableEntity);
        Assert.Contains(key, Detail(problem));
        Assert.Equal(before, await _client.CountJobsAsync());
        await _client.WaitUntilFinishedAsync(created.Id);
    }

    // ---- upload size ----

    [Fact]
    public async Task Upload_over_the_limit_is_413()
    {
        await using var small = new SmallUploadGatewayFactory();
        using var client = small.CreateClient();
        var big = Clip(100_000); // 200 KB of samples against a 64 KiB limit

        using var response = await client.SubmitTalkingFaceAsync(big, "big.wav");

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var detail = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString();
        Assert.Contains("limit of 64 KiB (Gateway:MaxUploadBytes)", detail);
        await client.AssertStillAnswersAsync();
        Assert.Equal(0, await client.CountJobsAsync());

        // A small clip still goes through on the same gateway.
        using var fits = await client.SubmitTalkingFaceAsync(Clip(1600), "small.wav");
        Assert.Equal(HttpStatusCode.Accepted, fits.StatusCode);
        await client.WaitUntilFinishedAsync((await fits.ReadJobAsync(HttpStatusCode.Accepted)).Id);
    }

    [Fact]
    public async Task Chunked_upload_over_the_limit_is_413()
    {
        await using var small = new SmallUploadGatewayFactory();
        using var client = small.CreateClient();
        using var form = new MultipartFormDataContent();
        // No Content-Length: the limit has to be enforced while the body is read.
        var audio = new StreamContent(new NonSeekableStream(new MemoryStream(Clip(100_000))));
        audio.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
        form.Add(audio, "audio", "big.wav");

        using var response = await client.PostAsync("/api/jobs/talking-face", form);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("64 KiB", JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString());
        await client.AssertStillAnswersAsync();
        Assert.Equal(0, await client.CountJobsAsync());
    }

    // ---- hair submit ----

    [Fact]
    public async Task Hair_with_a_gorilla_png_as_face_is_accepted_as_an_image()
    {
        using var form = GatewayApi.Form(
            [
                ("face", "gorilla.png", await File.ReadAllBytesAsync(TestPaths.TestData("faces", "no-human-face-rgba.png"))),
                ("color", "one-face-a.jpg", await File.ReadAllBytesAsync(TestPaths.TestData("faces", "one-face-a.jpg"))),
            ],
            ("mode", "color"));
        using var response = await _client.PostAsync("/api/jobs/hair", form);
        var job = await response.ReadJobAsync(HttpStatusCode.Accepted);
        Assert.Contains(job.Artifacts, a => a.Name == ArtifactNames.InputFace && a.ContentType == "image/png");

        // Whether it is a human face is the worker's question: the embedded default detector (OpenCV's cascades) finds none.
        var finished = await _client.WaitUntilFinishedAsync(job.Id);
        Assert.Equal("failed", finished.State);
        Assert.Contains("no face found in the photo", finished.Reason);
        Assert.Contains("haar-cascade", finished.Reason);
    }

    [Fact]
    public async Task Hair_with_a_wav_as_face_is_400()
    {
        using var form = GatewayApi.Form(
            [("face", "face.jpg", Clip()), ("shape", "one-face-a.jpg", await File.ReadAllBytesAsync(TestPaths.TestData("faces", "one-face-a.jpg")))],
            ("mode", "shape"));
        using var response = await _client.PostAsync("/api/jobs/hair", form);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("WAV audio", FieldErrors(problem, "face"));
    }

    [Fact]
    public async Task Hair_mode_both_without_references_is_400_for_shape_and_color()
    {
        using var form = GatewayApi.Form(
            [("face", "one-face-a.jpg", await File.ReadAllBytesAsync(TestPaths.TestData("faces", "one-face-a.jpg")))],
            ("mode", "both"));
        using var response = await _client.PostAsync("/api/jobs/hair", form);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("shape reference", FieldErrors(problem, "shape"));
        Assert.Contains("color reference", FieldErrors(problem, "color"));
    }

    [Fact]
    public async Task Hair_unknown_gallery_id_is_400_naming_it()
    {
        using var form = GatewayApi.Form(
            [("face", "one-face-a.jpg", await File.ReadAllBytesAsync(TestPaths.TestData("faces", "one-face-a.jpg")))],
            ("mode", "shape"), ("shapeId", "bob-cut"));
        using var response = await _client.PostAsync("/api/jobs/hair", form);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("bob-cut", FieldErrors(problem, "shapeId"));
    }

    // ---- batches ----

    [Fact]
    public async Task Batch_key_reused_for_different_audio_of_the_same_names_and_sizes_is_422()
    {
        var key = "batch-" + Guid.NewGuid().ToString("N");
        using var created = await PostBatchAsync(key, ("a.wav", Clip(1600, level: 1000)), ("b.wav", Clip(800)));
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var before = await _client.CountJobsAsync();
        using var retried = await PostBatchAsync(key, ("a.wav", Clip(1600, level: 1000)), ("b.wav", Clip(800)));
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode); // the same batch again: answered, nothing added
        Assert.Equal(before, await _client.CountJobsAsync());

        // Same file names and sizes, different sound: a different request.
        using var reused = await PostBatchAsync(key, ("a.wav", Clip(1600, level: 3000)), ("b.wav", Clip(800)));

        var problem = await AssertProblemAsync(reused, HttpStatusCode.UnprocessableEntity);
        Assert.Contains(key, Detail(problem));
        Assert.Equal(before, await _client.CountJobsAsync());
    }

    private async Task<HttpResponseMessage> PostBatchAsync(string key, params (string Name, byte[] Bytes)[] files)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/batches")
        {
            Content = GatewayApi.Form(files.Select(f => ("files", f.Name, f.Bytes))),
        };
        request.Headers.Add("Idempotency-Key", key);
        return await _client.SendAsync(request);
    }

    [Fact]
    public async Task Batch_with_one_broken_file_is_400_and_creates_nothing()
    {
        var before = await _client.CountJobsAsync();
        using var form = GatewayApi.Form([("files", "good.wav", Clip()), ("files", "nothing.wav", new WavBuilder { Data = [] }.Build())]);
        using var response = await _client.PostAsync("/api/batches", form);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("nothing.wav", Detail(problem));
        Assert.Equal(before, await _client.CountJobsAsync());
    }

    [Theory]
    [InlineData("/api/jobs?batchId=not-a-guid")]
    [InlineData("/api/jobs?page=abc")]
    public async Task Unparsable_query_parameter_is_400(string url)
    {
        using var response = await _client.GetAsync(url);
        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    // ---- reading and cancelling ----

    [Fact]
    public async Task Unknown_job_is_404_for_get_cancel_and_artifacts()
    {
        var id = Guid.NewGuid();
        using (var get = await _client.GetAsync($"/api/jobs/{id}"))
            Assert.Contains(id.ToString(), Detail(await AssertProblemAsync(get, HttpStatusCode.NotFound)));
        using (var cancel = await _client.PostAsync($"/api/jobs/{id}/cancel", null))
            Assert.Contains(id.ToString(), Detail(await AssertProblemAsync(cancel, HttpStatusCode.NotFound)));
        using (var artifact = await _client.GetAsync($"/api/jobs/{id}/artifacts/{ArtifactNames.Audio16k}"))
            await AssertProblemAsync(artifact, HttpStatusCode.NotFound);
        using (var batch = await _client.GetAsync($"/api/batches/{id}"))
            await AssertProblemAsync(batch, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Unknown_artifact_of_a_real_job_is_404()
    {
        var job = await _client.SubmitAcceptedAsync(Clip());
        using var response = await _client.GetAsync($"/api/jobs/{job.Id}/artifacts/no-such-thing.npy");
        var problem = await AssertProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("no-such-thing.npy", Detail(problem));
        await _client.WaitUntilFinishedAsync(job.Id);
    }

    [Theory]
    [InlineData("state=bogus", "state")]
    [InlineData("pageSize=1000", "pageSize")]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("page=0", "page")]
    [InlineData("kind=video", "kind")]
    [InlineData("state=1", "state")]
    public async Task Bad_list_filter_is_400_naming_the_parameter(string query, string field)
    {
        using var response = await _client.GetAsync($"/api/jobs?{query}");
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        FieldErrors(problem, field);
    }

    [Fact]
    public async Task Cancelling_a_finished_job_is_409()
    {
        var job = await _client.SubmitAcceptedAsync(Clip());
        var finished = await _client.WaitUntilFinishedAsync(job.Id);
        Assert.Equal("failed", finished.State);

        using var response = await _client.PostAsync($"/api/jobs/{job.Id}/cancel", null);
        var problem = await AssertProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Contains("failed", Detail(problem));
        Assert.Equal("failed", (await _client.GetJobAsync(job.Id)).State); // unchanged
    }

    // ---- accepted, but not processable: a failed job with a reason ----

    [Fact]
    public async Task Wav_whose_data_is_cut_short_is_converted_as_far_as_it_goes()
    {
        // The header declares 16000 frames; only 1000 are there, as when a recorder is cut off.
        var full = Clip(1000);
        var cut = new WavBuilder { Data = full[44..], DeclaredDataSize = 32000 }.Build();
        var job = await _client.SubmitAcceptedAsync(cut, "cut-off.wav");

        var finished = await _client.WaitUntilFinishedAsync(job.Id);

        Assert.Equal("failed", finished.State);
        Assert.Contains("not configured", finished.Reason); // the audio was fine to convert; the missing model stopped it
        var converted = Assert.Single(finished.Artifacts, a => a.Name == ArtifactNames.Audio16k);
        using var download = await _client.GetAsync(converted.Url);
        var wav = ParsedWav.Parse(await download.Content.ReadAsByteArrayAsync());
        Assert.Equal((1, 16000, 1000L), (wav.Channels, wav.SampleRate, wav.FrameCount));
    }

    [Fact]
    public async Task Audio_the_worker_cannot_decode_fails_the_job_with_a_reason()
    {
        // Starts like Ogg, so it passes the submit check (only WAV is decoded at submit), but is not an Ogg stream.
        var fakeOgg = Encoding.ASCII.GetBytes("OggS" + new string('x', 4000));
        using var response = await _client.SubmitTalkingFaceAsync(fakeOgg, "speech.ogg");
        var job = await response.ReadJobAsync(HttpStatusCode.Accepted);

        var finished = await _client.WaitUntilFinishedAsync(job.Id);

        Assert.Equal("failed", finished.State);
        Assert.Contains("cannot be decoded", finished.Reason);
        var audio = Assert.Single(finished.Stages, s => s.Name == Stages.Audio);
        Assert.Equal(("failed", 1), (audio.State, audio.Attempt)); // a broken file is not retried
        Assert.DoesNotContain(finished.Artifacts, a => a.Name == ArtifactNames.Audio16k);
        await _client.AssertStillAnswersAsync();
    }
}
