using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Retry;
using TalkingFace.Gateway.Jobs;

namespace TalkingFace.Cli;

/// <summary>
/// How the CLI retries a request to the gateway. Back-pressure (429, 503) is waited out: the gateway's
/// <c>Retry-After</c> plus up to 20 % jitter (so many clients told the same second do not return together), or an
/// exponential backoff with jitter when it gives none, for as long as <see cref="BackPressureBudget"/> allows.
/// Other transient failures (408, 500, 502, 504, a refused or dropped connection, an attempt that timed out) get
/// <see cref="TransientRetries"/> more tries. A POST is retried only when a repeat cannot make a second job: it
/// carries an Idempotency-Key, or the answer was 429 (the rate limiter refuses before anything runs).
/// </summary>
public sealed class GatewayRetry
{
    private static readonly ResiliencePropertyKey<DateTimeOffset> FirstTry = new("talkingface.first-try");
    private static readonly ResiliencePropertyKey<int> TransientFailures = new("talkingface.transient-failures");

    /// <summary>How long one request may keep being answered 429/503 before the CLI gives up on it.</summary>
    public TimeSpan BackPressureBudget { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Retries for failures that are not back-pressure.</summary>
    public int TransientRetries { get; init; } = 3;

    /// <summary>The wait before the first retry when the gateway sends no Retry-After; it doubles, up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(0.5);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Each attempt's own limit (a slow upload of a large file still fits).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Where each wait is announced ("gateway busy ... retrying in 1.2 s"); null: silent.</summary>
    public TextWriter? Log { get; init; }

    /// <summary>An HTTP handler that sends through this retry policy.</summary>
    public DelegatingHandler Handler(HttpMessageHandler inner) => new ResilienceHandler(Pipeline()) { InnerHandler = inner };

    public ResiliencePipeline<HttpResponseMessage> Pipeline()
    {
        var retry = new HttpRetryStrategyOptions
        {
            MaxRetryAttempts = int.MaxValue, // bounded by ShouldRetryAsync: the budget and the transient count
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = BaseDelay,
            MaxDelay = MaxDelay,
            ShouldHandle = ShouldRetryAsync,
            DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result)),
            OnRetry = args =>
            {
                if (Log is not null && args.Context.GetRequestMessage() is { } request)
                {
                    var why = args.Outcome.Result is { } r ? $"answered {(int)r.StatusCode} {r.ReasonPhrase}" +
                        (r.Headers.RetryAfter is { } after ? $" (Retry-After {Describe(after)})" : "")
                        : $"failed ({args.Outcome.Exception?.Message})";
                    Log.WriteLine(FormattableString.Invariant(
                        $"gateway {why}: retrying {request.Method} {request.RequestUri?.AbsolutePath} in {args.RetryDelay.TotalSeconds:0.0} s"));
                }
                return ValueTask.CompletedTask;
            },
        };
        return new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(retry)
            .AddTimeout(AttemptTimeout)
            .Build();
    }

    private ValueTask<bool> ShouldRetryAsync(RetryPredicateArguments<HttpResponseMessage> args)
    {
        var context = args.Context;
        var now = DateTimeOffset.UtcNow;
        if (!context.Properties.TryGetValue(FirstTry, out var first)) context.Properties.Set(FirstTry, first = now);
        var request = context.GetRequestMessage();
        var status = args.Outcome.Result?.StatusCode;
        if (context.CancellationToken.IsCancellationRequested) return ValueTask.FromResult(false);

        if (status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
        {
            var safe = status == HttpStatusCode.TooManyRequests || IsRepeatable(request);
            return ValueTask.FromResult(safe && now - first < BackPressureBudget);
        }
        var transient = args.Outcome switch
        {
            { Result: { } response } => response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.InternalServerError
                or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout,
            { Exception: HttpRequestException or Polly.Timeout.TimeoutRejectedException } => true,
            _ => false,
        };
        if (!transient || !IsRepeatable(request)) return ValueTask.FromResult(false);
        var failures = context.Properties.GetValue(TransientFailures, 0) + 1;
        context.Properties.Set(TransientFailures, failures);
        return ValueTask.FromResult(failures <= TransientRetries);
    }

    /// <summary>GET, HEAD, PUT, DELETE, OPTIONS by their nature; a POST when it carries an Idempotency-Key.</summary>
    internal static bool IsRepeatable(HttpRequestMessage? request) => request is not null &&
        (request.Method != HttpMethod.Post && request.Method != HttpMethod.Patch || request.Headers.Contains(JobEndpoints.IdempotencyHeader));

    /// <summary>The gateway's Retry-After (seconds or a date) with 0-20 % jitter added, or null (then the exponential backoff applies).</summary>
    internal static TimeSpan? RetryAfter(HttpResponseMessage? response)
    {
        if (response?.Headers.RetryAfter is not { } after) return null;
        var wait = after.Delta ?? (after.Date is { } date ? date - DateTimeOffset.UtcNow : TimeSpan.Zero);
        if (wait < TimeSpan.Zero) wait = TimeSpan.Zero;
        return wait * (1 + 0.2 * Random.Shared.NextDouble()) + TimeSpan.FromMilliseconds(50 * Random.Shared.NextDouble());
    }

    private static string Describe(RetryConditionHeaderValue after) =>
        after.Delta is { } delta ? delta.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s" : after.Date?.ToString("u", CultureInfo.InvariantCulture) ?? "?";
}
