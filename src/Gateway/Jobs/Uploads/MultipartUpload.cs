using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace TalkingFace.Gateway.Jobs.Uploads;

/// <summary>How much of a form the gateway reads before it refuses the request.</summary>
/// <param name="MaxBytes">The whole request body (413 beyond it).</param>
/// <param name="MaxParts">Form parts: files and fields together.</param>
/// <param name="MaxFieldBytes">One text field's value.</param>
/// <param name="MaxFieldsBytes">All text fields together: the only part of a form held in memory.</param>
public sealed record UploadLimits(long MaxBytes, int MaxParts = UploadLimits.DefaultMaxParts, int MaxFieldBytes = 64 * 1024, int MaxFieldsBytes = 1024 * 1024)
{
    /// <summary>Enough for a default batch (1000 files) with its options.</summary>
    public const int DefaultMaxParts = 1100;
}

/// <summary>
/// A multipart/form-data request read as a stream: each file part copied once, in bounded buffers, into its own
/// temporary file (<see cref="StagedUpload"/>), each text field read into a string no longer than the limit. Nothing
/// the size of a file is ever held in memory. Disposing deletes the staged files.
/// </summary>
public sealed class MultipartUpload : IAsyncDisposable
{
    /// <summary>RFC 2046 caps a boundary at 70 characters.</summary>
    private const int MaxBoundaryLength = 70;

    private readonly Dictionary<string, List<string>> _fields = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<StagedUpload> _files = [];

    private MultipartUpload() { }

    public IReadOnlyList<StagedUpload> Files => _files;

    /// <summary>The files sent in <paramref name="field"/> (names compare without case, as ASP.NET's form does).</summary>
    public IReadOnlyList<StagedUpload> FilesOf(string field) =>
        [.. _files.Where(f => string.Equals(f.Field, field, StringComparison.OrdinalIgnoreCase))];

    /// <summary>The text of <paramref name="field"/>; several values joined by commas; "" when absent.</summary>
    public string Value(string field) => _fields.TryGetValue(field, out var values) ? string.Join(',', values) : "";

    /// <summary>Reads the whole body of <paramref name="request"/>, a multipart (or URL-encoded) form.</summary>
    /// <exception cref="UploadTooLargeException">The body is longer than <see cref="UploadLimits.MaxBytes"/>.</exception>
    /// <exception cref="MalformedUploadException">The body is not a form this reader accepts.</exception>
    /// <exception cref="InvalidDataException">The multipart framing is broken (from <see cref="MultipartReader"/>).</exception>
    /// <exception cref="IOException">The body ended before the closing boundary.</exception>
    public static async Task<MultipartUpload> ReadAsync(HttpRequest request, UploadLimits limits, CancellationToken ct)
    {
        var upload = new MultipartUpload();
        try
        {
            var body = new CappedStream(request.Body, limits.MaxBytes);
            if (request.HasFormContentType && !IsMultipart(request.ContentType)) await upload.ReadUrlEncodedAsync(body, limits, ct);
            else await upload.ReadMultipartAsync(Boundary(request.ContentType), body, limits, ct);
            return upload;
        }
        catch
        {
            await upload.DisposeAsync();
            throw;
        }
    }

    private async Task ReadMultipartAsync(string boundary, Stream body, UploadLimits limits, CancellationToken ct)
    {
        var reader = new MultipartReader(boundary, body) { HeadersCountLimit = 16, HeadersLengthLimit = 16 * 1024 };
        var parts = 0;
        var fieldBytes = 0;
        while (await reader.ReadNextSectionAsync(ct) is { } section)
        {
            if (++parts > limits.MaxParts) throw new MalformedUploadException($"The form has more than {limits.MaxParts} parts.");
            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                throw new MalformedUploadException("A form part has no valid Content-Disposition header.");
            var name = HeaderUtilities.RemoveQuotes(disposition.Name).ToString();
            if (disposition.IsFileDisposition())
            {
                var fileName = HeaderUtilities.RemoveQuotes(StringSegment.IsNullOrEmpty(disposition.FileNameStar) ? disposition.FileName : disposition.FileNameStar).ToString();
                _files.Add(await StagedUpload.StageAsync(name, fileName, section.Body, ct));
            }
            else if (disposition.IsFormDisposition())
            {
                var value = await ReadFieldAsync(name, section.Body, limits.MaxFieldBytes, ct);
                fieldBytes += value.Length;
                if (fieldBytes > limits.MaxFieldsBytes) throw new MalformedUploadException($"The form's text fields hold more than {limits.MaxFieldsBytes} bytes together.");
                Add(name, value);
            }
            else
            {
                await section.Body.DrainAsync(ct); // neither a file nor a field: skipped, as ASP.NET's form reader does
            }
        }
    }

    private async Task ReadUrlEncodedAsync(Stream body, UploadLimits limits, CancellationToken ct)
    {
        using var reader = new FormReader(body, Encoding.UTF8)
        {
            ValueCountLimit = limits.MaxParts,
            KeyLengthLimit = 2048,
            ValueLengthLimit = limits.MaxFieldBytes,
        };
        var form = await reader.ReadFormAsync(ct);
        if (form.Sum(f => f.Value.Sum(v => v?.Length ?? 0)) > limits.MaxFieldsBytes)
            throw new MalformedUploadException($"The form's fields hold more than {limits.MaxFieldsBytes} bytes together.");
        foreach (var (key, values) in form)
            foreach (var v in values) Add(key, v ?? "");
    }

    private void Add(string name, string value)
    {
        if (_fields.TryGetValue(name, out var values)) values.Add(value);
        else _fields[name] = [value];
    }

    private static async Task<string> ReadFieldAsync(string name, Stream section, int maxBytes, CancellationToken ct)
    {
        var buffer = new byte[Math.Min(maxBytes + 1, 4096)];
        using var text = new MemoryStream();
        int read;
        while ((read = await section.ReadAsync(buffer, ct)) > 0)
        {
            if (text.Length + read > maxBytes) throw new MalformedUploadException($"The form field '{name}' is longer than {maxBytes} bytes.");
            text.Write(buffer, 0, read);
        }
        return Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
    }

    private static bool IsMultipart(string? contentType) =>
        contentType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) == true;

    private static string Boundary(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType))
            throw new MalformedUploadException($"The content type {Problems.Quote(contentType ?? "")} cannot be parsed.");
        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary);
        if (StringSegment.IsNullOrEmpty(boundary)) throw new MalformedUploadException("Missing content-type boundary.");
        if (boundary.Length > MaxBoundaryLength) throw new MalformedUploadException($"The multipart boundary is longer than {MaxBoundaryLength} characters.");
        return boundary.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var file in _files) await file.DisposeAsync();
        _files.Clear();
    }
}
