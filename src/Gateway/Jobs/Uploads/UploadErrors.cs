namespace TalkingFace.Gateway.Jobs.Uploads;

/// <summary>The request body went past its byte limit while it was read (answered 413).</summary>
public sealed class UploadTooLargeException(long limit)
    : Exception($"the request body is larger than {limit} bytes")
{
    public long Limit { get; } = limit;
}

/// <summary>The body is not a multipart form this gateway will read: no boundary, cut short, too many parts or too long a field (answered 400).</summary>
public sealed class MalformedUploadException(string message) : Exception(message);
