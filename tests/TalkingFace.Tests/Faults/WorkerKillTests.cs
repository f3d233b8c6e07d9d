using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Minio.DataModel.Args;
using TalkingFace.Contracts;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Faults;

/// <summary>
/// An audio worker PROCESS (the real <c>TalkingFace.Workers.Audio.dll</c>, configured by environment) is killed with
/// SIGKILL in the middle of its stage, trial after trial: RabbitMQ hands the unacknowledged command to the next worker
/// process, and every job still succeeds with exactly one record per stage and artifact and the stored object of each artifact is the one recorded.
/// Trials: <c>FAULT_TRIALS</c> (default 2 in the test suite; <c>scripts/faults/worker-kill</c> runs 20).
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class WorkerKillTests(DistributedServices services)
{
    private static readonly string WorkerDll = Path.Combine(TestPaths.RepoRoot, "src", "Workers.Audio", "bin",
#if DEBUG
        "Debug",
#else
        "Release",
#endif
        "net10.0", "linux-x64", "TalkingFace.Workers.Audio.dll");

    [Fact]
    public async Task A_worker_process_killed_mid_stage_loses_no_job_and_duplicates_nothing()
    {
        Assert.True(File.Exists(WorkerDll), $"build the audio worker first: {WorkerDll}");
        var trials = int.TryParse(Environment.GetEnvironmentVariable("FAULT_TRIALS"), CultureInfo.InvariantCulture, out var t) ? t : 2;
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
            ["Inference:OptimizedModelCache"] = "",
            ["Motion:Preview:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        var client = pipeline.Gateway();
        await pipeline.StartMotionWorkerAsync("kill-motion-worker");
        var clip = Path.Combine(Path.GetTempPath(), $"tf-kill-{Guid.NewGuid():N}.wav");
        await File.WriteAllBytesAsync(clip, LongClip(TimeSpan.FromMinutes(4)));

        var killed = 0;
        var jobs = new List<Guid>();
        var worker = await StartWorkerAsync(pipeline, "kill-audio-0");
        try
        {
            for (var trial = 1; trial <= trials; trial++)
            {
                var job = await DistributedPipeline.SubmitTalkingFaceAsync(client, clip);
                jobs.Add(job.Id);
                var victim = worker;
                // Wait until the victim is inside the stage (the gateway has its StageStarted), then SIGKILL it.
                var running = await DistributedPipeline.WaitForAsync(client, job.Id,
                    j => j.Stages.Single(s => s.Name == Stages.Audio).State is "running" or "succeeded" or "failed", TimeSpan.FromMinutes(2));
                if (running.Stages.Single(s => s.Name == Stages.Audio).State == "running")
                {
                    victim.Process.Kill(); // SIGKILL: no shutdown, no ack
                    await victim.Process.WaitForExitAsync();
                    killed++;
                }
                worker = await StartWorkerAsync(pipeline, $"kill-audio-{trial}");
                victim.Dispose();
            }

            foreach (var id in jobs)
            {
                var job = await DistributedPipeline.WaitForAsync(client, id, DistributedPipeline.IsTerminal, TimeSpan.FromMinutes(3));
                Assert.True(job.State == "succeeded", $"job {id}: {job.State} {job.Reason}");
                Assert.Equal(job.Artifacts.Count, job.Artifacts.Select(a => a.Name).Distinct().Count());
            }
        }
        finally
        {
            worker.Process.Kill();
            worker.Dispose();
            File.Delete(clip);
        }
        Assert.True(killed >= Math.Max(1, trials / 2), $"only {killed} of {trials} trials caught the worker mid-stage");

        // The database holds one record per stage and per artifact, and each recorded object is in the store at its recorded size.
        await using var db = pipeline.Db();
        using var store = pipeline.Store();
        foreach (var id in jobs)
        {
            var record = await db.Jobs.Include(j => j.Stages).Include(j => j.Artifacts).SingleAsync(j => j.Id == id);
            Assert.Equal(2, record.Stages.Count);
            Assert.All(record.Stages, s => Assert.True(s.Attempt <= 2, $"stage {s.Name} on attempt {s.Attempt}"));
            Assert.Equal(record.Artifacts.Count, record.Artifacts.Select(a => a.Key).Distinct().Count());
            foreach (var artifact in record.Artifacts)
            {
                // Keys are fixed per job, stage and name, so a redelivered stage overwrites instead of adding objects.
                var stat = await store.StatObjectAsync(new StatObjectArgs().WithBucket(pipeline.Bucket).WithObject(artifact.Key));
                Assert.Equal(artifact.Size, stat.Size);
            }
        }
    }

    private sealed record ChildWorker(Process Process, string Id) : IDisposable
    {
        public void Dispose() => Process.Dispose();
    }

    /// <summary>Starts the audio worker as its own process and waits until it is ready (models loaded, bus connected).</summary>
    private static async Task<ChildWorker> StartWorkerAsync(DistributedPipeline pipeline, string workerId)
    {
        var port = FaultTools.FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        start.ArgumentList.Add(WorkerDll);
        foreach (var (k, v) in pipeline.WorkerEnvironment(workerId)) start.Environment[k] = v;
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(process.HasExited, $"worker {workerId} exited with {(process.HasExited ? process.ExitCode : 0)}");
            try
            {
                using var ready = await http.GetAsync("/health/ready");
                if (ready.IsSuccessStatusCode) return new ChildWorker(process, workerId);
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(200);
        }
        process.Kill();
        throw new TimeoutException($"worker {workerId} never became ready");
    }

    /// <summary>Speech-like 16 kHz mono: a gliding tone with noise, long enough that the stage takes a few seconds.</summary>
    private static byte[] LongClip(TimeSpan length)
    {
        var n = (int)(length.TotalSeconds * 16000);
        var random = new Random(7);
        var samples = new short[n];
        for (var i = 0; i < n; i++)
        {
            var f = 120 + 60 * Math.Sin(i / 16000.0);
            samples[i] = (short)(6000 * Math.Sin(2 * Math.PI * f * i / 16000.0) + random.Next(-500, 500));
        }
        return new WavBuilder { Data = WavBuilder.Pcm16(samples) }.Build();
    }
}
