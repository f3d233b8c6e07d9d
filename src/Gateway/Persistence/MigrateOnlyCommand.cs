using TalkingFace.Gateway.Hosting;
using TalkingFace.Hosting;

namespace TalkingFace.Gateway.Persistence;

/// <summary>
/// <c>TalkingFace.Gateway --migrate-only</c>: applies the database migrations and exits (0 on success, 1 on
/// failure, with the reason logged). The Helm chart's pre-install/pre-upgrade Job runs it, so new gateway pods
/// never start on an old schema. Reads the same configuration as the gateway (Gateway:Mode, Database:*), and
/// starts nothing else: no bus, no store, no HTTP.
/// </summary>
public static class MigrateOnlyCommand
{
    public const string Flag = "--migrate-only";

    public static bool IsRequested(IEnumerable<string> args) => args.Contains(Flag, StringComparer.Ordinal);

    public static async Task<int> RunAsync(string[] args, Action<IConfigurationBuilder>? configure = null, CancellationToken ct = default)
    {
        var builder = Host.CreateApplicationBuilder(args.Where(a => a != Flag).ToArray());
        configure?.Invoke(builder.Configuration);
        if (builder.Configuration.GetValue($"{GatewayOptions.Section}:Mode", HostingMode.Standalone) == HostingMode.Distributed)
            builder.Configuration.UseDistributedDefaults();
        builder.AddJobsDatabase();

        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MigrateOnlyCommand));
        try
        {
            var applied = await DatabaseMigrator.MigrateAsync(host.Services, logger, ct);
            logger.LogInformation("Database is up to date ({Applied} migration(s) applied)", applied);
            return 0;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Migrations failed: {Reason}", e.Message);
            return 1;
        }
    }
}
