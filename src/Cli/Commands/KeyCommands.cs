using System.CommandLine;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Gateway.Tenancy;

namespace TalkingFace.Cli.Commands;

/// <summary>
/// <c>keys create|list|revoke</c>: API keys of the distributed gateway, straight on its database (an operator's
/// tool, not an HTTP call: whoever can run it can reach the database). Only the key's SHA-256 is stored; the key
/// is printed once, by <c>create</c>.
/// </summary>
public static class KeyCommands
{
    public static Command Create()
    {
        var keys = new Command("keys", "API keys and tenants of a distributed gateway (on its database)");
        keys.Subcommands.Add(CreateKey());
        keys.Subcommands.Add(ListKeys());
        keys.Subcommands.Add(RevokeKey());
        return keys;
    }

    private static Option<string> Database() => new("--database")
    {
        Description = "Connection string of the gateway's database (or set Database__ConnectionString); 'Data Source=...' means SQLite, else PostgreSQL",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("Database__ConnectionString") ?? "",
    };

    private static Command CreateKey()
    {
        var database = Database();
        var tenant = new Option<string>("--tenant") { Description = "Tenant name (made if new)", Required = true };
        var name = new Option<string?>("--name") { Description = "What the key is for" };
        var rate = new Option<int?>("--requests-per-second") { Description = "The tenant's request rate limit (default: Tenancy:RequestsPerSecond)" };
        var upload = new Option<long?>("--max-upload-bytes") { Description = "The tenant's upload limit (never above Gateway:MaxUploadBytes)" };
        var command = new Command("create", "Make an API key for a tenant; prints the key once") { database, tenant, name, rate, upload };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            await using var db = await OpenAsync(r.GetValue(database)!, ct);
            var created = await new TenantAdmin(db).CreateKeyAsync(r.GetValue(tenant)!, r.GetValue(name), r.GetValue(rate), r.GetValue(upload), ct);
            Console.WriteLine($"tenant {created.TenantName} ({created.TenantId})");
            Console.WriteLine($"key id {created.KeyId}");
            Console.WriteLine(created.Key);
            await Console.Error.WriteLineAsync("Store the key now: only its hash is kept. Send it as 'Authorization: Bearer KEY' (the CLI reads TALKINGFACE_API_KEY).");
            return 0;
        }));
        return command;
    }

    private static Command ListKeys()
    {
        var database = Database();
        var command = new Command("list", "List keys (prefix, tenant, created, revoked); never the keys themselves") { database };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            await using var db = await OpenAsync(r.GetValue(database)!, ct);
            foreach (var k in await new TenantAdmin(db).ListAsync(ct))
            {
                var revoked = k.RevokedAt is { } at ? "revoked " + at.ToString("u", CultureInfo.InvariantCulture) : "active";
                Console.WriteLine($"{k.KeyId}  {k.Prefix}…  tenant {k.TenantName}  {k.Name ?? "-"}  created {k.CreatedAt.ToString("u", CultureInfo.InvariantCulture)}  {revoked}");
            }
            return 0;
        }));
        return command;
    }

    private static Command RevokeKey()
    {
        var database = Database();
        var key = new Argument<string>("key") { Description = "The key's id or its shown prefix" };
        var command = new Command("revoke", "Revoke a key (gateways stop accepting it within Tenancy:KeyCacheDuration)") { key, database };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            await using var db = await OpenAsync(r.GetValue(database)!, ct);
            if (await new TenantAdmin(db).RevokeAsync(r.GetValue(key)!, ct)) return 0;
            await Console.Error.WriteLineAsync($"error: no single key matches '{r.GetValue(key)}'");
            return 1;
        }));
        return command;
    }

    /// <summary>The gateway's database, migrated like the gateway does at start (so keys can be made before its first start).</summary>
    private static async Task<JobsDbContext> OpenAsync(string connectionString, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(connectionString)) throw new IOException("no database: pass --database or set Database__ConnectionString");
        JobsDbContext db = connectionString.TrimStart().StartsWith("Data Source", StringComparison.OrdinalIgnoreCase)
            ? new SqliteJobsDbContext(new DbContextOptionsBuilder<SqliteJobsDbContext>().UseSqlite(connectionString).Options)
            : new PostgresJobsDbContext(new DbContextOptionsBuilder<PostgresJobsDbContext>().UseNpgsql(connectionString).Options);
        try
        {
            await db.Database.MigrateAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await db.DisposeAsync();
            throw new IOException("cannot open the database: " + e.Message, e);
        }
        return db;
    }
}
