using TalkingFace.Contracts;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Faults;

/// <summary>
/// The S3 server (a private s3rver) is killed for 10 s while an audio stage runs: the stage waits the store out and runs
/// again, and the job succeeds (PostgreSQL and RabbitMQ are the shared ones).
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class StoreOutageTests(DistributedServices services)
{
    [Fact]
    public async Task Ten_seconds_without_s3_mid_stage_the_stage_retries_and_the_job_completes()
    {
        await using var s3 = new PrivateS3();
        await s3.StartAsync();
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Storage:S3:Endpoint"] = s3.Endpoint,
            ["Storage:S3:AccessKey"] = "S3RVER",
            ["Storage:S3:SecretKey"] = "S3RVER",
            ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
            ["Inference:OptimizedModelCache"] = "",
            ["Motion:Preview:Enabled"] = "false",
        });
        var client = pipeline.Gateway();
        await pipeline.StartAudioWorkerAsync("store-outage-audio");
        await pipeline.StartMotionWorkerAsync("store-outage-motion");
        var clip = Path.Combine(Path.GetTempPath(), $"tf-s3-{Guid.NewGuid():N}.wav");
        var samples = new short[16000 * 120];
        for (var i = 0; i < samples.Length; i++) samples[i] = (short)(5000 * Math.Sin(2 * Math.PI * (150 + 50 * Math.Sin(i / 16000.0)) * i / 16000.0));
        await File.WriteAllBytesAsync(clip, new WavBuilder { Data = WavBuilder.Pcm16(samples) }.Build());
        try
        {
            var submitted = await DistributedPipeline.SubmitTalkingFaceAsync(client, clip);
            await DistributedPipeline.WaitForAsync(client, submitted.Id, j => j.Stages.Single(s => s.Name == Stages.Audio).State != "queued");
            await s3.KillAsync();
            var restarted = DateTimeOffset.UtcNow.AddSeconds(10);
            await Task.Delay(TimeSpan.FromSeconds(10));
            await s3.StartAsync();

            var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal, TimeSpan.FromMinutes(3));
            Assert.True(job.State == "succeeded", $"{job.State}: {job.Reason}");
            Assert.Contains(job.Artifacts, a => a.Name == ArtifactNames.Features);
            var audio = job.Stages.Single(s => s.Name == Stages.Audio);
            Assert.True(audio.FinishedAt >= restarted, $"the audio stage finished at {audio.FinishedAt:O}, before the store came back at {restarted:O}: it was not caught mid-stage");
            Assert.Contains(job.Artifacts, a => a.Name == "landmarks.npy");
        }
        finally
        {
            File.Delete(clip);
        }
    }
}
