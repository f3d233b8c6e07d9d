using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Minio.DataModel.Args;
using TalkingFace.Contracts;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;
using Xunit.Abstractions;

namespace TalkingFace.Tests.Api;

/// <summary>
/// Uploads are streamed to the store, never held whole in memory: a 256 MiB WAV, generated as it is sent, goes through
/// the distributed gateway (in this process, so its managed heap is this process's) while the live heap is measured,
/// and the stored object must be byte for byte what was sent. Runs with the bad-input catalogue, alone, so no other
/// test's objects come and go in the heap meanwhile.
/// </summary>
[Collection(BadInputCatalogueCollection.Name)]
public sealed class StreamingUploadTests(DistributedServices services, ITestOutputHelper output)
{
    // 48 kHz stereo 16-bit: about 23 minutes. Large enough that the fixed buffers (~48 MiB) sit far below half the file,
    // whatever the other test hosts still alive in this process add to the live heap meanwhile (a 128 MiB file once
    // measured 64.2 MiB of growth against a 64 MiB bound in the full suite).
    private const long AudioBytes = 256L * 1024 * 1024;
    private const long MeasureEvery = 8L * 1024 * 1024;

    [Fact]
    public async Task A_large_upload_goes_to_the_store_intact_without_growing_the_gateway_heap_by_its_size()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Gateway:MaxUploadBytes"] = (2 * AudioBytes).ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        var client = pipeline.StreamingGateway(); // no worker: the job waits queued, this test is about its input
        (await client.GetAsync("/api/jobs")).Dispose(); // gateway started and warm before the baseline
        var stagedBefore = StagedUploadCount();

        var header = new WavBuilder { Channels = 2, SampleRate = 48000, DeclaredDataSize = (uint)AudioBytes }.Build();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long bodyPeak = baseline, peak = baseline;
        var bodyMeasurements = 0;
        void MeasureDuringBody() // at fixed points of the body: the gateway is reading it meanwhile
        {
            var live = GC.GetTotalMemory(forceFullCollection: true); // live objects only, not garbage awaiting a collection
            lock (header) { bodyPeak = Math.Max(bodyPeak, live); peak = Math.Max(peak, live); bodyMeasurements++; }
        }
        void Measure()
        {
            var live = GC.GetTotalMemory(forceFullCollection: true);
            lock (header) peak = Math.Max(peak, live);
        }
        var source = new GeneratedWav(header, AudioBytes, MeasureEvery, MeasureDuringBody);

        using var form = new MultipartFormDataContent();
        var audio = new StreamContent(source, 64 * 1024); // streamed: no Content-Length on the part, nothing buffered
        audio.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
        form.Add(audio, "audio", "long.wav");

        // Also measured in the background, so the time after the body (validation, the store's upload) is covered.
        using var sending = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sending.IsCancellationRequested)
            {
                Measure();
                try { await Task.Delay(100, sending.Token); } catch (OperationCanceledException) { }
            }
        });
        HttpResponseMessage response;
        try
        {
            response = await client.PostAsync("/api/jobs/talking-face", form);
        }
        finally
        {
            await sending.CancelAsync();
            await sampler;
        }
        var job = await response.ReadJobAsync(HttpStatusCode.Accepted);
        response.Dispose();

        Assert.Equal(header.Length + AudioBytes, source.Produced);
        var sentSha = source.Sha256();
        var input = Assert.Single(job.Artifacts, a => a.Name == ArtifactNames.InputAudio);
        Assert.Equal(source.Produced, input.Size);
        Assert.Equal(sentSha, input.Sha256);
        var (storedSize, storedSha) = await HashStoredAsync(pipeline, ArtifactNames.Key(job.Id, "input", ArtifactNames.InputAudio));
        Assert.Equal(source.Produced, storedSize);
        Assert.Equal(sentSha, storedSha);

        // While the body streams in, the heap holds buffers, never the file: measured at about 1 MiB of growth.
        Assert.Equal(AudioBytes / MeasureEvery, bodyMeasurements);
        var bodyGrowth = bodyPeak - baseline;
        // Over the whole request, the S3 SDK's multipart upload adds its part buffers (16 MiB parts, whatever the
        // object's size below 160 GiB): measured at about 48 MiB. Either way, a fixed amount, not the file.
        var growth = peak - baseline;
        output.WriteLine($"live heap {baseline / (1024 * 1024)} MiB before; peak growth {bodyGrowth / (1024.0 * 1024):0.0} MiB while the body streamed, " +
                         $"{growth / (1024.0 * 1024):0.0} MiB over the whole request, for a {AudioBytes / (1024 * 1024)} MiB upload");
        Assert.True(bodyGrowth < 16L * 1024 * 1024,
            $"the live managed heap grew by {bodyGrowth / (1024 * 1024)} MiB while a {AudioBytes / (1024 * 1024)} MiB body streamed in");
        Assert.True(growth < AudioBytes / 2,
            $"the live managed heap grew by {growth / (1024 * 1024)} MiB during a {AudioBytes / (1024 * 1024)} MiB upload");

        // The staged copy is deleted once the request is over (disposal runs just after the response is sent).
        for (var i = 0; i < 100 && StagedUploadCount() > stagedBefore; i++) await Task.Delay(100);
        Assert.Equal(stagedBefore, StagedUploadCount());
    }

    private static int StagedUploadCount() => Directory.GetFiles(Path.GetTempPath(), "talkingface-upload-*").Length;

    /// <summary>Reads the object back from S3 in a stream, hashing it on the way (never whole in memory here either).</summary>
    private static async Task<(long Size, string Sha256)> HashStoredAsync(DistributedPipeline pipeline, string key)
    {
        using var store = pipeline.Store();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        await store.GetObjectAsync(new GetObjectArgs().WithBucket(pipeline.Bucket).WithObject(key).WithCallbackStream(s =>
        {
            var buffer = new byte[81920];
            int read;
            while ((read = s.Read(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                size += read;
            }
        }));
        return (size, Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    /// <summary>
    /// A WAV made as it is read: the header, then a deterministic sawtooth, hashed as produced. Calls
    /// <paramref name="measure"/> each time another <paramref name="measureEvery"/> bytes have gone out, so the heap is
    /// looked at at fixed points of the upload whatever the speed.
    /// </summary>
    private sealed class GeneratedWav(byte[] header, long dataBytes, long measureEvery, Action measure) : Stream
    {
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _nextMeasure;
        private string? _digest;

        public long Produced { get; private set; }

        /// <summary>sha256 of everything produced, once the end has been read.</summary>
        public string Sha256() => _digest ?? throw new InvalidOperationException("the stream was not read to its end");

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Produced; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var total = header.Length + dataBytes;
            var n = (int)Math.Min(buffer.Length, total - Produced);
            if (n <= 0) return 0;
            for (var i = 0; i < n; i++)
            {
                var at = Produced + i;
                buffer[i] = at < header.Length ? header[at] : (byte)((at - header.Length) * 7 % 251);
            }
            _sha.AppendData(buffer[..n]);
            Produced += n;
            if (Produced == total) _digest = Convert.ToHexStringLower(_sha.GetHashAndReset());
            if (Produced - header.Length >= _nextMeasure + measureEvery)
            {
                _nextMeasure += measureEvery;
                measure();
            }
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) _sha.Dispose();
            base.Dispose(disposing);
        }
    }
}
