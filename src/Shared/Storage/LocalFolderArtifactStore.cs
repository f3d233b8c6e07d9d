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
        // Write beside the target and rename, so a reader never sees half an object.
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".partial";
        await using (var target = File.Create(temp))
        {
            await staged.File.CopyToAsync(target, ct);
        }
        File.Move(temp, path, overwrite: true);
        return new StoredArtifact(name, key, staged.Size, staged.Sha256, contentType);
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
