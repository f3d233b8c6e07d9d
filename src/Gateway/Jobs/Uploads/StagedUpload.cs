using System.Buffers;
using System.Security.Cryptography;
using TalkingFace.Media;
using TalkingFace.Storage;

namespace TalkingFace.Gateway.Jobs.Uploads;

/// <summary>
/// One uploaded file, written once to a temporary file as it arrived, with its size, sha256 and kind (sniffed from its
/// first bytes) computed on the way. Validation reads the file; the store receives it as it is (<see cref="Staged"/>).
/// Disposing deletes the file.
/// </summary>
public sealed class StagedUpload : IAsyncDisposable
{
    private const int BufferSize = 81920;

    private StagedUpload(string field, string fileName, StagedFile staged, MediaKind kind)
    {
        Field = field;
        FileName = fileName;
        Staged = staged;
        Kind = kind;
    }

    /// <summary>The form field it came in.</summary>
    public string Field { get; }

    /// <summary>The name the client gave, as sent (see <see cref="SubmitForm.SafeFileName"/> for the one a record keeps).</summary>
    public string FileName { get; }

    public StagedFile Staged { get; }
    public long Length => Staged.Size;
    public string Sha256 => Staged.Sha256;

    /// <summary>The kind its first bytes say it is, whatever name or content type the client sent.</summary>
    public MediaKind Kind { get; }

    public Stream OpenRead() => Staged.OpenRead();

    /// <summary>
    /// Copies <paramref name="content"/> into a new temporary file in bounded buffers, hashing it and keeping its first
    /// bytes for the sniffer. The file is deleted again if the copy fails (a cut body, a limit reached, a cancel).
    /// </summary>
    public static async Task<StagedUpload> StageAsync(string field, string fileName, Stream content, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), "talkingface-upload-" + Guid.NewGuid().ToString("N"));
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var head = new byte[ContentSniffer.HeadLength];
            var headLength = 0;
            long size = 0;
            await using (var file = Create(path))
            {
                int read;
                while ((read = await content.ReadAsync(buffer.AsMemory(0, BufferSize), ct)) > 0) // a broken body throws here: the client's fault
                {
                    if (headLength < head.Length)
                    {
                        var take = Math.Min(read, head.Length - headLength);
                        buffer.AsSpan(0, take).CopyTo(head.AsSpan(headLength));
                        headLength += take;
                    }
                    sha.AppendData(buffer, 0, read);
                    await WriteAsync(file, buffer.AsMemory(0, read), ct); // a failing disk throws here: ours
                    size += read;
                }
            }
            var kind = ContentSniffer.Sniff(head.AsSpan(0, headLength));
            return new StagedUpload(field, fileName, new StagedFile(path, size, Convert.ToHexStringLower(sha.GetHashAndReset())), kind);
        }
        catch
        {
            TryDelete(path);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static FileStream Create(string path)
    {
        try
        {
            return new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous);
        }
        catch (IOException e)
        {
            throw new UploadStagingException(e);
        }
    }

    private static async Task WriteAsync(FileStream file, ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        try
        {
            await file.WriteAsync(bytes, ct);
        }
        catch (IOException e)
        {
            throw new UploadStagingException(e);
        }
    }

    public ValueTask DisposeAsync()
    {
        TryDelete(Staged.Path);
        return ValueTask.CompletedTask;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // already gone, or the disk is failing; nothing else holds it
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
