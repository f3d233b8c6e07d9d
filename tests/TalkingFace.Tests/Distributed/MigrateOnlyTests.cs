using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Distributed;

/// <summary>
/// <c>TalkingFace.Gateway --migrate-only</c>, which the Helm chart's pre-install/pre-upgrade Job runs: it brings a
/// real PostgreSQL database to the latest schema and exits 0, and exits 1 (not a crash) when it cannot.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class MigrateOnlyTests(DistributedServices services)
{
    [Fact]
    public async Task Migrate_only_creates_the_schema_on_a_new_database_and_is_idempotent()
    {
        var connection = services.PostgresConnectionString(services.UniqueName("migrate"));
        string[] args = [MigrateOnlyCommand.Flag];
        Assert.True(MigrateOnlyCommand.IsRequested(args));

        Assert.Equal(0, await MigrateOnlyCommand.RunAsync(args, Distributed(connection)));

        await using var db = new PostgresJobsDbContext(new DbContextOptionsBuilder<PostgresJobsDbContext>().UseNpgsql(connection).Options);
        var all = db.Database.GetMigrations().ToList();
        Assert.NotEmpty(all);
        Assert.Equal(all, await db.Database.GetAppliedMigrationsAsync());
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.Equal(0, await db.Jobs.CountAsync()); // the tables exist and are empty

        // An upgrade with nothing new: still 0, nothing changed.
        Assert.Equal(0, await MigrateOnlyCommand.RunAsync(args, Distributed(connection)));
        Assert.Equal(all, await db.Database.GetAppliedMigrationsAsync());
    }

    [Fact]
    public async Task Migrate_only_exits_1_when_the_database_cannot_be_reached()
    {
        var unreachable = "Host=127.0.0.1;Port=1;Database=nowhere;Username=nobody;Password=wrong;Timeout=3";
        Assert.Equal(1, await MigrateOnlyCommand.RunAsync([MigrateOnlyCommand.Flag], Distributed(unreachable)));
    }

    [Fact]
    public void Gateway_runs_normally_without_the_flag() =>
        Assert.False(MigrateOnlyCommand.IsRequested(["--urls", "http://127.0.0.1:0"]));

    private static Action<IConfigurationBuilder> Distributed(string connectionString) => configuration =>
        configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:Mode"] = "Distributed",
            ["Database:ConnectionString"] = connectionString,
            ["Logging:LogLevel:Default"] = "Warning",
        });
}
