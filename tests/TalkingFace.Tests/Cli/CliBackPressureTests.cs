using System.CommandLine;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TalkingFace.Cli.Batch;
using TalkingFace.Cli.Commands;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Browser;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Cli;

/// <summary>
/// The CLI under back-pressure: <c>submit --wait</c>, <c>watch</c> and <c>batch</c> against a real standalone gateway
/// (real port, demo models) reached through a small proxy that answers 429/503 with Retry-After for a while, and
/// loses the answer to the first upload after the gateway made its job; and <c>batch</c> against a gateway whose
/// tenant may send one request per second. The CLI waits at least what Retry-After says, keeps going, and a retried
/// upload finds the job its first try made.
/// </summary>
public sealed class CliBackPressureTests : IAsyncLifetime
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(4);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "talkingface-backpressure-" + Guid.NewGuid().ToString("N"));
    private readonly List<IAsyncDisposable> _owned = [];

    private string Clips => Path.Combine(_root, "clips");

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(Clips);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned)) await owned.DisposeAsync();
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private LiveGatewayFactory Gateway(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?> { ["Motion:Preview:Enabled"] = "false" };
        foreach (var (k, v) in more ?? []) settings[k] = v;
        var gateway = new LiveGatewayFactory(settings);
        _owned.Add(gateway);
        return gateway;
    }

    private sealed record Run(int ExitCode, string Output, string Errors);

    private static async Task<Run> CliAsync(params string[] args)
    {
        using var timeout = new CancellationTokenSource(RunTimeout);
        var output = new StringWriter();
        var errors = new StringWriter();
        var root = new RootCommand { RemoteCommands.Submit(), RemoteCommands.Watch(), BatchCommand.Create() };
        var exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = errors }, timeout.Token);
        return new Run(exitCode, output.ToString(), errors.ToString());
    }

    private string MakeClip(int i)
    {
        var path = Path.Combine(Clips, $"clip-{i}.wav");
        var result = ExternalTool.Run("espeak-ng", ["-w", path, $"Clip {i} waits for the gateway."]);
        Assert.True(result is not null, "espeak-ng is not installed (apt-get install espeak-ng; scripts/services.sh start does)");
        return path;
    }

    [Fact]
    public async Task Submit_waits_out_429_and_503_with_Retry_After_and_a_retried_upload_makes_no_second_job()
    {
        var gateway = Gateway();
        using var api = gateway.CreateLiveClient();
        var proxy = await BackPressureProxy.StartAsync(gateway.Address, refusedPolls: 4, retryAfterSeconds: 1);
        _owned.Add(proxy);
        var clip = MakeClip(1);

        var run = await CliAsync("submit", clip, "--server", proxy.Address.ToString(), "--feature-model", "fast-hubert-int8", "--wait");

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Output} {run.Errors}");
        Assert.Contains("SUCCEEDED", run.Output);
        Assert.Equal(1, await api.CountJobsAsync()); // the upload whose answer was lost was not made twice

        var posts = proxy.Calls.Where(c => c.Method == "POST").ToList();
        Assert.Equal(2, posts.Count);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, posts[0].Answered);
        Assert.True(posts[0].ForwardedStatus == HttpStatusCode.Accepted, "the first upload reached the gateway and made the job");
        Assert.StartsWith("submit-", posts[0].IdempotencyKey);
        Assert.Equal(posts[0].IdempotencyKey, posts[1].IdempotencyKey);
        Assert.Equal(posts[0].BodyBytes, posts[1].BodyBytes); // the retry sent the whole file again
        Assert.True(posts[0].BodyBytes > new FileInfo(clip).Length);
        Assert.Equal(HttpStatusCode.OK, posts[1].Answered); // 200: the job the key already made

        var refusedPolls = proxy.Calls.Where(c => c.Method == "GET" && c.Answered is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable).ToList();
        Assert.Equal(4, refusedPolls.Count);
        Assert.True(proxy.Calls.Count(c => c.Method == "GET" && c.Answered == HttpStatusCode.OK) >= 1);
        proxy.AssertEveryRefusalWasWaitedOut();
        Assert.Contains("gateway answered 429 Too Many Requests (Retry-After 1 s): retrying GET", run.Errors);
        Assert.Contains("gateway answered 503 Service Unavailable (Retry-After 1 s): retrying POST /api/jobs/talking-face", run.Errors);
    }

    [Fact]
    public async Task Watch_keeps_polling_through_429_and_503()
    {
        var gateway = Gateway();
        using var api = gateway.CreateLiveClient();
        var job = await api.SubmitAcceptedAsync(await File.ReadAllBytesAsync(MakeClip(2)), "clip-2.wav");
        var proxy = await BackPressureProxy.StartAsync(gateway.Address, refusedPolls: 3, retryAfterSeconds: 1);
        _owned.Add(proxy);

        var run = await CliAsync("watch", job.Id.ToString(), "--server", proxy.Address.ToString());

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Output} {run.Errors}");
        Assert.Contains("SUCCEEDED", run.Output);
        Assert.Equal(3, proxy.Calls.Count(c => c.Answered is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable));
        proxy.AssertEveryRefusalWasWaitedOut();
    }

    [Fact]
    public async Task Batch_through_refusing_proxy_finishes_every_clip_once()
    {
        var gateway = Gateway();
        using var api = gateway.CreateLiveClient();
        var proxy = await BackPressureProxy.StartAsync(gateway.Address, refusedPolls: 6, retryAfterSeconds: 1);
        _owned.Add(proxy);
        for (var i = 1; i <= 3; i++) MakeClip(i);

        var run = await CliAsync("batch", Clips, "--server", proxy.Address.ToString(), "--out", Path.Combine(_root, "out"),
            "--feature-model", "fast-hubert-int8", "--parallel", "3", "--no-download");

        Assert.True(run.ExitCode == BatchRunner.ExitSucceeded, $"exit {run.ExitCode}: {run.Output} {run.Errors}");
        Assert.Contains("batch: 3 items, 3 succeeded", run.Output);
        Assert.Equal(3, await api.CountJobsAsync()); // the upload whose answer was lost found its job again
        Assert.Equal(4, proxy.Calls.Count(c => c.Method == "POST")); // three uploads and the one retry
        Assert.Equal(7, proxy.Calls.Count(c => c.Answered is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable));
        proxy.AssertEveryRefusalWasWaitedOut();
    }

    [Fact]
    public async Task Batch_against_a_tenant_limited_to_one_request_a_second_succeeds_without_duplicates()
    {
        // The gateway's own rate limiter: a bucket of one request, refilled once a second, answers 429 + Retry-After.
        var gateway = Gateway(new() { ["Tenancy:RequestsPerSecond"] = "1", ["Tenancy:BurstSeconds"] = "1" });
        for (var i = 1; i <= 4; i++) MakeClip(i);

        var run = await CliAsync("batch", Clips, "--server", gateway.Address.ToString(), "--out", Path.Combine(_root, "out"),
            "--feature-model", "fast-hubert-int8", "--parallel", "4", "--no-download");

        Assert.True(run.ExitCode == BatchRunner.ExitSucceeded, $"exit {run.ExitCode}: {run.Output} {run.Errors}");
        Assert.Contains("batch: 4 items, 4 succeeded", run.Output);
        // Four uploads at once against a bucket of one: the gateway refused some, and the CLI waited them out.
        Assert.Contains("gateway answered 429 Too Many Requests (Retry-After 1 s)", run.Errors);
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // our own count is a request too
        using var api = gateway.CreateLiveClient();
        Assert.Equal(4, await api.CountJobsAsync());
    }
}

