using System.Buffers.Binary;
using System.IO.Hashing;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Gateway.Tenancy;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Api;

/// <summary>
/// The bad-input catalogue: a table of broken, mislabelled, oversized and hostile requests across the API and both job
/// kinds, sent to one distributed deployment (real PostgreSQL, RabbitMQ, S3, an audio worker in its own host). Each row
/// must get a clear 4xx problem+json that says what is wrong, or be accepted and end as a failed job with a reason.
/// After every row the gateway and the worker must still answer and the managed heap must stay bounded.
/// </summary>
/// <summary>
/// Runs alone, after the parallel collections: its memory bound is read from this test process's managed heap, which
/// other tests running meanwhile (browser gateways, whole jobs) would otherwise fill with their own objects.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BadInputCatalogueCollection : ICollectionFixture<DistributedServices>
{
    public const string Name = "Bad-input catalogue (alone)";
}

[Collection(BadInputCatalogueCollection.Name)]
public sealed class BadInputCatalogueTests(DistributedServices services)
{
    private const long UploadLimit = 8L * 1024 * 1024;
    private const int BatchLimit = 5;
    private const long HeapLimitBytes = 512L * 1024 * 1024;

    /// <summary>What a row must get: <paramref name="Status"/> (a 4xx whose body mentions <paramref name="Says"/>), or 202 and a job that fails saying <paramref name="Says"/>.</summary>
    public sealed record BadInput(string Category, string Name, Func<Catalogue, Task<HttpResponseMessage>> Send, HttpStatusCode Status, string Says,
        Func<Catalogue, JobView, string?>? AlsoCheck = null);

    /// <summary>What the rows send with: a tenant's client, another tenant's, one without a key, and objects the first tenant owns.</summary>
    public sealed class Catalogue
    {
        public required HttpClient Client { get; init; }
        public required HttpClient OtherTenant { get; init; }
        public required HttpClient Anonymous { get; init; }
        public required Guid OwnJob { get; init; }
        public required Guid OwnBatch { get; init; }
    }

    private static byte[] Clip(int samples = 1600) =>
        new WavBuilder { Data = WavBuilder.Pcm16([.. Enumerable.Range(0, samples).Select(i => (short)(i % 2 == 0 ? 1000 : -1000))]) }.Build();

    private static byte[] Face => File.ReadAllBytes(TestPaths.TestData("faces", "one-face-a.jpg"));
    private static byte[] Png => File.ReadAllBytes(TestPaths.TestData("faces", "no-human-face-rgba.png"));

    private static Task<HttpResponseMessage> Audio(Catalogue c, byte[] bytes, string name = "speech.wav", params (string, string)[] fields) =>
        c.Client.SubmitTalkingFaceAsync(bytes, name, null, fields);

    private static Task<HttpResponseMessage> Hair(Catalogue c, byte[] face, string faceName = "face.jpg", string mode = "shape", byte[]? shape = null, params (string, string)[] fields) =>
        c.Client.PostAsync("/api/jobs/hair", GatewayApi.Form([("face", faceName, face), ("shape", "ref.jpg", shape ?? Face)], [("mode", mode), .. fields]));

    private static Task<HttpResponseMessage> Raw(HttpClient client, string path, string contentType, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return client.PostAsync(path, content);
    }

