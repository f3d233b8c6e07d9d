namespace TalkingFace.Gateway.Jobs.Uploads;

/// <summary>The request body went past its byte limit while it was read (answered 413).</summary>
public sealed class UploadTooLargeException(long limit)
    : Exception($"the request body is larger than {limit} bytes")
{
    public long Limit { get; } = limit;
}

/// <summary>The body is not a multipart form this gateway will read: no boundary, cut short, too many parts or too long a field (answered 400).</summary>
public sealed class MalformedUploadException(string message) : Exception(message);

/// <summary>The gateway could not write an upload to its temporary file (disk full, temp folder gone): its fault, not the client's (answered 503).</summary>
public sealed class UploadStagingException(IOException inner)
    : Exception($"the upload could not be written to the gateway's temporary folder: {inner.Message}", inner);
