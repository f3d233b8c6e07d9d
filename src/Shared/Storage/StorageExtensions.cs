using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace TalkingFace.Storage;

public static class StorageExtensions
{
    /// <summary>Registers the artifact store chosen by <c>Storage:Provider</c>, creates its bucket at start and adds a readiness check.</summary>
    public static IHostApplicationBuilder AddArtifactStore(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<StorageOptions>().Bind(builder.Configuration.GetSection(StorageOptions.Section));
        builder.Services.AddSingleton<IArtifactStore>(sp =>
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.Provider switch
            {
                StorageProvider.S3 => ActivatorUtilities.CreateInstance<MinioArtifactStore>(sp),
                _ => ActivatorUtilities.CreateInstance<LocalFolderArtifactStore>(sp),
            });
        builder.Services.AddHostedService<ArtifactStoreInitializer>();
        builder.Services.AddHealthChecks().AddCheck<ArtifactStoreHealthCheck>("artifact-store", tags: ["ready"]);
        return builder;
    }
}

/// <summary>Creates the bucket (or folder) before the host starts taking work.</summary>
internal sealed class ArtifactStoreInitializer(IArtifactStore store) : IHostedService
{
    public Task StartAsync(CancellationToken ct) => store.EnsureReadyAsync(ct);
    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}

internal sealed class ArtifactStoreHealthCheck(IArtifactStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            await store.ExistsAsync("health/probe", ct);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy("artifact store unreachable: " + e.Message);
        }
    }
}
