namespace TalkingFace.Gateway.Persistence;

public enum DatabaseProvider { Sqlite, Postgres }

/// <summary>Bound from the <c>Database</c> configuration section.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>Npgsql or SQLite connection string. Standalone default: a file under <c>.data/</c>.</summary>
    public string ConnectionString { get; set; } = "Data Source=.data/talkingface.db";

    /// <summary>Apply migrations at start (safe with several gateway replicas: EF Core takes a migration lock).</summary>
    public bool MigrateOnStart { get; set; } = true;
}
