using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using TalkingFace.Gateway.Tenancy;
using Microsoft.Extensions.Options;
using TalkingFace.Media;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Gateway.Jobs;

/// <summary>
/// Reads and validates a multipart submit: every problem becomes a problem+json answer
/// (400 malformed, 413 too large, 415 wrong content), never an exception.
/// </summary>
public sealed class SubmitForm
{
    private readonly Dictionary<string, string[]> _errors = [];

    private readonly IServiceProvider? _services;

    private SubmitForm(IFormCollection form, IServiceProvider? services = null)
    {
        Form = form;
        _services = services;
    }

    public IFormCollection Form { get; }
    public bool HasErrors => _errors.Count > 0;

    public static async Task<(SubmitForm? Form, IResult? Problem)> ReadAsync(HttpRequest request, long maxBytes, CancellationToken ct)
    {
        if (request.HttpContext.User.MaxUploadBytesOf() is { } tenantLimit) maxBytes = Math.Min(maxBytes, tenantLimit); // the tenant's own, never above the gateway's
        if (request.ContentLength > maxBytes) return (null, TooLarge(maxBytes));
        if (!request.HasFormContentType)
            return (null, Problems.Status(StatusCodes.Status415UnsupportedMediaType, "Expected a multipart/form-data upload",
                $"The request's content type is '{request.ContentType ?? "none"}'; send the files as multipart/form-data."));
        try
        {
            var features = request.HttpContext.Features;
            if (features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = maxBytes;
            request.HttpContext.Features.Set<IFormFeature>(new FormFeature(request, new FormOptions { MultipartBodyLengthLimit = maxBytes }));
            var form = await request.ReadFormAsync(ct);
            return (new SubmitForm(form, request.HttpContext.RequestServices), null);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxBytes));
        }
        catch (InvalidDataException e) when (e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase))
        {
            return (null, TooLarge(maxBytes));
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
        {
            return (null, Problems.Status(StatusCodes.Status400BadRequest, "Malformed multipart body", e.Message));
        }
    }

    public IResult ValidationProblem() => TypedResults.ValidationProblem(_errors, title: "The job request is not valid");

    public void Error(string field, string message) =>
        _errors[field] = _errors.TryGetValue(field, out var list) ? [.. list, message] : [message];

    public string Choice(string field, IReadOnlyCollection<string> allowed, string fallback)
    {
        var value = Form[field].ToString().Trim();
        if (value.Length == 0) return fallback;
        if (allowed.Contains(value, StringComparer.Ordinal)) return value;
        Error(field, $"'{value}' is not one of: {string.Join(", ", allowed)}.");
        return fallback;
    }

    public int Integer(string field, int fallback, int min, int max)
    {
        var value = Form[field].ToString().Trim();
        if (value.Length == 0) return fallback;
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return n;
        Error(field, $"'{value}' is not a whole number from {min} to {max}.");
        return fallback;
    }

    public double Number(string field, double fallback, double min, double max)
    {
        var value = Form[field].ToString().Trim();
        if (value.Length == 0) return fallback;
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) && n >= min && n <= max) return n;
        Error(field, $"'{value}' is not a number from {min} to {max}.");
        return fallback;
    }

    public string? Text(string field, int maxLength)
    {
        var value = Form[field].ToString().Trim();
        if (value.Length == 0) return null;
        if (value.Length <= maxLength) return value;
        Error(field, $"is longer than {maxLength} characters.");
        return null;
    }

    /// <summary>The one file in <paramref name="field"/>, checked by its first bytes to be of the expected family; null (with an error) otherwise.</summary>
    public IFormFile? File(string field, Func<MediaKind, bool> accepts, string expected, bool required = true)
    {
        var files = Form.Files.GetFiles(field);
        if (files.Count == 0)
        {
            if (required) Error(field, $"is required: attach {expected}.");
            return null;
        }
        if (files.Count > 1)
        {
            Error(field, $"expects one file, got {files.Count}.");
            return null;
        }
        return Check(field, files[0], accepts, expected) ? files[0] : null;
    }

    public bool Check(string field, IFormFile file, Func<MediaKind, bool> accepts, string expected)
    {
        if (file.Length == 0)
        {
            Error(field, $"'{file.FileName}' is empty.");
            return false;
        }
        var kind = Sniff(file);
        if (accepts(kind))
        {
            if (ContentProblem(file, kind) is not { } problem) return true;
            Error(field, problem);
            return false;
        }
        Error(field, kind == MediaKind.Unknown
            ? $"'{file.FileName}' is not {expected}: its content matches no known format."
            : $"'{file.FileName}' is {kind.Describe()}, not {expected}.");
        return false;
    }

    /// <summary>
    /// What is wrong with a file of an accepted kind, judged by more of its bytes: an image whose container is broken or
    /// declares an absurd canvas (<see cref="ImageProbe"/>), a WAV whose header declares more than the audio stage's
    /// <c>Audio:Conversion:MaxDuration</c> (a 10-hour header on a small file). Null when nothing is.
    /// </summary>
    private string? ContentProblem(IFormFile file, MediaKind kind)
    {
        using var stream = file.OpenReadStream();
        if (kind.IsImage()) return ImageProbe.Check(stream, kind, file.FileName);
        if (kind != MediaKind.Wav) return null;
        var limit = (_services?.GetService<IOptions<AudioConversionOptions>>()?.Value ?? new AudioConversionOptions()).MaxDuration;
        try
        {
            var header = WavReader.ReadHeaderAsync(stream).GetAwaiter().GetResult(); // a file already spooled by the form reader
            return header.DeclaredDuration is { } declared && declared > limit
                ? $"'{file.FileName}' declares {Duration(declared)} of audio; the limit is {Duration(limit)} (Audio:Conversion:MaxDuration)."
                : null;
        }
        catch (AudioFormatException)
        {
            return null; // broken headers get their own, more precise answer from AudioProbe
        }
    }

    private static string Duration(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{t.TotalHours.ToString("0.#", CultureInfo.InvariantCulture)} h"
        : t.TotalMinutes >= 1 ? $"{t.TotalMinutes.ToString("0.#", CultureInfo.InvariantCulture)} min"
        : $"{t.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s";

    /// <summary>The client's file name as a record may keep it: no folders, no control characters, at most 255 characters.</summary>
    public static string SafeFileName(string? name)
    {
        var file = Path.GetFileName((name ?? "").Replace('\\', '/'));
        file = new string([.. file.Where(c => !char.IsControl(c))]).Trim();
        if (file.Length > 255) file = file[..200] + "…" + file[^54..];
        return file.Length == 0 ? "upload" : file;
    }

    public static MediaKind Sniff(IFormFile file)
    {
        using var stream = file.OpenReadStream();
        var head = new byte[ContentSniffer.HeadLength];
        var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return ContentSniffer.Sniff(head.AsSpan(0, read));
    }

    private static IResult TooLarge(long maxBytes) =>
        Problems.Status(StatusCodes.Status413PayloadTooLarge, "Upload too large",
            $"The request is larger than the limit of {Size(maxBytes)} (Gateway:MaxUploadBytes).");

    /// <summary>A limit as people write it: "200 MiB", "64 KiB", or bytes (whole MiB alone would show 64 KiB as "0 MiB").</summary>
    private static string Size(long bytes) =>
        bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB"
        : bytes % 1024 == 0 ? $"{bytes / 1024} KiB"
        : $"{bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes";
}

public static class Problems
{
    public static IResult Status(int status, string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title);

    public static IResult NotFound(string what) =>
        Status(StatusCodes.Status404NotFound, "Not found", what);
}
