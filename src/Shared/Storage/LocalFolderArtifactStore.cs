using Microsoft.Extensions.Options;
using TalkingFace.Contracts;

namespace TalkingFace.Storage;

/// <summary>Artifact store on a local folder: the standalone mode's default.</summary>
public sealed class LocalFolderArtifactStore(IOptions<StorageOptions> options) : IArtifactStore
{
    private readonly string _root = Path.GetFullPath(options.Value.LocalRoot);

    public Task EnsureReadyAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(_root);
        return Task.CompletedTask;
    }

    public async Task<StoredArtifact> PutAsync(string key, string name, Stream content, string contentType, CancellationToken ct)
    {
        var path = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using var staged = await StagedContent.StageAsync(content, ct);
        await WriteAsync(path, staged.File, ct);
        return new StoredArtifact(name, key, staged.Size, staged.Sha256, contentType);
    }

    public async Task<StoredArtifact> PutStagedAsync(string key, string name, StagedFile file, string contentType, CancellationToken ct)
    {
        var path = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using (var content = file.OpenRead())
            await WriteAsync(path, content, ct);
        return new StoredArtifact(name, key, file.Size, file.Sha256, contentType);
    }

    /// <summary>Writes beside the target and renames, so a reader never sees half an object.</summary>
    private static async Task WriteAsync(string path, Stream content, CancellationToken ct)
    {
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".partial";
        try
        {
            await using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
                await content.CopyToAsync(target, ct);
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp); // no half-written leftovers when the copy is cancelled or fails
            throw;
        }
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken ct)
    {
        var path = PathOf(key);
        if (!File.Exists(path)) throw new ArtifactNotFoundException(key);
        return Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true));
    }

    public Task<bool> ExistsAsync(string key, CancellationToken ct) => Task.FromResult(File.Exists(PathOf(key)));

    public Task DeleteAsync(string key, CancellationToken ct)
    {
        File.Delete(PathOf(key));
        return Task.CompletedTask;
    }

    public Task<Uri?> GetDownloadUrlAsync(string key, TimeSpan lifetime, CancellationToken ct) => Task.FromResult<Uri?>(null);

    private string PathOf(string key)
    {
        var path = Path.GetFullPath(Path.Combine(_root, key));
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"artifact key '{key}' escapes the store", nameof(key));
        return path;
    }
}
