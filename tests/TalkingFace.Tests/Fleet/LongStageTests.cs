using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using TalkingFace.Contracts;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers;

namespace TalkingFace.Tests.Fleet;

/// <summary>
/// A stage may run longer than RabbitMQ's consumer_timeout: its command is acknowledged when the run starts, so no
/// unacknowledged message has to outlive the run; the gateway's stage record and the progress reports carry it.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class LongStageTests(DistributedServices services)
{
    /// <summary>An audio "stage" that runs until the test lets it finish.</summary>
    private sealed class HeldRunner(Gate gate) : IStageRunner<RunAudioStage>
    {
        public async Task<StageOutcome> RunAsync(RunAudioStage command, StageRun run, CancellationToken ct)
        {
            run.Report(0.5, "held");
            run.WorkUnits = 10;
            await gate.Release.Task.WaitAsync(ct);
            return new StageOutcome("CPUExecutionProvider", "held-model@1");
        }
    }

    private sealed class Gate
    {
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [Fact]
    public async Task A_running_stage_holds_no_unacknowledged_command_and_reports_progress_until_it_completes()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        var client = pipeline.Gateway();
        var gate = new Gate();
        await pipeline.StartAudioWorkerAsync("audio-held", null, new Dictionary<string, string?> { ["Worker:ProgressInterval"] = "00:00:00.200" }, builder =>
        {
            builder.Services.AddSingleton(gate);
            builder.Services.AddScoped<IStageRunner<RunAudioStage>, HeldRunner>();
        });

        var submitted = await DistributedPipeline.SubmitTalkingFaceAsync(client, TestPaths.MacronSpeech);
        var running = await DistributedPipeline.WaitForAsync(client, submitted.Id, j => j.Stages.Single(s => s.Name == Stages.Audio).CurrentStep == "held");
        Assert.Equal("running", running.Stages.Single(s => s.Name == Stages.Audio).State);

        // While the stage runs, its queue holds nothing: not ready, not unacknowledged (the management API's counts
        // lag by its statistics interval, so wait for them to settle), and the worker's consumer is still there.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement stats;
        do
        {
            stats = await pipeline.QueueStatsAsync("audio.cpu");
            // The management API leaves the message counts out until its statistics have first been collected.
            if (stats.TryGetProperty("messages_unacknowledged", out var unacked) && unacked.GetInt32() == 0
                && stats.TryGetProperty("messages_ready", out var ready) && ready.GetInt32() == 0
                && stats.TryGetProperty("consumers", out var consumers) && consumers.GetInt32() == 1) break;
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Equal(0, stats.GetProperty("messages_unacknowledged").GetInt32());
        Assert.Equal(0, stats.GetProperty("messages_ready").GetInt32());
        Assert.Equal(9, stats.GetProperty("arguments").GetProperty("x-max-priority").GetInt32());

        // The progress reports (the step and fraction above came from them) keep the stage alive; then it completes normally.
        var before = running.Stages.Single(s => s.Name == Stages.Audio);
        Assert.Equal(0.5, before.Progress);
        gate.Release.SetResult();
        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, j => j.Stages.Single(s => s.Name == Stages.Audio).State == "succeeded");
        var audio = job.Stages.Single(s => s.Name == Stages.Audio);
        Assert.Equal("audio-held", audio.WorkerId);
        Assert.Equal(1, audio.Attempt);
        Assert.Equal("held-model@1", audio.Model);
        Assert.Equal(before.StartedAt, audio.StartedAt);
    }
}
