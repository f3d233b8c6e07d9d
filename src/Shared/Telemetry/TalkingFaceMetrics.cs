using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TalkingFace.Telemetry;

/// <summary>
/// The project's own instruments. Names follow ARCHITECTURE.md (<c>talkingface_*</c> on the Prometheus side);
/// labels are bounded sets (stage, device class, provider, model, outcome), never job ids.
/// </summary>
public sealed class TalkingFaceMetrics : IDisposable
{
    public const string MeterName = "TalkingFace";
    public static readonly ActivitySource ActivitySource = new("TalkingFace");

    /// <summary>Explicit bucket bounds (seconds) for every duration histogram: from 10 ms to 30 min.</summary>
    public static readonly double[] SecondsBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

    private readonly Meter _meter;

    public TalkingFaceMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        JobsSubmitted = _meter.CreateCounter<long>("talkingface_jobs_submitted", "{job}", "Jobs accepted by the gateway");
        JobsFinished = _meter.CreateCounter<long>("talkingface_jobs_finished", "{job}", "Jobs that reached a terminal state");
        StageQueueWait = _meter.CreateHistogram<double>("talkingface_stage_queue_wait", "s", "Time a stage waited in its queue");
        StageRunTime = _meter.CreateHistogram<double>("talkingface_stage_run", "s", "Time a worker spent running a stage");
        StageRetries = _meter.CreateCounter<long>("talkingface_stage_retries", "{attempt}", "Stage attempts after the first");
        DeadLetters = _meter.CreateCounter<long>("talkingface_dead_letters", "{message}", "Stage commands that ended in an error queue");
        StepTime = _meter.CreateHistogram<double>("talkingface_step", "s", "Time of one step inside a stage (Table 2 split)");
        AudioSeconds = _meter.CreateCounter<double>("talkingface_audio_processed", "s", "Seconds of audio processed");
        FeatureCacheHits = _meter.CreateCounter<long>("talkingface_feature_cache_hits", "{clip}", "Clips whose features came from the content-hash cache");
        FeatureCacheMisses = _meter.CreateCounter<long>("talkingface_feature_cache_misses", "{clip}", "Clips whose features had to be extracted");
    }

    public Counter<long> JobsSubmitted { get; }
    public Counter<long> JobsFinished { get; }
    public Histogram<double> StageQueueWait { get; }
    public Histogram<double> StageRunTime { get; }
    public Counter<long> StageRetries { get; }
    public Counter<long> DeadLetters { get; }
    public Histogram<double> StepTime { get; }
    public Counter<double> AudioSeconds { get; }
    public Counter<long> FeatureCacheHits { get; }
    public Counter<long> FeatureCacheMisses { get; }

    /// <summary>
    /// Starts the rare-event counters at zero for every stage (and class), so dashboards and alerts
    /// (<c>increase(...) &gt; 0</c>) see a series before the first retry or dead letter happens.
    /// </summary>
    public void StartCountersAtZero(IEnumerable<string> stages, IEnumerable<string> deviceClasses)
    {
        var classes = deviceClasses.ToList();
        foreach (var stage in stages)
        {
            StageRetries.Add(0, new KeyValuePair<string, object?>("stage", stage));
            foreach (var deviceClass in classes)
                DeadLetters.Add(0, new KeyValuePair<string, object?>("stage", stage), new("device_class", deviceClass));
        }
    }

    public void Dispose() => _meter.Dispose();
}
