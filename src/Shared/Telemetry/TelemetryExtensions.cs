using MassTransit.Logging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace TalkingFace.Telemetry;

public static class TelemetryExtensions
{
    /// <summary>
    /// OpenTelemetry metrics (Prometheus scrape endpoint, explicit second buckets for every duration histogram) and
    /// traces across HTTP (ASP.NET Core, HttpClient), the bus (MassTransit's ActivitySource) and the stage runs.
    /// Traces and metrics also go to an OTLP collector when <c>Telemetry:OtlpEndpoint</c> is set (e.g. http://tempo:4317).
    /// </summary>
    public static IHostApplicationBuilder AddTalkingFaceTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        builder.Services.AddSingleton<TalkingFaceMetrics>();
        var otlp = builder.Configuration["Telemetry:OtlpEndpoint"];
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithMetrics(metrics => metrics
                .AddMeter(TalkingFaceMetrics.MeterName, "MassTransit")
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddView(instrument => instrument.Unit == "s" && instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal)
                    ? new ExplicitBucketHistogramConfiguration { Boundaries = TalkingFaceMetrics.SecondsBuckets }
                    : null)
                .AddPrometheusExporter()
                .AddOtlpWhen(otlp))
            .WithTracing(tracing => tracing
                .AddSource(TalkingFaceMetrics.ActivitySource.Name, DiagnosticHeaders.DefaultListenerName)
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics") && !context.Request.Path.StartsWithSegments("/health"))
                .AddHttpClientInstrumentation()
                .AddOtlpWhen(otlp));
        builder.Services.AddHealthChecks();
        return builder;
    }

    private static MeterProviderBuilder AddOtlpWhen(this MeterProviderBuilder metrics, string? endpoint) =>
        string.IsNullOrWhiteSpace(endpoint) ? metrics : metrics.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));

    private static TracerProviderBuilder AddOtlpWhen(this TracerProviderBuilder tracing, string? endpoint) =>
        string.IsNullOrWhiteSpace(endpoint) ? tracing : tracing.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));

    /// <summary><c>/metrics</c>, <c>/health/live</c> (process up) and <c>/health/ready</c> (every dependency answers).</summary>
    public static IEndpointRouteBuilder MapOperationalEndpoints(this IEndpointRouteBuilder app)
    {
        // Operational endpoints are outside /api and open to the cluster (probes, Prometheus): never tenant data.
        app.MapPrometheusScrapingEndpoint().AllowAnonymous();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = WriteReportAsync }).AllowAnonymous();
        return app;
    }

    /// <summary>Says which dependency is unhealthy and why, not just "Unhealthy".</summary>
    private static Task WriteReportAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString(), description = e.Value.Description ?? e.Value.Exception?.Message }),
        });
    }
}
