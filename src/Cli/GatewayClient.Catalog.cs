using System.Net.Http.Headers;
using System.Text.Json;
using TalkingFace.Gateway.Catalog;
using TalkingFace.Gateway.Fleet;
using TalkingFace.Gateway.Jobs;

namespace TalkingFace.Cli;

/// <summary>The calls <c>batch</c>, <c>fleet</c> and <c>models</c> make.</summary>
public sealed partial class GatewayClient
{
    /// <summary>
    /// POST a multipart job: each file part (field, path) and each non-empty text field; the key as Idempotency-Key.
    /// The file parts are seekable file streams, so a retried attempt sends the whole content again from the start.
    /// </summary>
    public async Task<(JobView Job, bool AlreadyExisted)> SubmitFormAsync(string path, IEnumerable<(string Field, FileInfo File)> files,
        IReadOnlyDictionary<string, string?> fields, string? idempotencyKey, CancellationToken ct)
    {
        using var form = new MultipartFormDataContent();
        foreach (var (field, file) in files)
        {
            var content = new StreamContent(file.OpenRead());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(content, field, file.Name);
        }
        foreach (var (name, value) in fields)
        {
            if (!string.IsNullOrWhiteSpace(value)) form.Add(new StringContent(value), name);
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = form };
        if (idempotencyKey is not null) request.Headers.Add(JobEndpoints.IdempotencyHeader, idempotencyKey);
        using var response = await http.SendAsync(request, ct);
        var job = await ReadAsync<JobView>(response, ct);
        return (job, response.StatusCode == System.Net.HttpStatusCode.OK); // 202 for a new job, 200 for the one the key already made
    }

    public async Task<IReadOnlyList<ModelView>> GetModelsAsync(CancellationToken ct)
    {
        using var response = await http.GetAsync("/api/models", ct);
        return await ReadAsync<List<ModelView>>(response, ct);
    }

    public async Task<IReadOnlyList<WorkerView>> GetWorkersAsync(CancellationToken ct)
    {
        using var response = await http.GetAsync("/api/fleet/workers", ct);
        return await ReadAsync<List<WorkerView>>(response, ct);
    }

    /// <summary>The fleet summary (GET /api/fleet) as the gateway sends it, or null when this gateway has none (404).</summary>
    public async Task<JsonElement?> GetFleetSummaryAsync(CancellationToken ct)
    {
        using var response = await http.GetAsync("/api/fleet", ct);
        if (response.StatusCode is System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.MethodNotAllowed) return null;
        return await ReadAsync<JsonElement>(response, ct);
    }
}
