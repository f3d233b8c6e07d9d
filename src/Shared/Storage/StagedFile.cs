namespace TalkingFace.Storage;

/// <summary>
/// Content already written to a local file whose size and sha256 were computed while it was written, so the store
/// can send it on without copying or hashing it again (<see cref="IArtifactStore.PutStagedAsync"/>).
/// The owner of the file deletes it; the store only reads it.
/// </summary>
public sealed record StagedFile(string Path, long Size, string Sha256)
{
    /// <summary>A new read-only stream over the file; it may be open more than once, and deleted while open.</summary>
    public FileStream OpenRead() =>
        new(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
}