    /// <summary>A 24-bit BMP header (BITMAPINFOHEADER) declaring <paramref name="width"/> x <paramref name="height"/>, with a few pixel bytes.</summary>
    private static byte[] BmpDeclaring(int width, int height)
    {
        var bmp = new byte[54 + 64];
        "BM"u8.CopyTo(bmp);
        BinaryPrimitives.WriteUInt32LittleEndian(bmp.AsSpan(2), (uint)bmp.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(bmp.AsSpan(10), 54);
        BinaryPrimitives.WriteUInt32LittleEndian(bmp.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), height);
        BinaryPrimitives.WriteUInt16LittleEndian(bmp.AsSpan(26), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(bmp.AsSpan(28), 24);
        return bmp;
    }

    /// <summary>The start of an ISO base media file with an image brand (HEIF's "heic", AVIF's "avif").</summary>
    private static byte[] IsoImage(string brand) =>
        [0, 0, 0, 24, .. Ascii("ftyp"), .. Ascii(brand), 0, 0, 0, 0, .. Ascii("mif1"), .. Ascii(brand), .. new byte[256]];

    /// <summary>A PNG whose IHDR declares another size, with a valid CRC: a decompression bomb when the size is huge.</summary>
    private static byte[] PngDeclaring(uint width, uint height)
    {
        var png = Png;
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), width);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32.HashToUInt32(png.AsSpan(12, 17)));
        return png;
    }

    /// <summary>The JPEG with its frame header (SOF) declaring another size.</summary>
    private static byte[] JpegDeclaring(ushort width, ushort height)
    {
        var jpeg = Face;
        for (var i = 2; i < jpeg.Length - 9; i++)
        {
            if (jpeg[i] != 0xFF || jpeg[i + 1] is not (0xC0 or 0xC1 or 0xC2)) continue;
            BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(i + 5), height);
            BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(i + 7), width);
            return jpeg;
        }
        throw new InvalidOperationException("no SOF in the test JPEG");
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static byte[] Repeat(string start, int length) => Ascii(start + new string('x', Math.Max(0, length - start.Length)));

    private static Task<HttpResponseMessage> Batch(Catalogue c, params (string Name, byte[] Bytes)[] files) =>
        c.Client.PostAsync("/api/batches", GatewayApi.Form(files.Select(f => ("files", f.Name, f.Bytes))));

    private static readonly string Sql = "x' OR '1'='1'; DROP TABLE jobs; --";

    public static IReadOnlyList<BadInput> Rows { get; } =
    [
        // ---- talking-face: the audio file ----
        new("audio", "zero-length file", c => Audio(c, []), HttpStatusCode.BadRequest, "empty"),
        new("audio", "WAV cut inside its header", c => Audio(c, Clip()[..20], "cut.wav"), HttpStatusCode.BadRequest, "truncated"),
        new("audio", "WAV with an empty data chunk", c => Audio(c, new WavBuilder().Build()), HttpStatusCode.BadRequest, "no samples"),
        new("audio", "WAV header declaring 10 hours on a 3 KB file", c => Audio(c, new WavBuilder { Data = WavBuilder.Pcm16(new short[1600]), DeclaredDataSize = 10u * 3600 * 16000 * 2 }.Build(), "ten-hours.wav"),
            HttpStatusCode.BadRequest, "10 h"),
        new("audio", "JPEG named speech.wav", c => Audio(c, Face, "speech.wav"), HttpStatusCode.UnsupportedMediaType, "JPEG"),
        new("audio", "PNG named voice.mp3", c => Audio(c, Png, "voice.mp3"), HttpStatusCode.UnsupportedMediaType, "PNG"),
        new("audio", "plain text named speech.wav", c => Audio(c, Ascii("hello, this is not audio at all\n")), HttpStatusCode.UnsupportedMediaType, "not audio"),
        new("audio", "ZIP archive named speech.wav", c => Audio(c, [0x50, 0x4B, 0x03, 0x04, .. new byte[200]]), HttpStatusCode.UnsupportedMediaType, "not audio"),
        new("audio", "random bytes", c => Audio(c, [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 37 % 251))], "noise.raw"), HttpStatusCode.UnsupportedMediaType, "not audio"),
        new("audio", "WAV with zero channels", c => Audio(c, new WavBuilder { Channels = 0, BlockAlign = 2, Data = new byte[3200] }.Build()), HttpStatusCode.BadRequest, "channel"),
        new("audio", "WAV with a sample rate of 0", c => Audio(c, new WavBuilder { SampleRate = 0, Data = new byte[3200] }.Build()), HttpStatusCode.BadRequest, "rate"),
        new("audio", "WAV of 0-bit samples", c => Audio(c, new WavBuilder { BitsPerSample = 0, BlockAlign = 2, Data = new byte[3200] }.Build()), HttpStatusCode.BadRequest, "0-bit PCM"),
        new("audio", "WAV of 8-bit IEEE float", c => Audio(c, new WavBuilder { FormatTag = 3, BitsPerSample = 8, Data = new byte[3200] }.Build()), HttpStatusCode.BadRequest, "float"),
        new("audio", "WAV whose block align contradicts its format", c => Audio(c, new WavBuilder { BlockAlign = 7, Data = new byte[3200] }.Build()), HttpStatusCode.BadRequest, "align"),
        new("audio", "WAV of an unsupported codec (format tag 0x1234)", c => Audio(c, new WavBuilder { FormatTag = 0x1234, Data = new byte[3200] }.Build()), HttpStatusCode.BadRequest, "format"),
        new("audio", "Ogg signature followed by junk", c => Audio(c, Repeat("OggS", 4000), "speech.ogg"), HttpStatusCode.Accepted, "cannot be decoded"),
        new("audio", "ID3 tag followed by junk (fake MP3)", c => Audio(c, Repeat("ID3", 4000), "speech.mp3"), HttpStatusCode.Accepted, "cannot be decoded"),
        new("audio", "FLAC signature followed by junk", c => Audio(c, Repeat("fLaC", 4000), "speech.flac"), HttpStatusCode.Accepted, "cannot be decoded"),
        new("audio", "two files in the audio field", c => c.Client.PostAsync("/api/jobs/talking-face", GatewayApi.Form([("audio", "a.wav", Clip()), ("audio", "b.wav", Clip())])),
            HttpStatusCode.BadRequest, "one file"),
        new("audio", "audio sent under another field name", c => c.Client.PostAsync("/api/jobs/talking-face", GatewayApi.Form([("file", "a.wav", Clip())])), HttpStatusCode.BadRequest, "required"),

        // ---- talking-face: options ----
        new("options", "priority 99", c => Audio(c, Clip(), "a.wav", ("priority", "99")), HttpStatusCode.BadRequest, "0 to 9"),
        new("options", "temperature NaN", c => Audio(c, Clip(), "a.wav", ("temperature", "NaN")), HttpStatusCode.BadRequest, "not a number"),
        new("options", "SQL-ish feature model", c => Audio(c, Clip(), "a.wav", ("featureModel", Sql)), HttpStatusCode.BadRequest, "featureModel"),
        new("options", "unknown device class", c => Audio(c, Clip(), "a.wav", ("deviceClass", "quantum")), HttpStatusCode.BadRequest, "quantum"),
        new("options", "a 5000-character motion model", c => Audio(c, Clip(), "a.wav", ("motionModel", new string('m', 5000))), HttpStatusCode.BadRequest, "longer than"),

        // ---- batches ----
        new("batch", "batch with no files", c => c.Client.PostAsync("/api/batches", GatewayApi.Form([], ("name", "empty"))), HttpStatusCode.BadRequest, "at least one"),
        new("batch", $"batch over the {BatchLimit}-item limit", c => Batch(c, [.. Enumerable.Range(0, BatchLimit + 1).Select(i => ($"{i}.wav", Clip()))]), HttpStatusCode.BadRequest, "limit"),
        new("batch", "batch with a JPEG among the clips", c => Batch(c, ("a.wav", Clip()), ("b.wav", Face)), HttpStatusCode.BadRequest, "JPEG"),
        new("batch", "batch with one zero-length clip", c => Batch(c, ("a.wav", Clip()), ("b.wav", [])), HttpStatusCode.BadRequest, "empty"),

        // ---- hair: images ----
        new("image", "WAV as the face", c => Hair(c, Clip(), "face.jpg"), HttpStatusCode.BadRequest, "WAV"),
        new("image", "zero-length face", c => Hair(c, [], "face.jpg"), HttpStatusCode.BadRequest, "empty"),
        new("image", "text file named face.png", c => Hair(c, Ascii("<html>not an image</html>"), "face.png"), HttpStatusCode.BadRequest, "no known format"),
        new("image", "PNG cut in half", c => Hair(c, Png[..(Png.Length / 2)], "half.png"), HttpStatusCode.BadRequest, "truncated"),
        new("image", "PNG with a corrupt header chunk (bad CRC)", c => Hair(c, [.. Png[..17], (byte)(Png[17] ^ 0x55), .. Png[18..]], "crc.png"), HttpStatusCode.BadRequest, "CRC"),
        new("image", "PNG decompression bomb (100000 x 100000 declared)", c => Hair(c, PngDeclaring(100_000, 100_000), "bomb.png"), HttpStatusCode.BadRequest, "megapixels"),
        new("image", "PNG declaring 0 x 0", c => Hair(c, PngDeclaring(0, 0), "empty.png"), HttpStatusCode.BadRequest, "empty image"),
        new("image", "JPEG cut after 2 KB", c => Hair(c, Face[..2048], "cut.jpg"), HttpStatusCode.BadRequest, "not a whole"),
        new("image", "JPEG decompression bomb (65000 x 65000 declared)", c => Hair(c, JpegDeclaring(65000, 65000), "bomb.jpg"), HttpStatusCode.BadRequest, "megapixels"),
        new("image", "JPEG that is only start and end markers", c => Hair(c, [0xFF, 0xD8, 0xFF, 0xD9], "bare.jpg"), HttpStatusCode.BadRequest, "not a whole"),
        new("image", "PNG with valid CRCs whose pixel data is garbage", c => Hair(c, CorruptImages.PngWithGarbagePixels(Png), "garbage.png"), HttpStatusCode.BadRequest, "does not decode"),
        new("image", "JPEG without its quantization tables", c => Hair(c, CorruptImages.JpegWithoutQuantizationTables(Face), "no-tables.jpg"), HttpStatusCode.BadRequest, "does not decode"),
        new("image", "shape reference whose pixel data is garbage", c => Hair(c, Face, "face.jpg", "shape", CorruptImages.PngWithGarbagePixels(Png)), HttpStatusCode.BadRequest, "does not decode"),
        new("image", "WebP shorter than its RIFF header says", c => Hair(c, [.. Ascii("RIFF"), 0xFF, 0xFF, 0x00, 0x00, .. Ascii("WEBPVP8 "), .. new byte[40]], "short.webp"), HttpStatusCode.BadRequest, "shorter"),
        new("image", "GIF decompression bomb (65535 x 65535 declared)", c => Hair(c, [.. Ascii("GIF89a"), 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, .. new byte[64]], "bomb.gif"),
            HttpStatusCode.UnsupportedMediaType, "JPEG, PNG or WebP"),
        new("image", "BMP declaring 100000 x 100000", c => Hair(c, BmpDeclaring(100_000, 100_000), "bomb.bmp"), HttpStatusCode.UnsupportedMediaType, "JPEG, PNG or WebP"),
        new("image", "HEIF photo as the face", c => Hair(c, IsoImage("heic"), "photo.heic"), HttpStatusCode.UnsupportedMediaType, "convert"),
        new("image", "AVIF image as the shape reference", c => Hair(c, Face, "face.jpg", "shape", IsoImage("avif")), HttpStatusCode.UnsupportedMediaType, "JPEG, PNG or WebP"),
        new("image", "WAV as the shape reference", c => Hair(c, Face, "face.jpg", "shape", Clip()), HttpStatusCode.BadRequest, "WAV"),
        new("image", "unknown mode", c => Hair(c, Face, "face.jpg", "bald"), HttpStatusCode.BadRequest, "bald"),
        new("image", "SQL-ish gallery id", c => c.Client.PostAsync("/api/jobs/hair", GatewayApi.Form([("face", "f.jpg", Face)], ("mode", "shape"), ("shapeId", Sql))), HttpStatusCode.BadRequest, "shapeId"),
        new("image", "mode both without references", c => c.Client.PostAsync("/api/jobs/hair", GatewayApi.Form([("face", "f.jpg", Face)], ("mode", "both"))), HttpStatusCode.BadRequest, "reference"),
        new("image", "two faces in the face field", c => c.Client.PostAsync("/api/jobs/hair", GatewayApi.Form([("face", "a.jpg", Face), ("face", "b.jpg", Face), ("shape", "s.jpg", Face)], ("mode", "shape"))),
            HttpStatusCode.BadRequest, "one file"),

        // ---- the request itself ----
        new("request", "JSON body instead of multipart", c => Raw(c.Client, "/api/jobs/talking-face", "application/json", Ascii("""{"audio":"speech.wav"}""")), HttpStatusCode.UnsupportedMediaType, "multipart"),
        new("request", "malformed JSON body", c => Raw(c.Client, "/api/jobs/talking-face", "application/json", Ascii("""{"audio": [1, 2,""")), HttpStatusCode.UnsupportedMediaType, "multipart"),
        new("request", "multipart without a boundary", c => Raw(c.Client, "/api/jobs/talking-face", "multipart/form-data", Clip()), HttpStatusCode.BadRequest, "boundary"),
        new("request", "multipart body that is garbage", c => Raw(c.Client, "/api/jobs/talking-face", "multipart/form-data; boundary=XyZ", Ascii("this is not multipart at all")), HttpStatusCode.BadRequest, "multipart"),
        new("request", "multipart cut before its closing boundary", c => Raw(c.Client, "/api/jobs/talking-face", "multipart/form-data; boundary=XyZ",
            [.. Ascii("--XyZ\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n"), .. Clip()]), HttpStatusCode.BadRequest, "multipart"),
        new("request", "multipart part without a Content-Disposition", c => Raw(c.Client, "/api/jobs/talking-face", "multipart/form-data; boundary=XyZ",
            [.. Ascii("--XyZ\r\nContent-Type: audio/wav\r\n\r\n"), .. Clip(), .. Ascii("\r\n--XyZ--\r\n")]), HttpStatusCode.BadRequest, "Content-Disposition"),
        new("request", "a form of 3000 parts", c => c.Client.PostAsync("/api/jobs/talking-face", GatewayApi.Form([("audio", "a.wav", Clip())], [.. Enumerable.Range(0, 3000).Select(i => ($"f{i}", "1"))])),
            HttpStatusCode.BadRequest, "parts"),
        new("request", "a form field of 100 KB", c => Audio(c, Clip(), "a.wav", ("motionModel", new string('m', 100 * 1024))), HttpStatusCode.BadRequest, "longer than"),
        new("request", "upload over the limit with Content-Length", c => Audio(c, new byte[UploadLimit + 1024], "big.wav"), HttpStatusCode.RequestEntityTooLarge, "limit"),
        new("request", "chunked upload over the limit (no Content-Length)", c =>
        {
            var form = new MultipartFormDataContent();
            var body = new StreamContent(new NonSeekableStream(new GeneratedStream([.. Clip()[..44]], 3 * UploadLimit)));
            body.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
            form.Add(body, "audio", "endless.wav");
            return c.Client.PostAsync("/api/jobs/talking-face", form);
        }, HttpStatusCode.RequestEntityTooLarge, "limit"),
        new("request", "a 50 MB JSON probe body", c => Raw(c.Client, "/api/jobs/probe", "application/json",
            [.. Ascii("{\"deviceClass\":\""), .. Enumerable.Repeat((byte)'x', 50 * 1024 * 1024), .. Ascii("\"}")]), HttpStatusCode.RequestEntityTooLarge, "too large"),
        new("request", "a probe body with a 3000-character device class", c => Raw(c.Client, "/api/jobs/probe", "application/json",
            Ascii($$"""{"deviceClass":"{{new string('q', 3000)}}"}""")), HttpStatusCode.BadRequest, "3,000 characters"),
        new("request", "path-traversal file name", c => Audio(c, Clip(), "../../../etc/passwd.wav"), HttpStatusCode.Accepted, "",
            (c, job) => job.InputName == "passwd.wav" && job.Artifacts.All(a => !a.Url.Contains("..", StringComparison.Ordinal)) ? null : $"input name '{job.InputName}' kept the path"),
        new("request", "a 400-character file name", c => Audio(c, Clip(), new string('n', 396) + ".wav"), HttpStatusCode.Accepted, "",
            (c, job) => job.InputName?.Length <= 255 ? null : $"input name of {job.InputName?.Length} characters"),
        new("request", "Idempotency-Key reused for a different clip", async c =>
        {
            var key = "reuse-" + Guid.NewGuid().ToString("N");
            (await c.Client.SubmitTalkingFaceAsync(Clip(1600), "a.wav", key)).Dispose();
            return await c.Client.SubmitTalkingFaceAsync(Clip(3200), "a.wav", key);
        }, HttpStatusCode.UnprocessableEntity, "Idempotency-Key"),

        // ---- reading: unknown ids, hostile parameters ----
        new("ids", "unknown job", c => c.Client.GetAsync($"/api/jobs/{Guid.NewGuid()}"), HttpStatusCode.NotFound, "no job"),
        new("ids", "cancel an unknown job", c => c.Client.PostAsync($"/api/jobs/{Guid.NewGuid()}/cancel", null), HttpStatusCode.NotFound, "no job"),
        new("ids", "artifact of an unknown job", c => c.Client.GetAsync($"/api/jobs/{Guid.NewGuid()}/artifacts/{ArtifactNames.Audio16k}"), HttpStatusCode.NotFound, "no artifact"),
        new("ids", "unknown batch", c => c.Client.GetAsync($"/api/batches/{Guid.NewGuid()}"), HttpStatusCode.NotFound, "no batch"),
        new("ids", "job id that is not a GUID", c => c.Client.GetAsync("/api/jobs/1%20OR%201=1"), HttpStatusCode.NotFound, "404"),
        new("ids", "path-traversal artifact name", c => c.Client.GetAsync($"/api/jobs/{c.OwnJob}/artifacts/..%2F..%2F..%2Fetc%2Fpasswd"), HttpStatusCode.NotFound, "no artifact"),
        new("ids", "SQL-ish state filter", c => c.Client.GetAsync($"/api/jobs?state={Uri.EscapeDataString(Sql)}"), HttpStatusCode.BadRequest, "state"),
        new("ids", "SQL-ish kind filter", c => c.Client.GetAsync($"/api/jobs?kind={Uri.EscapeDataString(Sql)}"), HttpStatusCode.BadRequest, "kind"),
        new("ids", "page size of a billion", c => c.Client.GetAsync("/api/jobs?pageSize=1000000000"), HttpStatusCode.BadRequest, "pageSize"),
        new("ids", "negative page", c => c.Client.GetAsync("/api/jobs?page=-1"), HttpStatusCode.BadRequest, "page"),
        new("ids", "batch filter that is not a GUID", c => c.Client.GetAsync("/api/jobs?batchId=..%2F..%2F"), HttpStatusCode.BadRequest, "batchId"),

        // ---- tenants ----
        new("tenant", "no API key", c => c.Anonymous.GetAsync("/api/jobs"), HttpStatusCode.Unauthorized, "key"),
        new("tenant", "a made-up API key", c => c.Anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/jobs") { Headers = { { "X-Api-Key", ApiKeys.NewKey() } } }),
            HttpStatusCode.Unauthorized, "unknown"),
        new("tenant", "another tenant's job", c => c.OtherTenant.GetAsync($"/api/jobs/{c.OwnJob}"), HttpStatusCode.NotFound, "no job"),
        new("tenant", "another tenant's artifact", c => c.OtherTenant.GetAsync($"/api/jobs/{c.OwnJob}/artifacts/{ArtifactNames.InputAudio}"), HttpStatusCode.NotFound, "no artifact"),
        new("tenant", "cancel another tenant's job", c => c.OtherTenant.PostAsync($"/api/jobs/{c.OwnJob}/cancel", null), HttpStatusCode.NotFound, "no job"),
        new("tenant", "another tenant's batch", c => c.OtherTenant.GetAsync($"/api/batches/{c.OwnBatch}"), HttpStatusCode.NotFound, "no batch"),
    ];

    [Fact]
    public void The_catalogue_has_at_least_40_bad_inputs_across_the_api_and_both_job_kinds()
    {
        Assert.True(Rows.Count >= 40, $"{Rows.Count} rows");
        Assert.Equal(Rows.Count, Rows.Select(r => r.Name).Distinct().Count());
        foreach (var category in new[] { "audio", "options", "batch", "image", "request", "ids", "tenant" })
            Assert.Contains(Rows, r => r.Category == category);
    }

    [Fact]
    public async Task Every_bad_input_gets_a_clear_4xx_or_a_failed_job_with_a_reason_and_nothing_falls_over()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Gateway:MaxUploadBytes"] = UploadLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Gateway:MaxBatchItems"] = BatchLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tenancy:RequestsPerSecond"] = "10000",
        });
        var client = pipeline.Gateway();
        var worker = await pipeline.StartAudioWorkerAsync("catalogue-audio-worker");
        var own = await (await client.SubmitTalkingFaceAsync(Clip(), "own.wav")).ReadJobAsync(HttpStatusCode.Accepted);
        using var batchResponse = await client.PostAsync("/api/batches", GatewayApi.Form([("files", "b.wav", Clip())]));
        var batch = JsonDocument.Parse(await batchResponse.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        var catalogue = new Catalogue
        {
            Client = client,
            OtherTenant = pipeline.GatewayWithKey((await pipeline.CreateTenantKeyAsync("intruder")).Key),
            Anonymous = pipeline.AnonymousGateway(),
            OwnJob = own.Id,
            OwnBatch = batch,
        };

        var failures = new List<string>();
        var accepted = new List<(BadInput Row, JobView Job)>();
        // The bound is on what the catalogue adds: this test process also holds earlier tests' hosts and caches.
        var stagedBefore = StagedUploads();
        var baselineHeap = GC.GetTotalMemory(forceFullCollection: true);
        long peakHeap = baselineHeap;
        foreach (var row in Rows)
        {
            try
            {
                using var response = await row.Send(catalogue);
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != row.Status)
                {
                    failures.Add($"{row.Name}: expected {(int)row.Status}, got {(int)response.StatusCode}: {Cut(body)}");
                }
                else if (row.Status == HttpStatusCode.Accepted)
                {
                    accepted.Add((row, JsonSerializer.Deserialize<JobView>(body, DistributedPipeline.Json)!));
                }
                else
                {
                    if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                        failures.Add($"{row.Name}: {(int)response.StatusCode} is not problem+json ({response.Content.Headers.ContentType}): {Cut(body)}");
                    else if (!body.Contains(row.Says, StringComparison.OrdinalIgnoreCase))
                        failures.Add($"{row.Name}: the answer does not say '{row.Says}': {Cut(body)}");
                    if (response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500)
                        failures.Add($"{row.Name}: {(int)response.StatusCode}");
                }
            }
            catch (Exception e)
            {
                failures.Add($"{row.Name}: threw {e.GetType().Name}: {e.Message}");
            }
            using (var live = await catalogue.Anonymous.GetAsync("/health/live"))
                if (!live.IsSuccessStatusCode) failures.Add($"{row.Name}: the gateway is not live afterwards ({(int)live.StatusCode})");
            peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(forceFullCollection: true)); // live objects, not garbage awaiting a collection
        }

        // Every upload was staged to a temporary file; refused or accepted, none outlives its request.
        for (var i = 0; i < 100 && StagedUploads() > stagedBefore; i++) await Task.Delay(100);
        if (StagedUploads() > stagedBefore) failures.Add($"{StagedUploads() - stagedBefore} staged upload files were left in {Path.GetTempPath()}");

        // Accepted rows end failed, with a reason (or pass their own check), and never hang.
        foreach (var (row, submitted) in accepted)
        {
            var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);
            if (row.AlsoCheck?.Invoke(catalogue, job) is { } problem) failures.Add($"{row.Name}: {problem}");
            if (row.Says.Length > 0 && (job.State != "failed" || job.Reason?.Contains(row.Says, StringComparison.OrdinalIgnoreCase) != true))
                failures.Add($"{row.Name}: expected a failed job saying '{row.Says}', got {job.State}: {job.Reason}");
            if (job.State == "failed" && string.IsNullOrWhiteSpace(job.Reason)) failures.Add($"{row.Name}: failed without a reason");
        }

        // The worker took every accepted job and is still taking work.
        var after = await (await client.SubmitTalkingFaceAsync(Clip(), "after.wav")).ReadJobAsync(HttpStatusCode.Accepted);
        var last = await DistributedPipeline.WaitForAsync(client, after.Id, DistributedPipeline.IsTerminal);
        Assert.Equal("catalogue-audio-worker", last.Stages.Single(s => s.Name == Stages.Audio).WorkerId);

        Assert.True(failures.Count == 0, $"{failures.Count} of {Rows.Count} rows went wrong:\n" + string.Join("\n", failures));
        Assert.True(peakHeap - baselineHeap < HeapLimitBytes,
            $"the live managed heap grew by {(peakHeap - baselineHeap) / (1024 * 1024)} MiB (from {baselineHeap / (1024 * 1024)} MiB)");
        GC.KeepAlive(worker);
    }

    private static int StagedUploads() => Directory.GetFiles(Path.GetTempPath(), "talkingface-upload-*").Length;

    private static string Cut(string body) => body.Length <= 400 ? body : body[..400] + "…";

    /// <summary>A prefix, then zeros up to <paramref name="length"/>, made as it is read (an upload bigger than memory would allow).</summary>
    private sealed class GeneratedStream(byte[] prefix, long length) : Stream
    {
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - _position);
            if (n <= 0) return 0;
            var span = buffer.AsSpan(offset, n);
            span.Clear();
            if (_position < prefix.Length)
                prefix.AsSpan((int)_position, (int)Math.Min(prefix.Length - _position, n)).CopyTo(span);
            _position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
