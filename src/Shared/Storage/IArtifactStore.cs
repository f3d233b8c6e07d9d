using TalkingFace.Contracts;

namespace TalkingFace.Storage;

/// <summary>Where inputs and stage outputs live. Keys look like <c>jobs/{id}/{stage}/{name}</c>.</summary>
public interface IArtifactStore
{
    /// <summary>Creates the bucket or folder if needed. Called once at start.</summary>
    Task EnsureReadyAsync(CancellationToken ct);

    /// <summary>Stores <paramref name="content"/> under <paramref name="key"/> (overwriting: writes are idempotent) and returns its size and sha256.</summary>
    Task<StoredArtifact> PutAsync(string key, string name, Stream content, string contentType, CancellationToken ct);

    /// <summary>
    /// Stores a file already staged on local disk, whose size and sha256 are known (an upload hashed as it arrived):
    /// sent on as it is, without the temporary copy <see cref="PutAsync"/> makes to learn them.
    /// </summary>
    Task<StoredArtifact> PutStagedAsync(string key, string name, StagedFile file, string contentType, CancellationToken ct);

    /// <summary>Opens the object for reading. The caller disposes the stream.</summary>
    /// <exception cref="ArtifactNotFoundException">No object has that key.</exception>
    Task<Stream> OpenReadAsync(string key, CancellationToken ct);

    Task<bool> ExistsAsync(string key, CancellationToken ct);

    Task DeleteAsync(string key, CancellationToken ct);

    /// <summary>A short-lived URL a client can download from directly, or null when the store cannot make one (local folder).</summary>
    Task<Uri?> GetDownloadUrlAsync(string key, TimeSpan lifetime, CancellationToken ct);
}

public sealed class ArtifactNotFoundException(string key)
    : Exception($"artifact '{key}' does not exist in the store")
{
    public string Key { get; } = key;
}
