using System.Threading.RateLimiting;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MassTransit;
using Microsoft.AspNetCore.Diagnostics;
using Scalar.AspNetCore;
using TalkingFace.Gateway.Batches;
using TalkingFace.Gateway.Catalog;
using TalkingFace.Gateway.Gallery;
using TalkingFace.Hosting;
using TalkingFace.Gateway.Fleet;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Pipeline;
using TalkingFace.Gateway.Retention;
using TalkingFace.Gateway.Scheduling;
using TalkingFace.Gateway.Tenancy;
using TalkingFace.Messaging;
using TalkingFace.Models;
using TalkingFace.Storage;
using TalkingFace.Telemetry;
using TalkingFace.Workers;
using TalkingFace.Workers.Probe;
using TalkingFace.Workers.Audio;
using TalkingFace.Workers.Hair;
using TalkingFace.Workers.Motion;

namespace TalkingFace.Gateway.Hosting;

public static class GatewayExtensions
{
    /// <summary>
    /// Everything the gateway needs, in start order: database (migrated first), artifact store, pipeline,
    /// API, and the bus. In standalone mode the three workers' consumers join the same in-memory bus.
    /// </summary>
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        var mode = builder.Configuration.GetValue($"{GatewayOptions.Section}:Mode", HostingMode.Standalone);
        if (mode == HostingMode.Distributed) builder.Configuration.UseDistributedDefaults();
        builder.Services.AddOptions<GatewayOptions>().Bind(builder.Configuration.GetSection(GatewayOptions.Section));
        builder.Services.AddOptions<PipelineOptions>().Bind(builder.Configuration.GetSection(PipelineOptions.Section));
        var maxUpload = builder.Configuration.GetValue($"{GatewayOptions.Section}:MaxUploadBytes", new GatewayOptions().MaxUploadBytes);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = maxUpload + 1024 * 1024);

        builder.AddTalkingFaceTelemetry("talkingface-gateway");
        builder.AddJobsDatabase();
        builder.AddArtifactStore();
        builder.AddTenancy(mode);
        builder.Services.AddOptions<Workers.Audio.Conversion.AudioConversionOptions>() // submit checks a WAV's declared length against the audio stage's limit
            .Bind(builder.Configuration.GetSection(Workers.Audio.Conversion.AudioConversionOptions.SectionName));

        builder.Services.AddOptions<FleetOptions>().Bind(builder.Configuration.GetSection(FleetOptions.Section));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<FleetRegistry>();
        builder.Services.AddScoped<FleetView>();
        builder.Services.AddSingleton<SchedulerBacklog>();
        builder.Services.AddHostedService<FleetMetrics>();
        builder.Services.AddScoped<StageDispatcher>();
        builder.Services.AddScoped<JobSubmitter>();
        builder.AddModelStore();
        builder.Services.AddSingleton<MotionModelContracts>();
        builder.AddGallery();
        builder.Services.AddSingleton<StageSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StageSweeper>());
        builder.Services.AddOptions<RetentionOptions>().Bind(builder.Configuration.GetSection(RetentionOptions.Section));
        builder.Services.AddSingleton<RetentionSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RetentionSweeper>());

        // Job submissions handled at once; the rest wait in order (a burst of clients must not exhaust database
        // connections or the store's sockets). A global limiter, so each tenant's own rate limit still applies too.
        var submitLimits = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        builder.Services.AddRateLimiter(o => o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            HttpMethods.IsPost(context.Request.Method) &&
            (context.Request.Path.StartsWithSegments("/api/jobs") || context.Request.Path.StartsWithSegments("/api/batches"))
                ? RateLimitPartition.GetConcurrencyLimiter("submit", _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = Math.Max(1, submitLimits.MaxConcurrentSubmits),
                    QueueLimit = Math.Max(0, submitLimits.SubmitQueueLimit),
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                })
                : RateLimitPartition.GetNoLimiter("other")));
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.Services.AddOpenApi();

        var standalone = mode == HostingMode.Standalone;
        if (standalone)
        {
            builder.AddWorkerDefaults();
            builder.AddAudioStage();
            builder.AddMotionStage();
            builder.AddHairStage();
        }
        builder.AddTalkingFaceBus(bus =>
        {
            // Stage events must survive a database outage: retry them for Pipeline:OutageRetry before the _error queue.
            bus.AddConsumer<StageEventsConsumer>((_, c) =>
            {
                c.UseMessageRetry(r =>
                {
                    r.Handle<Exception>(DependencyFailure.IsUnavailable);
                    r.Interval(OutageRetry.Attempts, OutageRetry.Interval);
                });
                StageEventsConsumer.ApplyInOrderPerJob(c);
            }).Endpoint(e => e.Name = "gateway");
            bus.AddConsumer<WorkerHeartbeatConsumer>().Endpoint(e => e.Name = "gateway-fleet");
            // Every replica keeps its own registry: a temporary queue per gateway process receives every heartbeat.
            bus.AddConsumer<FleetRegistryConsumer>().Endpoint(e =>
            {
                e.Name = $"gateway-fleet-registry-{Environment.MachineName}-{Guid.NewGuid():N}".ToLowerInvariant();
                e.Temporary = true;
            });
            if (standalone)
            {
                bus.AddAudioStageConsumer(builder.Configuration);
                bus.AddMotionStageConsumer(builder.Configuration);
                bus.AddHairStageConsumer(builder.Configuration);
                bus.AddProbeStageConsumer(builder.Configuration);
            }
        });
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseTenancy();
        app.MapOpenApi().AllowAnonymous();
        app.MapScalarApiReference().AllowAnonymous();
        app.MapOperationalEndpoints();
        // Every /api route is in one of two groups: the tenant's, or the explicit public list (ApiGroups).
        var api = app.MapTenantApi();
        api.MapJobs();
        api.MapJobEvents();
        api.MapBatches();
        api.MapBatchList();
        api.MapFleet();
        var publicApi = app.MapPublicApi();
        publicApi.MapGallery();
        publicApi.MapModels();
        var mode = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value.Mode;
        app.Logger.LogInformation("TalkingFace gateway in {Mode} mode", mode);
        return app;
    }
}

