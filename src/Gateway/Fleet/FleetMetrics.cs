using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Telemetry;

namespace TalkingFace.Gateway.Fleet;

/// <summary>
/// The fleet as gauges, refreshed every <c>Fleet:MetricsInterval</c> from the registry and the database: workers up
/// and busy, run slots, measured speed, the preferred execution provider of live workers, and the backlog
/// (stages queued or running) per stage x device class. Every known class is reported, with zeros, so an alert can
/// tell "no worker" from "no data". Every gateway replica reports the same values: aggregate with max, not sum.
/// </summary>
public sealed class FleetMetrics : BackgroundService
{
    private readonly IServiceScopeFactory _scopes;
    private readonly IOptions<FleetOptions> _options;
    private readonly ILogger<FleetMetrics> _logger;
    private volatile FleetSummary? _last;

    public FleetMetrics(IMeterFactory meters, TalkingFaceMetrics metrics, IOptions<Pipeline.PipelineOptions> pipeline,
        IServiceScopeFactory scopes, IOptions<FleetOptions> options, ILogger<FleetMetrics> logger)
    {
        metrics.StartCountersAtZero(Stages.All, pipeline.Value.KnownDeviceClasses);
        _scopes = scopes;
        _options = options;
        _logger = logger;
        var meter = meters.Create(TalkingFaceMetrics.MeterName);
        meter.CreateObservableGauge("talkingface_worker_up", () => Rows(c => c.LiveWorkers), "{worker}", "Live workers per stage and device class");
        meter.CreateObservableGauge("talkingface_worker_busy", () => Rows(c => c.BusyWorkers), "{worker}", "Live workers with a run in flight");
        meter.CreateObservableGauge("talkingface_worker_slots", () => Rows(c => c.Slots), "{run}", "Stage runs the live workers take at once");
        meter.CreateObservableGauge("talkingface_worker_speed", () => Speeds(), null,
            "Seconds of run time per unit of work (second of audio, or image) per slot that the scheduler uses: measured moving average (measured=true) or assumed");
        meter.CreateObservableGauge("talkingface_worker_provider", () => Providers(), "{worker}", "Live workers by their preferred execution provider");
        meter.CreateObservableGauge("talkingface_backlog", () => Backlog(), "{stage}", "Stages sent to a class's queue and not finished, by state");
    }

    public FleetSummary? Last => _last;

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.Value.MetricsInterval);
        do
        {
            try
            {
                await using var scope = _scopes.CreateAsyncScope();
                _last = await scope.ServiceProvider.GetRequiredService<FleetView>().SummaryAsync(ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogDebug(e, "Fleet metrics not refreshed");
            }
        }
        while (await timer.WaitForNextTickAsync(ct));
    }

    private IEnumerable<Measurement<int>> Rows(Func<FleetClassView, int> value) =>
        (_last?.Classes ?? []).Select(c => new Measurement<int>(value(c), Tags(c)));

    private IEnumerable<Measurement<double>> Speeds() =>
        (_last?.Classes ?? []).Where(c => c.LiveWorkers > 0)
            .Select(c => new Measurement<double>(c.SecondsPerUnit, [.. Tags(c), new("measured", c.SpeedMeasured ? "true" : "false")]));

    private IEnumerable<Measurement<int>> Backlog() =>
        (_last?.Classes ?? []).SelectMany(c => new[]
        {
            new Measurement<int>(c.Queued, [.. Tags(c), new("state", "queued")]),
            new Measurement<int>(c.Running, [.. Tags(c), new("state", "running")]),
        });

    private IEnumerable<Measurement<int>> Providers() =>
        (_last?.Workers ?? []).Where(w => w.Alive)
            .GroupBy(w => (w.DeviceClass, Provider: w.Providers.FirstOrDefault() ?? "none"))
            .Select(g => new Measurement<int>(g.Select(w => w.WorkerId).Distinct().Count(),
                new KeyValuePair<string, object?>("device_class", g.Key.DeviceClass), new("provider", g.Key.Provider)));

    private static KeyValuePair<string, object?>[] Tags(FleetClassView c) => [new("stage", c.Stage), new("device_class", c.DeviceClass)];
}
