using System.Net;
using System.Text.Json;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Api;

/// <summary>GET /api/jobs/{id}/events: the job's changes as server-sent events, ending when the job finishes, never left open.</summary>
public sealed class JobEventsTests : IAsyncLifetime
{
    private readonly StandaloneGatewayFactory _factory = new();
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    private sealed record ServerEvent(string Event, string Data);

    /// <summary>Reads events until the server ends the stream (or <paramref name="stopAfter"/> events).</summary>
    private static async Task<List<ServerEvent>> ReadEventsAsync(HttpResponseMessage response, CancellationToken ct, int stopAfter = int.MaxValue)
    {
        var events = new List<ServerEvent>();
        // leaveOpen: the caller's disposing the response is what ends the request, not this reader (a test that stops
        // after one event checks the stream is still open before it lets go).
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct), leaveOpen: true);
        string? name = null;
        var data = new List<string>();
        while (events.Count < stopAfter && await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Count > 0) events.Add(new ServerEvent(name ?? "message", string.Join("\n", data)));
                name = null;
                data.Clear();
            }
            else if (line.StartsWith("event:", StringComparison.Ordinal)) name = line[6..].Trim();
            else if (line.StartsWith("data:", StringComparison.Ordinal)) data.Add(line[5..].TrimStart());
        }
        return events;
    }

    [Fact]
    public async Task The_stream_sends_the_job_as_it_changes_and_ends_by_itself_when_the_job_has_finished()
    {
        // The model store is empty, so the job fails in its audio stage: a terminal state reached through the pipeline.
        var job = await _client.SubmitAcceptedAsync(await File.ReadAllBytesAsync(TestPaths.MacronSpeech), "MacronSpeech.wav");
        using var timeout = new CancellationTokenSource(GatewayApi.FinishTimeout);

        using var response = await _client.GetAsync($"/api/jobs/{job.Id}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await ReadEventsAsync(response, timeout.Token); // returns only because the server ended the stream

        var jobs = events.Where(e => e.Event == JobEventsEndpoint.JobEvent)
            .Select(e => JsonSerializer.Deserialize<JobView>(e.Data, GatewayApi.Json)!).ToList();
        Assert.NotEmpty(jobs);
        Assert.All(jobs, j => Assert.Equal(job.Id, j.Id));
        Assert.Equal("failed", jobs[^1].State);
        Assert.Contains("not configured", jobs[^1].Reason);
        Assert.All(jobs[..^1], j => Assert.False(GatewayApi.IsTerminal(j.State), $"a {j.State} job was sent before the last event"));
        // What the stream said last is what GET says.
        var final = await _client.GetJobAsync(job.Id);
        Assert.Equal(final.State, jobs[^1].State);
        Assert.Equal(final.UpdatedAt, jobs[^1].UpdatedAt);
        Assert.Equal(0, JobEventsEndpoint.OpenStreams(job.Id));
    }

    [Fact]
    public async Task A_finished_job_gets_one_event_and_the_end_of_the_stream()
    {
        var job = await _client.SubmitAcceptedAsync(await File.ReadAllBytesAsync(TestPaths.MacronSpeech), "MacronSpeech.wav");
        await _client.WaitUntilFinishedAsync(job.Id);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        using var response = await _client.GetAsync($"/api/jobs/{job.Id}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        var events = await ReadEventsAsync(response, timeout.Token);

        var only = Assert.Single(events);
        Assert.Equal(JobEventsEndpoint.JobEvent, only.Event);
        Assert.Equal("failed", JsonSerializer.Deserialize<JobView>(only.Data, GatewayApi.Json)!.State);
    }

    [Fact]
    public async Task A_client_that_goes_away_from_an_unfinished_job_leaves_no_stream_behind()
    {
        // No rtx worker exists in standalone mode: the job stays queued, so only the client can end the stream.
        using var submit = await _client.SubmitTalkingFaceAsync(await File.ReadAllBytesAsync(TestPaths.MacronSpeech), "MacronSpeech.wav",
            null, ("deviceClass", "rtx"));
        var job = await submit.ReadJobAsync(HttpStatusCode.Accepted);
        using (var reading = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            using var response = await _client.GetAsync($"/api/jobs/{job.Id}/events", HttpCompletionOption.ResponseHeadersRead, reading.Token);
            var first = await ReadEventsAsync(response, reading.Token, stopAfter: 1);
            Assert.Equal("queued", JsonSerializer.Deserialize<JobView>(Assert.Single(first).Data, GatewayApi.Json)!.State);
            Assert.Equal(1, JobEventsEndpoint.OpenStreams(job.Id));
        } // disposing the response aborts the request

        await GatewayApi.PollAsync(() => Task.FromResult(JobEventsEndpoint.OpenStreams(job.Id)), n => n == 0,
            n => $"{n} event stream(s) of job {job.Id} still open after the client left");
        Assert.Equal("queued", (await _client.GetJobAsync(job.Id)).State);
    }

    [Fact]
    public async Task An_unknown_job_is_a_404_problem_not_an_empty_stream()
    {
        using var response = await _client.GetAsync($"/api/jobs/{Guid.NewGuid()}/events");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
