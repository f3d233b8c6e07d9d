using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Minio.DataModel.Args;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Faults;

/// <summary>
/// An audio worker PROCESS (the real <c>TalkingFace.Workers.Audio.dll</c>, configured by environment) is killed with
/// SIGKILL in the middle of its stage, trial after trial: the worker had acknowledged the command when the run started, so
/// the gateway's sweeper sees the stage's reports stop and sends attempt 2 to the fresh worker process; every job still succeeds with exactly one record per stage and artifact and the stored object of each artifact is the one recorded.
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
        var wall = Stopwatch.StartNew();
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
            ["Inference:OptimizedModelCache"] = "",
            ["Motion:Preview:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            // The worker acknowledges its command when the run starts, so a killed run is recovered by the gateway's
            // sweeper once the stage's progress reports stop (Pipeline:HeartbeatTimeout, 60 s by default). Workers here
            // report every 0.5 s (Worker:ProgressInterval), so 10 s of silence is a dead worker; the retry is sent at once.
            ["Pipeline:HeartbeatTimeout"] = "00:00:10",
            ["Pipeline:RetryBackoff:0"] = "00:00:00.200",
        });
        var client = pipeline.Gateway();
        await pipeline.StartMotionWorkerAsync("kill-motion-worker");
        var clip = Path.Combine(Path.GetTempPath(), $"tf-kill-{Guid.NewGuid():N}.wav");
        await File.WriteAllBytesAsync(clip, LongClip(TimeSpan.FromMinutes(2)));

        // One trial at a time: submit, wait until the worker process is inside the audio stage, SIGKILL it, start a
        // fresh worker process and wait for the job to end. Each job's outcome is its own (no backlog of earlier trials).
        var results = new List<Trial>();
        var worker = await StartWorkerAsync(pipeline, "kill-audio-0");
        try
        {
            for (var trial = 1; trial <= trials; trial++)
            {
                var job = await DistributedPipeline.SubmitTalkingFaceAsync(client, clip);
                var victim = worker;
                var running = await PollAsync(client, job.Id,
                    j => j.Stages.Single(s => s.Name == Stages.Audio).State is "running" or "succeeded" or "failed", TimeSpan.FromMinutes(2));
                DateTimeOffset? killedAt = null;
                if (running.Stages.Single(s => s.Name == Stages.Audio).State == "running")
                {
                    victim.Process.Kill(); // SIGKILL: no shutdown, no last report
                    await victim.Process.WaitForExitAsync();
                    killedAt = DateTimeOffset.UtcNow;
                }
                worker = await StartWorkerAsync(pipeline, $"kill-audio-{trial}");
                victim.Dispose();
                var end = await PollAsync(client, job.Id, DistributedPipeline.IsTerminal, TimeSpan.FromMinutes(3));
                results.Add(new Trial(job.Id, killedAt, end.State, end.Reason));
            }
        }
        finally
        {
            worker.Process.Kill();
            worker.Dispose();
            File.Delete(clip);
        }

        // What the database and the store hold for each job.
        var problems = new List<string>();
        int duplicateArtifacts = 0, duplicateStages = 0, miscountedAttempts = 0, strayObjects = 0;
        await using (var db = pipeline.Db())
        {
            using var store = pipeline.Store();
            foreach (var trial in results)
            {
                var record = await db.Jobs.AsNoTracking().Include(j => j.Stages).Include(j => j.Artifacts).SingleAsync(j => j.Id == trial.JobId);
                // One stage record per stage: audio and motion, never a second record for a re-run.
                var stageRecords = record.Stages.GroupBy(s => s.Name).ToList();
                if (record.Stages.Count != 2 || stageRecords.Count != 2 || !stageRecords.Select(g => g.Key).Order().SequenceEqual(new[] { Stages.Audio, Stages.Motion }.Order()))
                {
                    duplicateStages += Math.Max(1, record.Stages.Count - stageRecords.Count);
                    problems.Add($"job {trial.JobId}: stage records {string.Join(",", record.Stages.Select(s => s.Name))}");
                }
                // Attempts counted honestly: the audio stage is on attempt 2 exactly when its first run was killed before it
                // finished (a kill that came after the run had finished costs nothing); the motion stage ran once.
                var audio = record.Stages.Single(s => s.Name == Stages.Audio);
                var motion = record.Stages.Single(s => s.Name == Stages.Motion);
                var expectedAudio = trial.KilledAt is { } k && (audio.Attempt > 1 || audio.FinishedAt is not { } f || f > k) ? 2 : 1;
                if (trial.State == "succeeded" && (audio.Attempt != expectedAudio || motion.Attempt != 1))
                {
                    miscountedAttempts++;
                    problems.Add($"job {trial.JobId}: audio attempt {audio.Attempt} (expected {expectedAudio}), motion attempt {motion.Attempt}");
                }
                // One artifact record per stage and name, and every object under the job's prefix is a recorded artifact.
                var dup = record.Artifacts.GroupBy(a => (a.Stage, a.Name)).Sum(g => g.Count() - 1)
                          + (record.Artifacts.Count - record.Artifacts.Select(a => a.Key).Distinct().Count());
                if (dup > 0)
                {
                    duplicateArtifacts += dup;
                    problems.Add($"job {trial.JobId}: {dup} duplicate artifact records");
                }
                var objects = new List<string>();
                await foreach (var item in store.ListObjectsEnumAsync(new ListObjectsArgs().WithBucket(pipeline.Bucket).WithPrefix($"jobs/{trial.JobId:N}/").WithRecursive(true)))
                    objects.Add(item.Key);
                var stray = objects.Except(record.Artifacts.Select(a => a.Key)).ToList();
                if (stray.Count > 0)
                {
                    strayObjects += stray.Count;
                    problems.Add($"job {trial.JobId}: objects with no artifact record: {string.Join(", ", stray)}");
                }
                foreach (var artifact in record.Artifacts)
                {
                    // Keys are fixed per job, stage and name, so a re-run overwrites instead of adding objects.
                    var stat = await store.StatObjectAsync(new StatObjectArgs().WithBucket(pipeline.Bucket).WithObject(artifact.Key));
                    if (stat.Size != artifact.Size) problems.Add($"job {trial.JobId}: {artifact.Key} is {stat.Size} bytes, recorded {artifact.Size}");
                }
            }
        }
        wall.Stop();

        var killed = results.Count(r => r.KilledAt is not null);
        var succeeded = results.Count(r => r.State == "succeeded");
        var stuck = results.Count(r => !(r.State is "succeeded" or "failed" or "cancelled"));
        var failed = results.Count - succeeded - stuck;
        FaultSummary.Write("worker-kill: SIGKILL an audio worker process mid-stage",
        [
            ("trials (jobs)", results.Count.ToString(CultureInfo.InvariantCulture)),
            ("worker killed mid-stage", killed.ToString(CultureInfo.InvariantCulture)),
            ("succeeded", succeeded.ToString(CultureInfo.InvariantCulture)),
            ("failed", failed.ToString(CultureInfo.InvariantCulture)),
            ("lost or stuck (not finished within 3 min)", stuck.ToString(CultureInfo.InvariantCulture)),
            ("duplicate artifact records", duplicateArtifacts.ToString(CultureInfo.InvariantCulture)),
            ("stored objects without a record", strayObjects.ToString(CultureInfo.InvariantCulture)),
            ("double-counted stage records", duplicateStages.ToString(CultureInfo.InvariantCulture)),
            ("miscounted attempts", miscountedAttempts.ToString(CultureInfo.InvariantCulture)),
            ("wall time", $"{wall.Elapsed.TotalSeconds:0} s"),
        ]);

        Assert.True(results.Count == trials, $"{results.Count} of {trials} trials ran");
        Assert.True(succeeded == trials, $"{succeeded} of {trials} jobs succeeded:\n" +
            string.Join("\n", results.Where(r => r.State != "succeeded").Select(r => $"{r.JobId}: {r.State} {r.Reason}")));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(killed >= Math.Max(1, trials / 2), $"only {killed} of {trials} trials caught the worker mid-stage");
    }

    private sealed record Trial(Guid JobId, DateTimeOffset? KilledAt, string State, string? Reason);

    /// <summary>Polls the job until <paramref name="done"/> holds or <paramref name="limit"/> passes; returns the last view either way.</summary>
    private static async Task<JobView> PollAsync(HttpClient client, Guid id, Func<JobView, bool> done, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var job = (await client.GetFromJsonAsync<JobView>($"/api/jobs/{id}", DistributedPipeline.Json))!;
            if (done(job) || DateTime.UtcNow > deadline) return job;
            await Task.Delay(150);
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
