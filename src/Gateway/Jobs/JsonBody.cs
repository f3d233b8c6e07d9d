using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using TalkingFace.Gateway.Jobs.Uploads;

namespace TalkingFace.Gateway.Jobs;

/// <summary>
/// Reads a small JSON request body under a byte cap of the endpoint's own: 413 as soon as more than that has come
/// (declared or chunked), 415 for another content type, 400 for JSON that does not parse (saying where, never
/// repeating the value). An empty body is null: the endpoint's defaults apply.
/// </summary>
public static class JsonBody
{
    public static async Task<(T? Body, IResult? Problem)> ReadAsync<T>(HttpRequest request, int maxBytes, CancellationToken ct) where T : class
    {
        if (request.ContentLength > maxBytes) return (null, TooLarge(maxBytes));
        // The cap is small, so the body is read whole (through the cap) before it is parsed.
        using var buffer = new MemoryStream();
        try
        {
            await new CappedStream(request.Body, maxBytes).CopyToAsync(buffer, ct);
        }
        catch (UploadTooLargeException)
        {
            return (null, TooLarge(maxBytes));
        }
        if (buffer.Length == 0) return (null, null);
        if (!request.HasJsonContentType())
            return (null, Problems.Status(StatusCodes.Status415UnsupportedMediaType, "Not JSON",
                $"The body's content type is {Problems.Quote(request.ContentType ?? "none")}; send application/json."));
        var options = request.HttpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        try
        {
            return (JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), options), null);
        }
        catch (JsonException e)
        {
            var where = e.Path is { Length: > 0 } path ? $" at {Problems.Quote(path)}" : "";
            return (null, Problems.Status(StatusCodes.Status400BadRequest, "Malformed JSON body",
                $"The body is not valid JSON for this request{where} (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})."));
        }
    }

    private static IResult TooLarge(int maxBytes) =>
        Problems.Status(StatusCodes.Status413PayloadTooLarge, "Request body too large",
            $"This endpoint takes a JSON body of at most {maxBytes / 1024} KiB.");
}
