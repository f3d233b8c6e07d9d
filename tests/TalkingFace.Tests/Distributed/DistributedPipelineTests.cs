using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Minio.DataModel.Args;
using RabbitMQ.Client;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Tests.Distributed;

/// <summary>
/// The whole distributed path on real services: HTTP -> gateway -> PostgreSQL -> RabbitMQ -> an audio worker
/// in its own host -> S3 -> events back -> a terminal state that says why. Nothing is mocked.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class DistributedPipelineTests(DistributedServices services)
{
    [Fact]
    public async Task Talking_face_job_travels_through_rabbitmq_to_a_separate_audio_worker_and_stores_16k_audio_in_s3()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();
        await pipeline.StartAudioWorkerAsync("audio-worker-a");

        var submitted = await DistributedPipeline.SubmitTalkingFaceAsync(client, TestPaths.MacronSpeech);
        Assert.Equal("queued", submitted.State);
        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);

        // Honest end: conversion ran, features are not configured yet, motion never ran.
        Assert.Equal("failed", job.State);
        Assert.Contains("not configured", job.Reason);
        var audio = Assert.Single(job.Stages, s => s.Name == Stages.Audio);
        Assert.Equal("audio-worker-a", audio.WorkerId);
        Assert.Equal(DeviceClasses.Cpu, audio.DeviceClass);
        Assert.Contains(audio.Timings, t => t.Step == Steps.AudioConversion && t.Seconds > 0);
        Assert.NotNull(audio.QueueWaitSeconds);
        Assert.Equal("cancelled", Assert.Single(job.Stages, s => s.Name == Stages.Motion).State);

        // The artifact is in S3 under the job's key, with the size and hash the job records.
        var artifact = Assert.Single(job.Artifacts, a => a.Name == ArtifactNames.Audio16k);
        var key = ArtifactNames.Key(job.Id, Stages.Audio, ArtifactNames.Audio16k);
        var bytes = await pipeline.ReadObjectAsync(key);
        Assert.Equal(artifact.Size, bytes.Length);
        Assert.Equal(artifact.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));

        // ...and it is the 48 kHz stereo clip downmixed and resampled like torchaudio does it.
        var stored = await WavReader.ReadAsync(new MemoryStream(bytes));
        Assert.Equal(16000, stored.SampleRate);
        Assert.Equal(1, stored.ChannelCount);
        var reference = TorchaudioReference.Resample(TestPaths.MacronSpeech, 16000);
        Assert.Equal(reference.Length, stored.InterleavedSamples.Length);
        var snr = SignalMath.SnrDb(reference, stored.InterleavedSamples);
        Assert.True(snr >= 60, $"stored audio vs torchaudio reference: {snr:F1} dB SNR, expected >= 60 dB");

        // PostgreSQL holds the same story.
        await using var db = pipeline.Db();
        var record = await db.Jobs.Include(j => j.Stages).Include(j => j.Artifacts).SingleAsync(j => j.Id == job.Id);
        Assert.Equal(JobState.Failed, record.State);
        Assert.Equal(job.Reason, record.Reason);
        Assert.Contains(record.Artifacts, a => a.Key == key);
        Assert.Equal("audio-worker-a", record.Stages.Single(s => s.Name == Stages.Audio).WorkerId);
    }

    [Fact]
    public async Task With_the_demo_models_the_separate_audio_worker_stores_features_and_f0_in_s3()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
            ["Inference:OptimizedModelCache"] = "",
        });
        var client = pipeline.Gateway();
        await pipeline.StartAudioWorkerAsync("audio-worker-features");
        using var form = new MultipartFormDataContent();
        form.Add(new StreamContent(File.OpenRead(TestPaths.MacronSpeech)), "audio", "MacronSpeech.wav");
        form.Add(new StringContent("fast-hubert-int8"), "featureModel");
        using var response = await client.PostAsync("/api/jobs/talking-face", form);
        var submitted = (await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<TalkingFace.Gateway.Jobs.JobView>(response.Content, DistributedPipeline.Json))!;

        // No motion worker runs here: the job moves on to the motion queue and waits there.
        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, j => j.Stages.Single(s => s.Name == Stages.Motion).State == "queued" || DistributedPipeline.IsTerminal(j));
        var audio = Assert.Single(job.Stages, s => s.Name == Stages.Audio);
        Assert.True(audio.State == "succeeded", audio.Reason);
        Assert.Equal("audio-worker-features", audio.WorkerId);
        Assert.Equal("CPUExecutionProvider", audio.Provider);
        Assert.StartsWith("fast-hubert-int8@", audio.Model);
        Assert.Equal("running", job.State);

        var features = TalkingFace.Media.Npy.Read(new MemoryStream(await pipeline.ReadObjectAsync(ArtifactNames.Key(job.Id, Stages.Audio, ArtifactNames.Features))));
        var f0 = TalkingFace.Media.Npy.Read(new MemoryStream(await pipeline.ReadObjectAsync(ArtifactNames.Key(job.Id, Stages.Audio, ArtifactNames.F0))));
        Assert.Equal(768, features.Shape[1]);
        Assert.Equal((189_782 - 80) / 320, f0.Shape[0]);
    }

    [Theory]
    [InlineData("hubert-large")]
    [InlineData("fast-hubert-int8")]
    public async Task A_whole_talking_face_job_across_separate_audio_and_motion_workers_ends_in_a_playable_preview(string featureModel)
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
            ["Inference:OptimizedModelCache"] = "",
        });
        var client = pipeline.Gateway();
        await pipeline.StartAudioWorkerAsync("audio-worker-1");
        await pipeline.StartMotionWorkerAsync("motion-worker-1");
        using var form = new MultipartFormDataContent();
        form.Add(new StreamContent(File.OpenRead(TestPaths.MacronSpeech)), "audio", "MacronSpeech.wav");
        form.Add(new StringContent(featureModel), "featureModel");
        using var response = await client.PostAsync("/api/jobs/talking-face", form);
        var submitted = (await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<TalkingFace.Gateway.Jobs.JobView>(response.Content, DistributedPipeline.Json))!;

        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);
        Assert.True(job.State == "succeeded", job.Reason);
        var motion = Assert.Single(job.Stages, s => s.Name == Stages.Motion);
        Assert.Equal("motion-worker-1", motion.WorkerId);
        Assert.Contains(motion.Timings, t => t.Step == Steps.BatchPreparation);
        Assert.Contains(motion.Timings, t => t.Step == Steps.AudioToMotion);

        var exp = TalkingFace.Media.Npy.Read(new MemoryStream(await pipeline.ReadObjectAsync(ArtifactNames.Key(job.Id, Stages.Motion, "exp.npy"))));
        var landmarks = TalkingFace.Media.Npy.Read(new MemoryStream(await pipeline.ReadObjectAsync(ArtifactNames.Key(job.Id, Stages.Motion, "landmarks.npy"))));
        Assert.Equal(64, exp.Shape[1]);
        Assert.Equal([exp.Shape[0], 68, 3], landmarks.Shape);
        Assert.InRange(exp.Shape[0], 295, 300); // 12 s at 25 fps, every frame kept

        // The preview is in S3 and plays: H.264 video at 25 fps with AAC sound, as long as the clip.
        var preview = Path.Combine(Path.GetTempPath(), $"preview-{job.Id:N}.mp4");
        await File.WriteAllBytesAsync(preview, await pipeline.ReadObjectAsync(ArtifactNames.Key(job.Id, Stages.Motion, "preview.mp4")));
        try
        {
            var probe = ExternalTool.TryRun("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height,r_frame_rate:format=duration", "-of", "json", preview]);
            Assert.True(probe is not null, "ffprobe is missing: apt-get install ffmpeg");
            var (exitCode, output, errors) = probe.Value;
            Assert.True(exitCode == 0, errors);
            Assert.Contains("\"codec_name\": \"h264\"", output);
            Assert.Contains("\"codec_name\": \"aac\"", output);
            Assert.Contains("\"r_frame_rate\": \"25/1\"", output);
        }
        finally
        {
            File.Delete(preview);
        }
    }

    [Fact]
    public async Task A_worker_that_dies_before_acking_leaves_no_stuck_job()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();
        var submitted = await DistributedPipeline.SubmitTalkingFaceAsync(client, TestPaths.MacronSpeech);
        var queue = Stages.QueueName(Stages.Audio, DeviceClasses.Cpu);

        // A "worker" takes the command with manual acknowledgement and dies (its connection drops) before acking.
        var factory = pipeline.Broker();
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var delivery = await WaitForDeliveryAsync(channel, queue);
            Assert.False(delivery.Redelivered);
        }

        // The broker gives the command to the next worker, which runs it: same attempt, no gateway retry needed.
        await pipeline.StartAudioWorkerAsync("audio-worker-survivor");
        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);
        Assert.Equal("failed", job.State);
        Assert.Contains("not configured", job.Reason);
        var audio = Assert.Single(job.Stages, s => s.Name == Stages.Audio);
        Assert.Equal("audio-worker-survivor", audio.WorkerId);
        Assert.Equal(1, audio.Attempt);
        Assert.Contains(job.Artifacts, a => a.Name == ArtifactNames.Audio16k);
    }

    [Fact]
    public async Task A_consumer_that_keeps_throwing_ends_in_the_error_queue_and_a_failed_job_with_the_reason()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();
        var submitted = await DistributedPipeline.SubmitTalkingFaceAsync(client, TestPaths.MacronSpeech);

        // Remove the input behind the worker's back: every attempt to read it throws.
        var input = Assert.Single(submitted.Artifacts, a => a.Name == ArtifactNames.InputAudio);
        using (var store = pipeline.Store())
            await store.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(pipeline.Bucket).WithObject(ArtifactNames.Key(submitted.Id, "input", input.Name)));
        await pipeline.StartAudioWorkerAsync("audio-worker-b");

        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);
        Assert.Equal("failed", job.State);
        Assert.Contains("ArtifactNotFoundException", job.Reason);
        Assert.Contains("audio.cpu_error", job.Reason);

        await using var connection = await pipeline.Broker().CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var errors = await channel.QueueDeclarePassiveAsync("audio.cpu_error");
        Assert.Equal(1u, errors.MessageCount);
    }

    [Fact]
    public async Task A_stage_no_worker_takes_is_retried_then_failed_visibly_after_its_queue_deadline()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Pipeline:QueueDeadline"] = "00:00:01",
            ["Pipeline:MaxAttempts"] = "2",
            ["Pipeline:RetryBackoff:0"] = "00:00:00.100",
        });
        var client = pipeline.Gateway();
        var submitted = await DistributedPipeline.SubmitTalkingFaceAsync(client, TestPaths.MacronSpeech);

        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);
        Assert.Equal("failed", job.State);
        Assert.Contains("no worker took it from queue audio.cpu", job.Reason);
        Assert.Contains("after 2 attempts", job.Reason);
        Assert.Equal(2, Assert.Single(job.Stages, s => s.Name == Stages.Audio).Attempt);
    }

    [Fact]
    public async Task Several_gateway_replicas_starting_together_migrate_one_fresh_database_safely()
    {
        await using var first = await DistributedPipeline.CreateAsync(services);
        await using var second = first.AnotherReplica();
        var clients = await Task.WhenAll(Task.Run(first.Gateway), Task.Run(second.Gateway));
        foreach (var client in clients) await DistributedPipeline.WaitUntilReadyAsync(client);

        // A job accepted by one replica is visible and advanced by the other.
        await first.StartAudioWorkerAsync("audio-worker-c");
        var submitted = await DistributedPipeline.SubmitTalkingFaceAsync(clients[0], TestPaths.MacronSpeech);
        var job = await DistributedPipeline.WaitForAsync(clients[1], submitted.Id, DistributedPipeline.IsTerminal);
        Assert.Equal("failed", job.State);
        Assert.Contains("not configured", job.Reason);
    }

    private static async Task<BasicGetResult> WaitForDeliveryAsync(IChannel channel, string queue)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var result = await channel.BasicGetAsync(queue, autoAck: false);
                if (result is not null) return result;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                throw new InvalidOperationException($"queue {queue} does not exist: the gateway did not dispatch");
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"no command arrived on {queue}");
    }
}
