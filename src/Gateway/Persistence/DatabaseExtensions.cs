using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;

namespace TalkingFace.Gateway.Persistence;

public static class DatabaseExtensions
{
    /// <summary>Registers <see cref="JobsDbContext"/> on the configured provider and migrates it at start.</summary>
    public static IHostApplicationBuilder AddJobsDatabase(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(DatabaseOptions.Section);
        builder.Services.AddOptions<DatabaseOptions>().Bind(section);
        var options = section.Get<DatabaseOptions>() ?? new DatabaseOptions();

        if (options.Provider == DatabaseProvider.Postgres)
        {
            // Pooled: every request and stage event uses a context, and building one per use showed in bench/load's profile.
            builder.Services.AddDbContextPool<JobsDbContext, PostgresJobsDbContext>(db =>
                db.UseNpgsql(options.ConnectionString, npgsql => npgsql.UseQuerySplittingBehavior(QuerySplittingBehavior.SingleQuery)));
        }
        else
        {
            var sqlite = new SqliteConnectionStringBuilder(options.ConnectionString);
            var folder = Path.GetDirectoryName(Path.GetFullPath(sqlite.DataSource));
            if (folder is not null) Directory.CreateDirectory(folder);
            builder.Services.AddDbContext<JobsDbContext, SqliteJobsDbContext>(db => db.UseSqlite(options.ConnectionString, sqlite => sqlite.UseQuerySplittingBehavior(QuerySplittingBehavior.SingleQuery)));
        }

        builder.Services.AddHostedService<DatabaseMigrator>();
        builder.Services.AddHealthChecks().AddDbContextCheck<JobsDbContext>("database", tags: ["ready"]);
        return builder;
    }
}

/// <summary>Applies pending migrations before the gateway takes requests.</summary>
internal sealed class DatabaseMigrator(IServiceProvider services, IOptions<DatabaseOptions> options, ILogger<DatabaseMigrator> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken ct)
    {
        if (!options.Value.MigrateOnStart) return;
        await MigrateAsync(services, logger, ct);
    }

    /// <summary>Applies every pending migration; returns how many there were. Also used by <c>--migrate-only</c>.</summary>
    public static async Task<int> MigrateAsync(IServiceProvider services, ILogger logger, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<JobsDbContext>();
        int applied;
        if (db.Database.IsNpgsql())
        {
            // Replicas starting together: EF Core's own migration lock did not cover a run of several migrations
            // (a second replica re-ran one the first had applied), so hold a session-wide advisory lock around the whole run.
            var creator = db.GetService<IRelationalDatabaseCreator>();
            if (!await creator.ExistsAsync(ct))
            {
                try
                {
                    await creator.CreateAsync(ct);
                }
                catch (Npgsql.PostgresException e) when (e.SqlState is "42P04" or "23505") // another replica created it first
                {
                }
            }
            await db.Database.OpenConnectionAsync(ct);
            try
            {
                await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_lock(7346327612)", ct);
                applied = await ApplyAsync(db, logger, ct);
            }
            finally
            {
                await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_unlock(7346327612)", CancellationToken.None);
                await db.Database.CloseConnectionAsync();
            }
        }
        else
        {
            applied = await ApplyAsync(db, logger, ct);
        }
        if (db.Database.IsSqlite()) await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        return applied;
    }

    private static async Task<int> ApplyAsync(JobsDbContext db, ILogger logger, CancellationToken ct)
    {
        var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
        if (pending.Count > 0) logger.LogInformation("Applying {Count} migration(s): {Names}", pending.Count, string.Join(", ", pending));
        await db.Database.MigrateAsync(ct);
        return pending.Count;
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}

/// <summary>Lets <c>dotnet ef migrations add X --context PostgresJobsDbContext</c> build the model without a server.</summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresJobsDbContext>
{
    public PostgresJobsDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresJobsDbContext>().UseNpgsql("Host=localhost;Database=talkingface").Options);
}

public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteJobsDbContext>
{
    public SqliteJobsDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteJobsDbContext>().UseSqlite("Data Source=design.db").Options);
}