/// <summary>Turns exceptions into problem+json: client errors keep their status, anything else is a 500 without internals.</summary>
internal sealed class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var (status, title) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Upload too large" : "Bad request"),
            OperationCanceledException when context.RequestAborted.IsCancellationRequested => (499, "Client closed request"),
            _ when DependencyFailure.IsUnavailable(exception) => (StatusCodes.Status503ServiceUnavailable, "Temporarily unavailable"),
            _ => (StatusCodes.Status500InternalServerError, "Unexpected error"),
        };
        // ASP.NET Core 10 no longer logs exceptions an IExceptionHandler handled: log server-side failures here.
        if (status == StatusCodes.Status503ServiceUnavailable) logger.LogWarning("{Method} {Path}: a dependency is unavailable: {Error}", context.Request.Method, context.Request.Path, exception.Message);
        else if (status >= 500) logger.LogError(exception, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
        context.Response.StatusCode = status;
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = DependencyFailure.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                Exception = exception,
                ProblemDetails =
                {
                    Status = status, Title = title,
                    Detail = $"A service the gateway depends on (database, message broker or artifact store) is not reachable right now; nothing was lost. Retry in {DependencyFailure.RetryAfterSeconds} s.",
                },
            });
        }
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = status < 500 ? exception.Message : "The gateway hit an unexpected error; it was logged." },
        });
    }
}

/// <summary>Tells an outage of the database, broker or store (answer 503 + Retry-After) from a bug (500).</summary>
internal static class DependencyFailure
{
    public const int RetryAfterSeconds = 5;

    public static bool IsUnavailable(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is System.Net.Sockets.SocketException or TimeoutException or System.Net.Http.HttpRequestException
                or Npgsql.NpgsqlException or MassTransit.RequestTimeoutException or MassTransit.MassTransitException
                or RabbitMQ.Client.Exceptions.BrokerUnreachableException or RabbitMQ.Client.Exceptions.AlreadyClosedException
                or Minio.Exceptions.ConnectionException or System.IO.IOException)
                return true;
            if (e is Microsoft.EntityFrameworkCore.Storage.RetryLimitExceededException) return true;
        }
        return false;
    }
}

/// <summary>How long the gateway keeps retrying a stage event while the database is down (2 minutes by default).</summary>
internal static class OutageRetry
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
    public const int Attempts = 60;
}
