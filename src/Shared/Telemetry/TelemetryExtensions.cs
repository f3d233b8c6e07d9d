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
    /// <summary>OpenTelemetry metrics (Prometheus scrape endpoint) and traces across HTTP and the bus.</summary>
    public static IHostApplicationBuilder AddTalkingFaceTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        builder.Services.AddSingleton<TalkingFaceMetrics>();
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithMetrics(metrics => metrics
                .AddMeter(TalkingFaceMetrics.MeterName, "MassTransit")
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddView(instrument => instrument.Unit == "s" && instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal)
                    ? new ExplicitBucketHistogramConfiguration { Boundaries = TalkingFaceMetrics.SecondsBuckets }
                    : null)
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing
                .AddSource(TalkingFaceMetrics.ActivitySource.Name, DiagnosticHeaders.DefaultListenerName)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation());
        builder.Services.AddHealthChecks();
        return builder;
    }

    /// <summary><c>/metrics</c>, <c>/health/live</c> (process up) and <c>/health/ready</c> (every dependency answers).</summary>
    public static IEndpointRouteBuilder MapOperationalEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPrometheusScrapingEndpoint();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = WriteReportAsync });
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
