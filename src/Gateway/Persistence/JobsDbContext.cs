using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Tenancy;

namespace TalkingFace.Gateway.Persistence;

/// <summary>
/// Job state. The model is shared; each provider has its own subclass so that it owns its own
/// migrations (<see cref="PostgresJobsDbContext"/> for distributed mode, <see cref="SqliteJobsDbContext"/> standalone).
/// </summary>
public abstract class JobsDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<JobRecord> Jobs => Set<JobRecord>();
    public DbSet<StageRecord> Stages => Set<StageRecord>();
    public DbSet<ArtifactRecord> Artifacts => Set<ArtifactRecord>();
    public DbSet<BatchRecord> Batches => Set<BatchRecord>();
    public DbSet<WorkerRecord> Workers => Set<WorkerRecord>();
    public DbSet<TenantRecord> Tenants => Set<TenantRecord>();
    public DbSet<ApiKeyRecord> ApiKeys => Set<ApiKeyRecord>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<JobRecord>(job =>
        {
            job.ToTable("jobs");
            job.HasKey(j => j.Id);
            job.Property(j => j.Id).ValueGeneratedNever(); // ids are made by the code, so new records found through a navigation are inserted
            job.Property(j => j.Kind).HasMaxLength(32);
            job.Property(j => j.State).HasConversion<string>().HasMaxLength(16);
            job.Property(j => j.DeviceClass).HasMaxLength(32);
            job.Property(j => j.IdempotencyKey).HasMaxLength(200);
            job.Property(j => j.RequestHash).HasMaxLength(64);
            job.Property(j => j.InputName).HasMaxLength(255);
            job.Property(j => j.Version).IsConcurrencyToken();
            job.HasIndex(j => new { j.TenantId, j.IdempotencyKey }).IsUnique(); // a key is the tenant's own: another tenant's same key is another job
            job.HasIndex(j => new { j.TenantId, j.CreatedAt });
            job.HasIndex(j => new { j.State, j.CreatedAt });
            job.HasIndex(j => j.BatchId);
            job.HasIndex(j => j.FinishedAt); // retention: finished jobs past their time to live
            job.HasMany(j => j.Stages).WithOne().HasForeignKey(s => s.JobId).OnDelete(DeleteBehavior.Cascade);
            job.HasMany(j => j.Artifacts).WithOne().HasForeignKey(a => a.JobId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<StageRecord>(stage =>
        {
            stage.ToTable("stages");
            stage.HasKey(s => s.Id);
            stage.Property(s => s.Id).ValueGeneratedNever(); // ids are made by the code, so new records found through a navigation are inserted
            stage.Property(s => s.Name).HasMaxLength(32);
            stage.Property(s => s.State).HasConversion<string>().HasMaxLength(16);
            stage.Property(s => s.DeviceClass).HasMaxLength(32);
            stage.Property(s => s.Version).IsConcurrencyToken();
            stage.Property(s => s.Timings).HasConversion(JsonConverter<List<StepTiming>>(), JsonComparer<StepTiming>());
            stage.Property(s => s.Warnings).HasConversion(JsonConverter<List<string>>(), JsonComparer<string>()).HasDefaultValue(new List<string>());
            stage.HasIndex(s => new { s.JobId, s.Name }).IsUnique();
            stage.HasIndex(s => new { s.State, s.DispatchAfter });
        });
        model.Entity<ArtifactRecord>(artifact =>
        {
            artifact.ToTable("artifacts");
            artifact.HasKey(a => a.Id);
            artifact.Property(a => a.Id).ValueGeneratedNever(); // ids are made by the code, so new records found through a navigation are inserted
            artifact.Property(a => a.Key).HasMaxLength(512);
            artifact.Property(a => a.Sha256).HasMaxLength(64);
            artifact.HasIndex(a => new { a.JobId, a.Name }).IsUnique();
        });
        model.Entity<BatchRecord>(batch =>
        {
            batch.ToTable("batches");
            batch.HasKey(b => b.Id);
            batch.Property(b => b.Id).ValueGeneratedNever(); // ids are made by the code, so new records found through a navigation are inserted
            batch.Property(b => b.IdempotencyKey).HasMaxLength(200);
            batch.HasIndex(b => new { b.TenantId, b.IdempotencyKey }).IsUnique();
        });
        model.Entity<TenantRecord>(tenant =>
        {
            tenant.ToTable("tenants");
            tenant.HasKey(t => t.Id);
            tenant.Property(t => t.Id).ValueGeneratedNever();
            tenant.Property(t => t.Name).HasMaxLength(100);
            tenant.HasIndex(t => t.Name).IsUnique();
        });
        model.Entity<ApiKeyRecord>(key =>
        {
            key.ToTable("api_keys");
            key.HasKey(k => k.Id);
            key.Property(k => k.Id).ValueGeneratedNever();
            key.Property(k => k.Prefix).HasMaxLength(16);
            key.Property(k => k.Hash).HasMaxLength(64);
            key.Property(k => k.Name).HasMaxLength(200);
            key.HasIndex(k => k.Hash).IsUnique();
            key.HasOne<TenantRecord>().WithMany().HasForeignKey(k => k.TenantId).OnDelete(DeleteBehavior.Cascade);
        });
        model.Entity<WorkerRecord>(worker =>
        {
            worker.ToTable("workers");
            worker.HasKey(w => new { w.WorkerId, w.Stage });
            worker.Property(w => w.Providers).HasConversion(JsonConverter<List<string>>(), JsonComparer<string>());
        });
    }

    /// <summary>Bumps the concurrency token of every modified job and stage, so concurrent writers conflict instead of overwriting.</summary>
    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken ct = default)
    {
        foreach (var entry in ChangeTracker.Entries())
        {
            if (entry.State != EntityState.Modified) continue;
            switch (entry.Entity)
            {
                case JobRecord job: job.Version++; break;
                case StageRecord stage: stage.Version++; break;
            }
        }
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, ct);
    }

    private static ValueConverter<T, string> JsonConverter<T>() where T : new() => new(
        v => JsonSerializer.Serialize(v, JsonSerializerOptions.Web),
        v => JsonSerializer.Deserialize<T>(v, JsonSerializerOptions.Web) ?? new T());

    private static ValueComparer<List<T>> JsonComparer<T>() => new(
        (a, b) => a!.SequenceEqual(b!),
        v => v.Aggregate(0, (h, x) => HashCode.Combine(h, x)),
        v => v.ToList());
}

public sealed class PostgresJobsDbContext(DbContextOptions<PostgresJobsDbContext> options) : JobsDbContext(options);

public sealed class SqliteJobsDbContext(DbContextOptions<SqliteJobsDbContext> options) : JobsDbContext(options)
{
    protected override void ConfigureConventions(ModelConfigurationBuilder conventions)
    {
        // SQLite cannot compare or sort DateTimeOffset text; store UTC ticks instead.
        conventions.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
    }
}
