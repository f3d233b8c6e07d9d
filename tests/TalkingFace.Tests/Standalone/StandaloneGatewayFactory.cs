using System.Buffers.Binary;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using TalkingFace.Gateway.Jobs;

namespace TalkingFace.Tests.Standalone;

/// <summary>
/// The gateway in its default standalone mode (in-memory bus, SQLite file, local folder store, all three workers),
/// with its database, artifact store and an empty model store in a temporary folder of its own, deleted on dispose.
/// Short sweep and progress intervals keep the tests quick; no test depends on them for correctness.
/// </summary>
public class StandaloneGatewayFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _overrides;
    private int _deleted;

    public StandaloneGatewayFactory() : this(new Dictionary<string, string?>())
    {
    }

    protected StandaloneGatewayFactory(IDictionary<string, string?> overrides)
    {
        _overrides = new Dictionary<string, string?>(overrides);
        Root = Path.Combine(Path.GetTempPath(), "talkingface-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(ModelsRoot);
    }

    /// <summary>The temporary folder holding everything this gateway writes.</summary>
    public string Root { get; }

    /// <summary>The model store: always empty, so every model is "not configured".</summary>
    public string ModelsRoot => Path.Combine(Root, "models");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Mode"] = "Standalone",
            ["Database:ConnectionString"] = $"Data Source={Path.Combine(Root, "talkingface.db")}",
            ["Storage:LocalRoot"] = Path.Combine(Root, "artifacts"),
            ["Models:Root"] = ModelsRoot,
            ["Pipeline:SweepInterval"] = "00:00:00.200",
            ["Worker:ProgressInterval"] = "00:00:00.500",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.AspNetCore.StaticFiles"] = "Error",
        };
        foreach (var (key, value) in _overrides) settings[key] = value;
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Interlocked.Exchange(ref _deleted, 1) == 1) return;
        SqliteConnection.ClearAllPools(); // pooled connections keep the database file open
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}

/// <summary>A standalone gateway that refuses uploads over 64 KiB.</summary>
public sealed class SmallUploadGatewayFactory() : StandaloneGatewayFactory(new Dictionary<string, string?>
{
    ["Gateway:MaxUploadBytes"] = MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
})
{
    public const long MaxUploadBytes = 64 * 1024;
}

/// <summary>HTTP helpers for the gateway's API: submitting, reading jobs and polling until they finish.</summary>
public static class GatewayApi
{
    /// <summary>How long a test waits for a job to finish before it fails; generous, as machines differ in speed.</summary>
    public static readonly TimeSpan FinishTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    public static bool IsTerminal(string state) => state is "succeeded" or "failed" or "cancelled";

