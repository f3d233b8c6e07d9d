using System.Security.Cryptography;

namespace TalkingFace.Storage;

/// <summary>Copies a stream to a temporary file while hashing it, so uploads never sit whole in memory and their size is known.</summary>
internal sealed class StagedContent : IAsyncDisposable
{
    private StagedContent(FileStream file, long size, string sha256)
    {
        File = file;
        Size = size;
        Sha256 = sha256;
    }

    public FileStream File { get; }
    public long Size { get; }
    public string Sha256 { get; }

    public static async Task<StagedContent> StageAsync(Stream content, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), "talkingface-" + Guid.NewGuid().ToString("N"));
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920,
            FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[81920];
            long size = 0;
            int read;
            while ((read = await content.ReadAsync(buffer, ct)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), ct);
                size += read;
            }
            file.Position = 0;
            return new StagedContent(file, size, Convert.ToHexStringLower(sha.GetHashAndReset()));
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => File.DisposeAsync();
}
