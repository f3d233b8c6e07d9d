namespace TalkingFace.Gateway.Fleet;

public static class FleetEndpoints
{
    public static IEndpointRouteBuilder MapFleet(this IEndpointRouteBuilder app)
    {
        var fleet = app.MapGroup("/fleet").WithTags("Fleet");
        fleet.MapGet("/", (FleetView view, CancellationToken ct) => view.SummaryAsync(ct))
            .WithSummary("Per stage x device class: live and busy workers, slots, measured speed, backlog and whether work waits for a worker; then every worker");
        fleet.MapGet("/workers", (FleetView view, CancellationToken ct) => view.WorkersAsync(null, ct))
            .WithSummary("Workers seen by the gateway, with whether they are still alive, their models and measured speed");
        return app;
    }
}
