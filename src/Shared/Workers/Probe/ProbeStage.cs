using MassTransit;
using Microsoft.Extensions.Configuration;
using TalkingFace.Contracts;

namespace TalkingFace.Workers.Probe;

/// <summary>
/// The pipeline probe's stage: does nothing and reports success. Every worker process serves it on
/// <c>probe.{deviceClass}</c> (unless <c>Worker:ServeProbe</c> is false), sharing the worker's run slots, so a probe job
/// proves that a deployment takes, schedules, runs and records a job end to end, and bench/load measures the
/// pipeline's own cost with it.
/// </summary>
public sealed class ProbeStageRunner : IStageRunner<RunProbeStage>
{
    public Task<StageOutcome> RunAsync(RunProbeStage command, StageRun run, CancellationToken ct)
    {
        run.WorkUnits = 1;
        run.Report(1);
        return Task.FromResult(new StageOutcome("none", null));
    }
}

public static class ProbeStage
{
    public static bool IsServed(IConfiguration configuration) =>
        configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>()?.ServeProbe ?? true;

    /// <summary>Adds the probe's consumer on <c>probe.{deviceClass}</c>; its runner is registered by <c>AddWorkerDefaults</c>.</summary>
    public static IBusRegistrationConfigurator AddProbeStageConsumer(this IBusRegistrationConfigurator bus, IConfiguration configuration)
    {
        if (IsServed(configuration)) bus.AddStageConsumer<RunProbeStage>(configuration, Stages.Probe);
        return bus;
    }
}