/// <summary>
/// A small HTTP proxy in front of a gateway. It answers the first GETs of a job (<c>/api/jobs/{id}</c>) itself, 429
/// and 503 in turn with Retry-After, and forwards the first upload (POST) to the gateway but answers it 503 as if the
/// answer had been lost; everything else it forwards. It records every call with when it came and what it answered.
/// </summary>
internal sealed class BackPressureProxy : IAsyncDisposable
{
    public sealed record Call(string Method, string Path, string? IdempotencyKey, long BodyBytes, DateTimeOffset At,
        HttpStatusCode Answered, HttpStatusCode? ForwardedStatus);

    private readonly WebApplication _app;
    private readonly HttpClient _gateway;
    private readonly int _refusedPolls;
    private readonly int _retryAfterSeconds;
    private readonly Lock _gate = new();
    private readonly List<Call> _calls = [];
    private int _polls;
    private int _posts;

    private BackPressureProxy(WebApplication app, Uri gateway, int refusedPolls, int retryAfterSeconds)
    {
        _app = app;
        _gateway = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromMinutes(2) };
        _refusedPolls = refusedPolls;
        _retryAfterSeconds = retryAfterSeconds;
    }

    public Uri Address { get; private set; } = null!;

    public IReadOnlyList<Call> Calls
    {
        get { lock (_gate) return [.. _calls]; }
    }

    public static async Task<BackPressureProxy> StartAsync(Uri gateway, int refusedPolls, int retryAfterSeconds)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseSetting("urls", "http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var proxy = new BackPressureProxy(app, gateway, refusedPolls, retryAfterSeconds);
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        proxy.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
        return proxy;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, context.RequestAborted);
        var key = request.Headers["Idempotency-Key"].ToString() is { Length: > 0 } k ? k : null;
        var path = request.Path.Value ?? "/";
        var isPoll = request.Method == "GET" && path.StartsWith("/api/jobs/", StringComparison.Ordinal) && Guid.TryParse(path["/api/jobs/".Length..], out _);

        int pollNumber = 0, postNumber = 0;
        lock (_gate)
        {
            if (isPoll) pollNumber = ++_polls;
            if (request.Method == "POST") postNumber = ++_posts;
        }
        if (isPoll && pollNumber <= _refusedPolls)
        {
            var status = pollNumber % 2 == 1 ? HttpStatusCode.TooManyRequests : HttpStatusCode.ServiceUnavailable;
            Record(new Call(request.Method, path, key, body.Length, DateTimeOffset.UtcNow, status, null));
            await RefuseAsync(context, status);
            return;
        }

        using var forward = new HttpRequestMessage(new HttpMethod(request.Method), path + request.QueryString);
        if (body.Length > 0 || request.Method == "POST")
        {
            forward.Content = new ByteArrayContent(body.ToArray());
            if (request.ContentType is { } type) forward.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        }
        if (key is not null) forward.Headers.Add("Idempotency-Key", key);
        using var answer = await _gateway.SendAsync(forward, context.RequestAborted);
        var bytes = await answer.Content.ReadAsByteArrayAsync(context.RequestAborted);

        if (postNumber == 1)
        {
            // The gateway made the job, but its answer is "lost": the client sees a 503 and must retry with its key.
            Record(new Call(request.Method, path, key, body.Length, DateTimeOffset.UtcNow, HttpStatusCode.ServiceUnavailable, answer.StatusCode));
            await RefuseAsync(context, HttpStatusCode.ServiceUnavailable);
            return;
        }
        Record(new Call(request.Method, path, key, body.Length, DateTimeOffset.UtcNow, answer.StatusCode, answer.StatusCode));
        context.Response.StatusCode = (int)answer.StatusCode;
        if (answer.Content.Headers.ContentType is { } contentType) context.Response.ContentType = contentType.ToString();
        if (answer.Headers.Location is { } location) context.Response.Headers.Location = location.ToString();
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

    private async Task RefuseAsync(HttpContext context, HttpStatusCode status)
    {
        context.Response.StatusCode = (int)status;
        context.Response.Headers.RetryAfter = _retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.ContentType = "application/problem+json";
        await context.Response.WriteAsync($$"""{"status":{{(int)status}},"title":"busy","detail":"retry after {{_retryAfterSeconds}} s"}""");
    }

    private void Record(Call call)
    {
        lock (_gate) _calls.Add(call);
    }

    /// <summary>After each refusal, the client's next request for the same thing came no sooner than Retry-After said.</summary>
    public void AssertEveryRefusalWasWaitedOut()
    {
        var calls = Calls;
        var refusals = calls.Where(c => c.Answered is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable).ToList();
        Assert.NotEmpty(refusals);
        foreach (var refusal in refusals)
        {
            var next = calls.FirstOrDefault(c => c.At > refusal.At && c.Method == refusal.Method && c.Path == refusal.Path &&
                                                 (refusal.Method != "POST" || c.IdempotencyKey == refusal.IdempotencyKey));
            Assert.True(next is not null, $"{refusal.Method} {refusal.Path} was never retried after its {(int)refusal.Answered}");
            var waited = next.At - refusal.At;
            Assert.True(waited >= TimeSpan.FromSeconds(_retryAfterSeconds),
                $"{refusal.Method} {refusal.Path} was retried {waited.TotalSeconds:0.000} s after a {(int)refusal.Answered} with Retry-After {_retryAfterSeconds} s");
        }
    }

    public async ValueTask DisposeAsync()
    {
        _gateway.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
