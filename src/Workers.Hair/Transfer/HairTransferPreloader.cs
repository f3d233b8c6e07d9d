using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using TalkingFace.Models;

namespace TalkingFace.Workers.Hair.Transfer;

/// <summary>
/// Loads every stage of the configured hair chain and runs one warm-up transfer before the worker takes work (the
/// seed measured ~10 s model loads that the first request would otherwise pay). A chain that is not in the store is
/// reported (health: degraded); one that fails validation is logged and makes the check unhealthy with the reason.
/// </summary>
internal sealed class HairTransferPreloader(
    OnnxHairTransfer transfer,
    ModelCatalog catalog,
    IOptions<HairTransferOptions> options,
    ILogger<HairTransferPreloader> logger) : IHostedService, IHealthCheck
{
    private volatile bool _done;
    private volatile string? _problem;
    private volatile bool _missing;

    public Task StartAsync(CancellationToken ct)
    {
        var name = options.Value.TransferModel;
        try
        {
            if (catalog.Find(name) is null)
            {
                _missing = true;
                _problem = catalog.NotConfigured(name, "hair transfer");
                logger.LogWarning("{Problem}", _problem);
            }
            else
            {
                transfer.Warm(ct);
            }
        }
        catch (Exception e) when (e is ModelStoreException or OnnxRuntimeException)
        {
            _problem = e.Message;
            logger.LogError("Hair chain {Name} is not usable: {Reason}", name, e.Message);
        }
        _done = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(!_done ? HealthCheckResult.Unhealthy("the hair chain is still loading")
            : _missing ? HealthCheckResult.Degraded(_problem)
            : _problem is not null ? HealthCheckResult.Unhealthy(_problem)
            : HealthCheckResult.Healthy($"{transfer.Chain.Manifest.Id} on {transfer.Chain.Provider}"));
}
