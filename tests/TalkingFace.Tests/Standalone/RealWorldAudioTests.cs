using TalkingFace.Contracts;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Standalone;

/// <summary>The standalone gateway with the shipped demo models and no preview (these tests are about the audio).</summary>
public sealed class DemoModelsNoPreviewGatewayFactory() : StandaloneGatewayFactory(new Dictionary<string, string?>
{
    ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
    ["Inference:OptimizedModelCache"] = "",
    ["Motion:Preview:Enabled"] = "false",
});

/// <summary>
/// Audio files as real tools make them, through the whole standalone job (submit check, audio and motion stages):
/// telephony G.711 WAVs, an odd-sized chunk before the data, a WAV cut short, an MP3 that ffmpeg cannot read.
/// </summary>
public sealed class RealWorldAudioTests(DemoModelsNoPreviewGatewayFactory gateway) : IClassFixture<DemoModelsNoPreviewGatewayFactory>, IDisposable
{
    private readonly HttpClient _client = gateway.CreateClient();
    private readonly string _folder = Directory.CreateTempSubdirectory("talkingface-realaudio-").FullName;

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private static string Hello => Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav");

    private string PathOf(string name) => Path.Combine(_folder, name);

    private async Task<JobView> RunAsync(string path, string name)
    {
        var submitted = await _client.SubmitAcceptedAsync(await File.ReadAllBytesAsync(path), name);
        return await _client.WaitUntilFinishedAsync(submitted.Id);
    }

    private static void AssertSucceeded(JobView job)
    {
        Assert.True(job.State == "succeeded", $"job {job.State}: {job.Reason}");
        Assert.All(job.Stages, s => Assert.Equal("succeeded", s.State));
    }

    [Theory]
    [InlineData("sox", "mu-law")]
    [InlineData("ffmpeg", "pcm_alaw")]
    public async Task A_telephony_g711_wav_makes_a_succeeded_job(string tool, string encoding)
    {
        var wav = PathOf("call.wav");
        if (tool == "sox") RealToolWavTests.Tool("sox", Hello, "-r", "8000", "-e", encoding, wav);
        else RealToolWavTests.Tool("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", Hello, "-ar", "8000", "-c:a", encoding, wav);

        var job = await RunAsync(wav, "call.wav");

        AssertSucceeded(job);
        Assert.Empty(job.Warnings);
        var frames = RealToolWavTests.ChunkSizes(await File.ReadAllBytesAsync(wav))["data"]; // one byte per 8 kHz frame
        var audio = ParsedWav.Parse(await (await _client.GetAsync($"/api/jobs/{job.Id}/artifacts/{ArtifactNames.Audio16k}")).Content.ReadAsByteArrayAsync());
        Assert.Equal(2 * frames, audio.FrameCount);
    }

    [Fact]
    public async Task A_wav_with_an_odd_sized_chunk_before_its_data_makes_a_succeeded_job()
    {
        var wav = PathOf("broadcast.wav");
        RealToolWavTests.Tool("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", Hello, "-c:a", "pcm_s16le", "-write_bext", "1",
            "-metadata", "coding_history=ab", "-metadata", "title=odd", wav);
        Assert.True(RealToolWavTests.ChunkSizes(await File.ReadAllBytesAsync(wav))["bext"] % 2 == 1, "ffmpeg wrote an even bext chunk");

        var job = await RunAsync(wav, "broadcast.wav");

        AssertSucceeded(job);
        Assert.Empty(job.Warnings);
    }

    [Fact]
    public async Task A_wav_cut_short_succeeds_with_a_warning_that_names_the_file()
    {
        var wav = PathOf("whole.wav");
        var cut = PathOf("cut.wav");
        RealToolWavTests.Tool("sox", Hello, "-e", "signed-integer", "-b", "16", "-c", "1", wav);
        var whole = await File.ReadAllBytesAsync(wav);
        var dataStart = RealToolWavTests.ChunkOffset(whole, "data") + 8;
        var kept = dataStart + (whole.Length - dataStart) / 4 * 2; // half the samples, whole frames only
        RealToolWavTests.Tool("sh", "-c", $"head -c {kept} '{wav}' > '{cut}'");

        var job = await RunAsync(cut, "interview.wav");

        AssertSucceeded(job);
        var warning = Assert.Single(job.Warnings);
        Assert.StartsWith("audio: 'interview.wav': the WAV file is truncated: the data chunk declares", warning);
        Assert.Equal([warning["audio: ".Length..]], Assert.Single(job.Stages, s => s.Name == Stages.Audio).Warnings);
        Assert.Empty(Assert.Single(job.Stages, s => s.Name == Stages.Motion).Warnings);
    }

    [Fact]
    public async Task An_mp3_that_ffmpeg_cannot_read_fails_naming_the_users_file_and_never_a_server_path()
    {
        var mp3 = PathOf("song.mp3");
        RealToolWavTests.Tool("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", Hello, "-c:a", "libmp3lame", "-metadata", "title=hello", mp3);
        // Keep ffmpeg's ID3 tag (so the file is still recognised as MP3) and zero every audio frame after it.
        var bytes = await File.ReadAllBytesAsync(mp3);
        Assert.True(bytes.AsSpan().StartsWith("ID3"u8), "ffmpeg wrote no ID3 tag");
        var tagEnd = 10 + (bytes[6] << 21 | bytes[7] << 14 | bytes[8] << 7 | bytes[9]);
        Array.Clear(bytes, tagEnd, bytes.Length - tagEnd);
        await File.WriteAllBytesAsync(mp3, bytes);

        var job = await RunAsync(mp3, "song.mp3");

        Assert.Equal("failed", job.State);
        Assert.StartsWith("audio stage failed: 'song.mp3' cannot be decoded: it starts like MP3 audio, but ffmpeg could not read it", job.Reason);
        Assert.DoesNotContain(Path.GetTempPath(), job.Reason);
        Assert.DoesNotContain("talkingface-audio", job.Reason);
        Assert.Matches(@"\(ffmpeg: [^/]+\)$", job.Reason); // ffmpeg's own words stay ("Invalid data found..."), without the path before them
    }
}
