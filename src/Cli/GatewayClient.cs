using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using TalkingFace.Gateway.Jobs;

namespace TalkingFace.Cli;

/// <summary>The gateway's HTTP API as the CLI uses it; the same code talks to a remote gateway and to the in-process standalone one.</summary>
public sealed partial class GatewayClient(HttpClient http) : IDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public Uri BaseAddress => http.BaseAddress!;

    /// <summary>
    /// A client for a remote gateway: every request goes through <paramref name="retry"/> (default: <see cref="GatewayRetry"/>'s
    /// defaults, waits announced on stderr); sends the API key in TALKINGFACE_API_KEY, if set, as a bearer token.
    /// </summary>
    public static GatewayClient For(Uri server, GatewayRetry? retry = null, HttpMessageHandler? transport = null)
    {
        retry ??= new GatewayRetry { Log = Console.Error };
        // Each attempt has its own limit (GatewayRetry.AttemptTimeout); a whole request may wait out back-pressure longer.
        var http = new HttpClient(retry.Handler(transport ?? new SocketsHttpHandler())) { BaseAddress = server, Timeout = Timeout.InfiniteTimeSpan };
        if (Environment.GetEnvironmentVariable("TALKINGFACE_API_KEY") is { Length: > 0 } key)
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return new(http);
    }

    /// <summary>
    /// A key for one submit: retries of it (after a 503, a lost answer) find the job the first try made instead of
    /// making another; a new command is a new key, so running <c>submit</c> twice still makes two jobs.
    /// </summary>
    public static string NewIdempotencyKey(string command) => $"{command}-{Guid.NewGuid():N}";

    /// <summary>Submits a talking-face job; without <paramref name="idempotencyKey"/> a fresh one is sent, so retries never duplicate it.</summary>
    public async Task<JobView> SubmitTalkingFaceAsync(FileInfo audio, IReadOnlyDictionary<string, string?> options, string? idempotencyKey, CancellationToken ct) =>
        (await SubmitFormAsync("/api/jobs/talking-face", [("audio", audio)], options, idempotencyKey ?? NewIdempotencyKey("submit"), ct)).Job;

    /// <summary>Submits a hair job: the face photo plus form fields, and reference images as (field, file) pairs.</summary>
    public async Task<JobView> SubmitHairAsync(FileInfo face, IReadOnlyDictionary<string, string?> fields, IReadOnlyList<(string Field, FileInfo File)> references, CancellationToken ct) =>
        (await SubmitFormAsync("/api/jobs/hair", references.Prepend(("face", face)), fields, NewIdempotencyKey("hair"), ct)).Job;

    /// <summary>Submits a pipeline probe (no input, one no-op stage) on <paramref name="deviceClass"/>.</summary>
    public async Task<JobView> SubmitProbeAsync(string deviceClass, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/jobs/probe") { Content = JsonContent.Create(new { deviceClass }, options: Json) };
        request.Headers.Add(JobEndpoints.IdempotencyHeader, NewIdempotencyKey("probe"));
        using var response = await http.SendAsync(request, ct);
        return await ReadAsync<JobView>(response, ct);
    }

    public async Task<JobView> GetJobAsync(Guid id, CancellationToken ct)
    {
        using var response = await http.GetAsync($"/api/jobs/{id}", ct);
        return await ReadAsync<JobView>(response, ct);
    }

    public async Task<JobView> CancelAsync(Guid id, CancellationToken ct)
    {
        using var response = await http.PostAsync($"/api/jobs/{id}/cancel", null, ct);
        return await ReadAsync<JobView>(response, ct);
    }

    /// <summary>Polls until the job is finished, calling <paramref name="onChange"/> whenever what it shows changes.</summary>
    public async Task<JobView> WaitAsync(Guid id, Action<JobView> onChange, TimeSpan pollInterval, CancellationToken ct)
    {
        string? last = null;
        while (true)
        {
            var job = await GetJobAsync(id, ct);
            var summary = string.Join("|", job.Stages.Select(s => $"{s.Name}:{s.State}:{s.Attempt}:{s.CurrentStep}:{s.Progress:0.00}")) + job.State;
            if (summary != last)
            {
                onChange(job);
                last = summary;
            }
            if (job.State is "succeeded" or "failed" or "cancelled") return job;
            await Task.Delay(pollInterval, ct);
        }
    }

    /// <summary>Downloads one artifact; follows the presigned redirect when the store gives one.</summary>
    public async Task DownloadAsync(ArtifactView artifact, string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(artifact.Url, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);
        await using var target = File.Create(path);
        await response.Content.CopyToAsync(target, ct);
    }

    internal static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, ct);
        return await response.Content.ReadFromJsonAsync<T>(Json, ct) ?? throw new GatewayException(response.StatusCode, "empty answer from the gateway");
    }

    internal static async Task<GatewayException> ErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var problem = JsonDocument.Parse(body);
            var root = problem.RootElement;
            var text = root.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String ? detail.GetString()
                : root.TryGetProperty("title", out var title) ? title.GetString() : body;
            if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
                text += " " + string.Join("; ", errors.EnumerateObject().Select(e => $"{e.Name}: {string.Join(" ", e.Value.EnumerateArray().Select(v => v.GetString()))}"));
            return new GatewayException(response.StatusCode, text ?? body);
        }
        catch (JsonException)
        {
            return new GatewayException(response.StatusCode, body.Length > 0 ? body : response.ReasonPhrase ?? "error");
        }
    }

    public void Dispose() => http.Dispose();
}

public sealed class GatewayException(HttpStatusCode status, string message) : Exception($"{(int)status} {message}")
{
    public HttpStatusCode Status { get; } = status;
}
