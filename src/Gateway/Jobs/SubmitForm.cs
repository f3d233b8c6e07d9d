using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using TalkingFace.Gateway.Jobs.Uploads;
using TalkingFace.Gateway.Hosting;
using TalkingFace.Gateway.Tenancy;
using Microsoft.Extensions.Options;
using TalkingFace.Media;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Gateway.Jobs;

/// <summary>
/// Reads and validates a multipart submit: every problem becomes a problem+json answer
/// (400 malformed, 413 too large, 415 wrong content), never an exception. The files are streamed to temporary files
/// as they arrive (<see cref="MultipartUpload"/>), deleted when the request ends, whatever its outcome.
/// </summary>
public sealed class SubmitForm
{
    private readonly Dictionary<string, string[]> _errors = [];

    private readonly MultipartUpload _upload;
    private readonly IServiceProvider? _services;

    private SubmitForm(MultipartUpload upload, IServiceProvider? services = null)
    {
        _upload = upload;
        _services = services;
    }

    public bool HasErrors => _errors.Count > 0;

    /// <summary>The files sent in <paramref name="field"/>, staged, sniffed and hashed.</summary>
    public IReadOnlyList<StagedUpload> Files(string field) => _upload.FilesOf(field);

    /// <summary>The text of <paramref name="field"/> ("" when absent).</summary>
    public string Value(string field) => _upload.Value(field);

    public static async Task<(SubmitForm? Form, IResult? Problem)> ReadAsync(HttpRequest request, long maxBytes, CancellationToken ct)
    {
        if (request.HttpContext.User.MaxUploadBytesOf() is { } tenantLimit) maxBytes = Math.Min(maxBytes, tenantLimit); // the tenant's own, never above the gateway's
        if (request.ContentLength > maxBytes) return (null, TooLarge(maxBytes));
        if (!request.HasFormContentType)
            return (null, Problems.Status(StatusCodes.Status415UnsupportedMediaType, "Expected a multipart/form-data upload",
                $"The request's content type is {Problems.Quote(request.ContentType ?? "none")}; send the files as multipart/form-data."));
        try
        {
            if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = maxBytes;
            var batchItems = request.HttpContext.RequestServices.GetService<IOptions<GatewayOptions>>()?.Value.MaxBatchItems ?? 0;
            var limits = new UploadLimits(maxBytes, MaxParts: Math.Max(UploadLimits.DefaultMaxParts, batchItems + 100)); // a full batch always fits
            var upload = await MultipartUpload.ReadAsync(request, limits, ct);
            request.HttpContext.Response.RegisterForDisposeAsync(upload); // the staged files go when the request ends, answered or not
            return (new SubmitForm(upload, request.HttpContext.RequestServices), null);
        }
        catch (UploadTooLargeException)
        {
            return (null, TooLarge(maxBytes));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxBytes));
        }
        catch (UploadStagingException e)
        {
            request.HttpContext.Response.Headers.RetryAfter = "30";
            return (null, Problems.Status(StatusCodes.Status503ServiceUnavailable, "Upload cannot be stored right now", e.Message));
        }
        catch (Exception e) when (e is MalformedUploadException or InvalidDataException or BadHttpRequestException or IOException)
        {
            return (null, Problems.Status(StatusCodes.Status400BadRequest, "Malformed multipart body", e.Message));
        }
    }

    public IResult ValidationProblem() => TypedResults.ValidationProblem(_errors, title: "The job request is not valid");

    public void Error(string field, string message) =>
        _errors[field] = _errors.TryGetValue(field, out var list) ? [.. list, message] : [message];

    public string Choice(string field, IReadOnlyCollection<string> allowed, string fallback)
    {
        var value = Value(field).Trim();
        if (value.Length == 0) return fallback;
        if (allowed.Contains(value, StringComparer.Ordinal)) return value;
        Error(field, $"{Problems.Quote(value)} is not one of: {string.Join(", ", allowed)}.");
        return fallback;
    }

    public int Integer(string field, int fallback, int min, int max)
    {
        var value = Value(field).Trim();
        if (value.Length == 0) return fallback;
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return n;
        Error(field, $"{Problems.Quote(value)} is not a whole number from {min} to {max}.");
        return fallback;
    }

    public double Number(string field, double fallback, double min, double max)
    {
        var value = Value(field).Trim();
        if (value.Length == 0) return fallback;
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) && n >= min && n <= max) return n;
        Error(field, $"{Problems.Quote(value)} is not a number from {min} to {max}.");
        return fallback;
    }

    public string? Text(string field, int maxLength)
    {
        var value = Value(field).Trim();
        if (value.Length == 0) return null;
        if (value.Length <= maxLength) return value;
        Error(field, $"is longer than {maxLength} characters.");
        return null;
    }

    /// <summary>The one file in <paramref name="field"/>, checked by its bytes to be of the expected family and whole; null (with an error) otherwise.</summary>
    public StagedUpload? File(string field, Func<MediaKind, bool> accepts, string expected, bool required = true)
    {
        var files = Files(field);
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

    public bool Check(string field, StagedUpload file, Func<MediaKind, bool> accepts, string expected)
    {
        if (file.Length == 0)
        {
            Error(field, $"'{file.FileName}' is empty.");
            return false;
        }
        if (accepts(file.Kind))
        {
            if (ContentProblem(file) is not { } problem) return true;
            Error(field, problem);
            return false;
        }
        Error(field, file.Kind == MediaKind.Unknown
            ? $"'{file.FileName}' is not {expected}: its content matches no known format."
            : $"'{file.FileName}' is {file.Kind.Describe()}, not {expected}.");
        return false;
    }

    /// <summary>
    /// What is wrong with a file of an accepted kind, judged by more of its bytes: an image whose container is broken or
    /// declares an absurd canvas (<see cref="ImageProbe"/>) or whose pixels do not decode (<see cref="ImageDecodeProbe"/>,
    /// run only once the canvas is known to be sane), a WAV whose header declares more than the audio stage's
    /// <c>Audio:Conversion:MaxDuration</c> (a 10-hour header on a small file). Null when nothing is.
    /// </summary>
    private string? ContentProblem(StagedUpload file)
    {
        if (file.Kind.IsImage())
        {
            using (var stream = file.OpenRead())
                if (ImageProbe.Check(stream, file.Kind, file.FileName) is { } broken) return broken;
            return ImageDecodeProbe.Check(file.Staged.Path, file.Kind, file.FileName);
        }
        if (file.Kind != MediaKind.Wav) return null;
        var limit = (_services?.GetService<IOptions<AudioConversionOptions>>()?.Value ?? new AudioConversionOptions()).MaxDuration;
        try
        {
            using var stream = file.OpenRead();
            var header = WavReader.ReadHeaderAsync(stream).GetAwaiter().GetResult(); // a local file, read synchronously
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

    /// <summary>Longest piece of a caller's value an error message repeats.</summary>
    public const int QuoteLength = 40;

    /// <summary>A caller's value quoted for an error message: whole when short, else its start and how long it was (never echoed whole).</summary>
    public static string Quote(string value) =>
        value.Length <= QuoteLength ? $"'{value}'" : $"'{value[..QuoteLength]}…' ({value.Length:N0} characters)";
}
