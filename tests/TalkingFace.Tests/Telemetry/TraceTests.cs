using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Telemetry;

/// <summary>One trace follows a job: the HTTP request, the command over the bus, the stage run in the worker, and its events back to the gateway.</summary>
public sealed class TraceTests
{
    [Fact]
    public async Task One_trace_follows_a_job_from_the_http_request_through_the_bus_into_the_worker_and_back()
    {
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "TalkingFace" or "MassTransit" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);

        await using var gateway = new StandaloneGatewayFactory();
        using var client = gateway.CreateClient();
        using var form = new MultipartFormDataContent();
        form.Add(new StreamContent(File.OpenRead(TestPaths.MacronSpeech)), "audio", "MacronSpeech.wav");
        using var response = await client.PostAsync("/api/jobs/talking-face", form);
        var submitted = (await response.Content.ReadFromJsonAsync<JobView>(DistributedPipeline.Json))!;
        await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);

        Activity? stage = null;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (stage is null && DateTime.UtcNow < deadline)
        {
            stage = stopped.FirstOrDefault(a => a.OperationName == "stage audio" && Equals(a.GetTagItem("talkingface.job_id"), submitted.Id));
            if (stage is null) await Task.Delay(100);
        }
        Assert.NotNull(stage);
        var trace = stopped.Where(a => a.TraceId == stage.TraceId).ToList();

        // It starts at the HTTP request that submitted the job...
        Assert.Contains(trace, a => a.Source.Name == "Microsoft.AspNetCore" && a.Kind == ActivityKind.Server && a.ParentSpanId == default);
        // ...the command reached the worker through the bus (the run's parent is a MassTransit consume span)...
        Assert.Contains(trace, a => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Consumer && a.SpanId == stage.ParentSpanId);
        // ...and what the run published came back to the gateway in the same trace.
        var published = trace.Where(a => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Producer && a.ParentSpanId == stage.SpanId).ToList();
        Assert.NotEmpty(published);
        Assert.Contains(trace, a => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Consumer && published.Any(p => p.SpanId == a.ParentSpanId));
    }
}
