namespace TalkingFace.Storage;

public enum StorageProvider { LocalFolder, S3 }

/// <summary>Bound from the <c>Storage</c> configuration section.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    public StorageProvider Provider { get; set; } = StorageProvider.LocalFolder;

    /// <summary>Root folder of the local store (standalone mode).</summary>
    public string LocalRoot { get; set; } = Path.Combine(".data", "artifacts");

    public S3StorageOptions S3 { get; set; } = new();

    /// <summary>How long a presigned download URL stays valid.</summary>
    public TimeSpan DownloadUrlLifetime { get; set; } = TimeSpan.FromMinutes(10);
}

public sealed class S3StorageOptions
{
    /// <summary>host:port of the S3 server (MinIO, s3rver, AWS).</summary>
    public string Endpoint { get; set; } = "127.0.0.1:9000";
    public string AccessKey { get; set; } = "";
    public string SecretKey { get; set; } = "";
    public bool UseSsl { get; set; }
    public string Bucket { get; set; } = "talkingface";
    public string? Region { get; set; }
}
