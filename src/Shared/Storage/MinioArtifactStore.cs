using Microsoft.Extensions.Options;
using Minio;
using Minio.DataModel.Args;
using Minio.Exceptions;
using TalkingFace.Contracts;

namespace TalkingFace.Storage;

/// <summary>Artifact store on MinIO or any S3 server, through the Minio SDK.</summary>
public sealed class MinioArtifactStore : IArtifactStore, IDisposable
{
    private readonly IMinioClient _client;
    private readonly string _bucket;

    public MinioArtifactStore(IOptions<StorageOptions> options)
    {
        var s3 = options.Value.S3;
        _bucket = s3.Bucket;
        var builder = new MinioClient()
            .WithEndpoint(s3.Endpoint)
            .WithCredentials(s3.AccessKey, s3.SecretKey)
            .WithSSL(s3.UseSsl);
        if (!string.IsNullOrEmpty(s3.Region)) builder = builder.WithRegion(s3.Region);
        _client = builder.Build();
    }

    public async Task EnsureReadyAsync(CancellationToken ct)
    {
        if (!await _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(_bucket), ct))
        {
            try
            {
                await _client.MakeBucketAsync(new MakeBucketArgs().WithBucket(_bucket), ct);
            }
            catch (MinioException)
            {
                // Another replica may have created it first; anything else is a real error.
                if (!await _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(_bucket), ct)) throw;
            }
        }
    }

    public async Task<StoredArtifact> PutAsync(string key, string name, Stream content, string contentType, CancellationToken ct)
    {
        await using var staged = await StagedContent.StageAsync(content, ct);
        await _client.PutObjectAsync(new PutObjectArgs()
            .WithBucket(_bucket)
            .WithObject(key)
            .WithStreamData(staged.File)
            .WithObjectSize(staged.Size)
            .WithContentType(contentType), ct);
        return new StoredArtifact(name, key, staged.Size, staged.Sha256, contentType);
    }

    public async Task<StoredArtifact> PutStagedAsync(string key, string name, StagedFile file, string contentType, CancellationToken ct)
    {
        await using var content = file.OpenRead();
        await _client.PutObjectAsync(new PutObjectArgs()
            .WithBucket(_bucket)
            .WithObject(key)
            .WithStreamData(content)
            .WithObjectSize(file.Size)
            .WithContentType(contentType), ct);
        return new StoredArtifact(name, key, file.Size, file.Sha256, contentType);
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken ct)
    {
        // Whole-object GET into a temporary file: ranged GETs are broken in Minio SDK 7.0.0.
        var path = Path.Combine(Path.GetTempPath(), "talkingface-get-" + Guid.NewGuid().ToString("N"));
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920,
            FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            await _client.GetObjectAsync(new GetObjectArgs()
                .WithBucket(_bucket)
                .WithObject(key)
                .WithCallbackStream((stream, token) => stream.CopyToAsync(file, token)), ct);
            file.Position = 0;
            return file;
        }
        catch (Exception e) when (e is ObjectNotFoundException or BucketNotFoundException)
        {
            await file.DisposeAsync();
            throw new ArtifactNotFoundException(key);
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }

    public async Task<bool> ExistsAsync(string key, CancellationToken ct)
    {
        try
        {
            await _client.StatObjectAsync(new StatObjectArgs().WithBucket(_bucket).WithObject(key), ct);
            return true;
        }
        catch (Exception e) when (e is ObjectNotFoundException or BucketNotFoundException)
        {
            return false;
        }
    }

    public Task DeleteAsync(string key, CancellationToken ct) =>
        _client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(_bucket).WithObject(key), ct);

    public async Task<Uri?> GetDownloadUrlAsync(string key, TimeSpan lifetime, CancellationToken ct)
    {
        var url = await _client.PresignedGetObjectAsync(new PresignedGetObjectArgs()
            .WithBucket(_bucket)
            .WithObject(key)
            .WithExpiry((int)Math.Clamp(lifetime.TotalSeconds, 1, 7 * 24 * 3600)));
        return new Uri(url);
    }

    public void Dispose() => _client.Dispose();
}