    public static ByteArrayContent File(byte[] bytes, string contentType = "application/octet-stream")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return content;
    }

    /// <summary>A multipart form: each file part is (field, file name, bytes), each text part (field, value).</summary>
    public static MultipartFormDataContent Form(IEnumerable<(string Field, string FileName, byte[] Bytes)> files, params (string Field, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        foreach (var (field, fileName, bytes) in files) form.Add(File(bytes), field, fileName);
        foreach (var (field, value) in fields) form.Add(new StringContent(value), field);
        return form;
    }

    public static Task<HttpResponseMessage> SubmitTalkingFaceAsync(this HttpClient client, byte[] audio, string fileName = "speech.wav",
        string? idempotencyKey = null, params (string Field, string Value)[] fields)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/jobs/talking-face")
        {
            Content = Form([("audio", fileName, audio)], fields),
        };
        if (idempotencyKey is not null) request.Headers.Add(JobEndpoints.IdempotencyHeader, idempotencyKey);
        return client.SendAsync(request);
    }

    /// <summary>Submits and expects 202 Accepted, returning the new job.</summary>
    public static async Task<JobView> SubmitAcceptedAsync(this HttpClient client, byte[] audio, string fileName = "speech.wav")
    {
        using var response = await client.SubmitTalkingFaceAsync(audio, fileName);
        return await response.ReadJobAsync(System.Net.HttpStatusCode.Accepted);
    }

    public static async Task<JobView> ReadJobAsync(this HttpResponseMessage response, System.Net.HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<JobView>(body, Json) ?? throw new InvalidOperationException("empty job");
    }

    /// <summary>Downloads a job's .npy artifact through the API and parses it.</summary>
    public static async Task<TalkingFace.Media.NpyArray> ReadNpyAsync(this HttpClient client, Guid job, string name)
    {
        await using var stream = await client.GetStreamAsync($"/api/jobs/{job}/artifacts/{name}");
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        copy.Position = 0;
        return TalkingFace.Media.Npy.Read(copy);
    }

    public static async Task<JobView> GetJobAsync(this HttpClient client, Guid id)
    {
        using var response = await client.GetAsync($"/api/jobs/{id}");
        return await response.ReadJobAsync(System.Net.HttpStatusCode.OK);
    }

    public static async Task<T> GetJsonAsync<T>(this HttpClient client, string url)
    {
        using var response = await client.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {url}: {(int)response.StatusCode} {body}");
        return JsonSerializer.Deserialize<T>(body, Json) ?? throw new InvalidOperationException($"GET {url} returned nothing");
    }

    /// <summary>Polls the job until it is succeeded, failed or cancelled; fails the test after <see cref="FinishTimeout"/>.</summary>
    public static Task<JobView> WaitUntilFinishedAsync(this HttpClient client, Guid id) =>
        PollAsync(() => client.GetJobAsync(id), job => IsTerminal(job.State),
            job => $"job {id} did not finish within {FinishTimeout}: it is {job.State}, stages " +
                   string.Join(", ", job.Stages.Select(s => $"{s.Name}={s.State}")));

    /// <summary>Calls <paramref name="read"/> until <paramref name="done"/> holds; fails the test after <see cref="FinishTimeout"/>.</summary>
    public static async Task<T> PollAsync<T>(Func<Task<T>> read, Func<T, bool> done, Func<T, string> describe)
    {
        using var timeout = new CancellationTokenSource(FinishTimeout);
        while (true)
        {
            var value = await read();
            if (done(value)) return value;
            if (timeout.IsCancellationRequested) Assert.Fail(describe(value));
            await Task.Delay(PollInterval);
        }
    }

    /// <summary>Total jobs the list endpoint reports for a query string such as <c>kind=hair</c>.</summary>
    public static async Task<int> CountJobsAsync(this HttpClient client, string query = "")
    {
        var page = await client.GetJsonAsync<JobPage<JobView>>($"/api/jobs?pageSize=1&{query}");
        return page.Total;
    }

    /// <summary>The gateway still serves requests: liveness, and the API reads the database.</summary>
    public static async Task AssertStillAnswersAsync(this HttpClient client)
    {
        using var live = await client.GetAsync("/health/live");
        Assert.Equal(System.Net.HttpStatusCode.OK, live.StatusCode);
        using var list = await client.GetAsync("/api/jobs?pageSize=1");
        Assert.Equal(System.Net.HttpStatusCode.OK, list.StatusCode);
    }
}

/// <summary>A WAV file parsed by hand (independently of the product's reader): its format and, for float files, its samples.</summary>
public sealed record ParsedWav(ushort FormatTag, int Channels, int SampleRate, int BitsPerSample, int BlockAlign, byte[] Data)
{
    public const ushort Pcm = 1;
    public const ushort IeeeFloat = 3;

    public long FrameCount => Data.Length / BlockAlign;

    public float[] FloatSamples()
    {
        Assert.Equal(IeeeFloat, FormatTag);
        Assert.Equal(32, BitsPerSample);
        var samples = new float[Data.Length / 4];
        for (var i = 0; i < samples.Length; i++) samples[i] = BinaryPrimitives.ReadSingleLittleEndian(Data.AsSpan(4 * i));
        return samples;
    }

    /// <summary>Walks the RIFF chunks; the data chunk is taken as far as the file goes.</summary>
    public static ParsedWav Parse(byte[] file)
    {
        Assert.True(file.Length >= 12, $"a WAV file needs at least 12 bytes, got {file.Length}");
        Assert.Equal("RIFF", Encoding.ASCII.GetString(file, 0, 4));
        Assert.Equal("WAVE", Encoding.ASCII.GetString(file, 8, 4));
        (ushort Tag, int Channels, int Rate, int Bits, int Align)? format = null;
        var at = 12;
        while (at + 8 <= file.Length)
        {
            var id = Encoding.ASCII.GetString(file, at, 4);
            var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 4));
            var body = at + 8;
            if (id == "fmt ")
            {
                var fmt = file.AsSpan(body, size);
                var tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
                if (tag == 0xFFFE) tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt[24..]); // WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
                format = (tag, BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]), (int)BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]),
                    BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]), BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]));
            }
            else if (id == "data")
            {
                Assert.True(format is not null, "the data chunk comes before the fmt chunk");
                var f = format.Value;
                var data = file.AsSpan(body, Math.Min(size, file.Length - body)).ToArray();
                return new ParsedWav(f.Tag, f.Channels, f.Rate, f.Bits, f.Align, data);
            }
            at = body + size + (size % 2);
        }
        Assert.Fail("the WAV file has no data chunk");
        return null!;
    }
}
