using Microsoft.AspNetCore.RateLimiting;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics;
using Scalar.AspNetCore;
using TalkingFace.Gateway.Batches;
using TalkingFace.Gateway.Gallery;
using TalkingFace.Hosting;
using TalkingFace.Gateway.Fleet;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Pipeline;
using TalkingFace.Messaging;
using TalkingFace.Models;
using TalkingFace.Storage;
using TalkingFace.Telemetry;
using TalkingFace.Workers;
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

        builder.Services.AddScoped<StageDispatcher>();
        builder.Services.AddScoped<JobSubmitter>();
        builder.AddModelStore();
        builder.Services.AddSingleton<MotionModelContracts>();
        builder.AddGallery();
        builder.Services.AddSingleton<StageSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StageSweeper>());

        var submitLimits = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            o.AddConcurrencyLimiter(JobEndpoints.SubmitPolicy, c =>
            {
                c.PermitLimit = Math.Max(1, submitLimits.MaxConcurrentSubmits);
                c.QueueLimit = Math.Max(0, submitLimits.SubmitQueueLimit);
                c.QueueProcessingOrder = System.Threading.RateLimiting.QueueProcessingOrder.OldestFirst;
            });
        });
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
            bus.AddConsumer<StageEventsConsumer>().Endpoint(e => e.Name = "gateway");
            bus.AddConsumer<WorkerHeartbeatConsumer>().Endpoint(e => e.Name = "gateway-fleet");
            if (standalone)
            {
                bus.AddAudioStageConsumer(builder.Configuration);
                bus.AddMotionStageConsumer(builder.Configuration);
                bus.AddHairStageConsumer(builder.Configuration);
            }
        });
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRateLimiter();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.MapOpenApi();
        app.MapScalarApiReference();
        app.MapOperationalEndpoints();
        app.MapJobs();
        app.MapBatches();
        app.MapGallery();
        app.MapFleet();
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
            _ => (StatusCodes.Status500InternalServerError, "Unexpected error"),
        };
        if (status >= 500) logger.LogError(exception, "Unexpected error on {Method} {Path}", context.Request.Method, context.Request.Path);
        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = status < 500 ? exception.Message : "The gateway hit an unexpected error; it was logged." },
        });
    }
}
