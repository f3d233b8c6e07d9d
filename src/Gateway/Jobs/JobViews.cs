using System.Text.Json;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Persistence;

namespace TalkingFace.Gateway.Jobs;

/// <param name="Warnings">Every stage's warnings, each prefixed with its stage ("motion: preview skipped: ..."): what
/// the user should know about a result that is there.</param>
public sealed record JobView(
    Guid Id,
    string Kind,
    string State,
    string? Reason,
    string DeviceClass,
    int Priority,
    JsonElement Options,
    Guid? BatchId,
    string? InputName,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? FinishedAt,
    double? TotalSeconds,
    IReadOnlyList<StageView> Stages,
    IReadOnlyList<ArtifactView> Artifacts,
    IReadOnlyList<string> Warnings);

public sealed record StageView(
    string Name,
    string State,
    int Attempt,
    int MaxAttempts,
    string DeviceClass,
    string? WorkerId,
    string? WorkerHost,
    string? Provider,
    string? Model,
    string? Reason,
    double Progress,
    string? CurrentStep,
    double? QueueWaitSeconds,
    double? RunSeconds,
    IReadOnlyList<StepTiming> Timings,
    DateTimeOffset? DispatchedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    IReadOnlyList<string> Warnings);

public sealed record ArtifactView(string Name, string Stage, long Size, string Sha256, string ContentType, string Url);

public sealed record JobPage<T>(IReadOnlyList<T> Items, int Page, int PageSize, int Total);

public static class JobViewMapping
{
    public static JobView ToView(this JobRecord job) => new(
        job.Id,
        job.Kind,
        job.State.ToString().ToLowerInvariant(),
        job.Reason,
        job.DeviceClass,
        job.Priority,
        JsonDocument.Parse(job.OptionsJson).RootElement.Clone(),
        job.BatchId,
        job.InputName,
        job.CreatedAt,
        job.UpdatedAt,
        job.FinishedAt,
        job.FinishedAt is { } end ? Math.Round((end - job.CreatedAt).TotalSeconds, 3) : null,
        [.. job.Stages.OrderBy(s => s.Order).Select(ToView)],
        [.. job.Artifacts.OrderBy(a => a.CreatedAt).ThenBy(a => a.Name).Select(a => a.ToView(job.Id))],
        [.. job.Stages.OrderBy(s => s.Order).SelectMany(s => s.Warnings.Select(w => $"{s.Name}: {w}"))]);

    public static StageView ToView(this StageRecord s) => new(
        s.Name, s.State.ToString().ToLowerInvariant(), s.Attempt, s.MaxAttempts, s.DeviceClass, s.WorkerId, s.WorkerHost,
        s.Provider, s.Model, s.Reason, s.Progress, s.CurrentStep, s.QueueWaitSeconds, s.RunSeconds, s.Timings,
        s.DispatchedAt, s.StartedAt, s.FinishedAt, s.Warnings);

    public static ArtifactView ToView(this ArtifactRecord a, Guid jobId) =>
        new(a.Name, a.Stage, a.Size, a.Sha256, a.ContentType, $"/api/jobs/{jobId}/artifacts/{Uri.EscapeDataString(a.Name)}");
}
