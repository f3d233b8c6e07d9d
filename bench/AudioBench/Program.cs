using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using TalkingFace.Models;
using TalkingFace.Workers;
using TalkingFace.Workers.Audio;
using TalkingFace.Workers.Audio.Conversion;
using TalkingFace.Workers.Audio.Features;

namespace TalkingFace.Bench;

/// <summary>
/// ONNX Runtime side of <c>bench/audio</c>, one model per process so each peak RSS is clean. Prints one JSON line.
/// <list type="bullet">
/// <item><c>time</c>: feature-extraction time per clip, exactly the worker's <see cref="FeatureExtractor.Extract"/>
/// (normalised waveform for HuBERT, Kaldi fbank for Fast-HuBERT, then the model) on audio the worker's
/// <see cref="AudioConverter"/> already made 16 kHz mono (outside the timing); the session is loaded once and one
/// warm-up pass on the first clip is not timed.</item>
/// <item><c>stage</c>: the audio stage as the worker runs it, per clip from the WAV file on disk: decode + resample
/// (<see cref="AudioConverter.ConvertAsync"/>), features (fbank + model), F0 (<see cref="GeneFaceF0"/>); the model is
/// preloaded and warmed as the worker does, and one whole stage on the first clip is not timed. Reports the
/// real-time factor (audio seconds per wall second) and the process's peak RSS (VmHWM) over the model file size.</item>
/// </list>
/// Usage: AudioBench time|stage --models-root DIR --clips DIR --model NAME [--threads N (0: ONNX Runtime's default)] [--dump FILE]
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length < 1 || args[0] is not ("time" or "stage" or "batch"))
        {
            Console.Error.WriteLine("usage: AudioBench time|stage --models-root DIR --clips DIR --model NAME [--threads N] [--dump FILE]");
            return 2;
        }
        var opts = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
        var root = opts["models-root"];
        var clipsDir = opts["clips"];
        var name = opts["model"];
        var threads = int.Parse(opts.GetValueOrDefault("threads", "0"), CultureInfo.InvariantCulture);
        opts.TryGetValue("dump", out var dump);

        var clips = Directory.GetFiles(clipsDir, "clip*.wav").Order(StringComparer.Ordinal).ToArray();
        if (clips.Length == 0) throw new FileNotFoundException($"no clip*.wav in {clipsDir}");

        // The CPU class runs each fp32 model as itself (its precision comes first), and a named variant is that variant.
        var inference = Options.Create(new InferenceOptions { IntraOpThreads = threads, OptimizedModelCache = "", LowMemory = Environment.GetEnvironmentVariable("BENCH_LOW_MEMORY") == "1" });
        using var registry = new ModelRegistry(
            new ModelCatalog(Options.Create(new ModelStoreOptions { Root = root })),
            new OnnxSessionFactory(inference, NullLogger<OnnxSessionFactory>.Instance),
            Options.Create(new WorkerOptions { DeviceClass = "cpu" }),
            inference,
            NullLogger<ModelRegistry>.Instance);
        var model = registry.Get(name) ?? throw new InvalidOperationException($"model {name} is not in {root}");
        var converter = new AudioConverter(Options.Create(new AudioConversionOptions()));
        var extractor = new FeatureExtractor(Options.Create(new FeatureExtractionOptions()));
        var fileBytes = new FileInfo(Path.Combine(model.Directory, model.Manifest.File)).Length;
        var common = new Dictionary<string, object?>
        {
            ["model"] = name,
            ["manifest"] = model.Manifest.Id,
            ["precision"] = model.Manifest.Precision,
            ["provider"] = model.Provider,
            ["threads"] = threads,
            ["ort"] = OrtEnv.Instance().GetVersionString(),
            ["load_s"] = model.LoadTime.TotalSeconds,
            ["file_bytes"] = fileBytes,
            ["clips"] = clips.Length,
        };

        if (args[0] == "batch")
        {
            // Does running several queued clips of similar length in one call pay on this device? Clips are cut to
            // the shortest one's length (similar-length batching), then run one at a time and as one batch.
            var batchSize = int.Parse(opts.GetValueOrDefault("batch", "4"), CultureInfo.InvariantCulture);
            var inputs = new List<float[]>();
            foreach (var path in clips.Take(batchSize))
            {
                await using var stream = File.OpenRead(path);
                inputs.Add((await converter.ConvertAsync(stream)).Samples);
            }
            var length = inputs.Min(x => x.Length);
            var fbankOptions = new FbankOptions();
            float[] Prepare(float[] x) => model.Manifest.Input!.Kind == "fbank"
                ? KaldiFbank.Compute(x.AsSpan(0, length), 16000, fbankOptions).Data
                : FeatureExtractor.Normalize(x.AsSpan(0, length));
            var prepared = inputs.Select(Prepare).ToArray();
            var unit = model.Manifest.Input!.Kind == "fbank" ? 80 : 1;
            var units = prepared[0].Length / unit;
            long[] Shape(int b) => unit == 1 ? [b, units] : [b, units, unit];
            double RunOnce(float[] data, int b)
            {
                using var tensor = OrtValue.CreateTensorValueFromMemory(data, Shape(b));
                using var runOptions = new RunOptions();
                var watch = Stopwatch.StartNew();
                using var outputs = model.Session.Run(runOptions, [model.Manifest.Input!.Name], [tensor], [model.Manifest.Output!.Name]);
                return watch.Elapsed.TotalSeconds;
            }
            var joined = prepared.SelectMany(x => x).ToArray();
            RunOnce(prepared[0], 1); RunOnce(joined, batchSize); // warm-up
            double single = double.MaxValue, batched = double.MaxValue;
            for (var repeat = 0; repeat < 5; repeat++)
            {
                single = Math.Min(single, prepared.Sum(x => RunOnce(x, 1)));
                batched = Math.Min(batched, RunOnce(joined, batchSize));
            }
            common["batch"] = batchSize;
            common["clip_seconds"] = length / 16000.0;
            common["sequential_s_per_clip"] = single / batchSize;
            common["batched_s_per_clip"] = batched / batchSize;
            common["batch_speedup"] = single / batched;
            Console.WriteLine(JsonSerializer.Serialize(common));
            return 0;
        }

        if (args[0] == "time")
        {
            var inputs = new List<float[]>();
            foreach (var path in clips)
            {
                await using var stream = File.OpenRead(path);
                inputs.Add((await converter.ConvertAsync(stream)).Samples);
            }
            var watch = Stopwatch.StartNew();
            var first = extractor.Extract(model, inputs[0], CancellationToken.None);
            common["warmup_s"] = watch.Elapsed.TotalSeconds;
            if (dump is not null) WriteFloats(dump, first.Data);
            var times = new List<double>();
            foreach (var samples in inputs)
            {
                watch.Restart();
                var features = extractor.Extract(model, samples, CancellationToken.None);
                times.Add(watch.Elapsed.TotalSeconds);
                if (features.Dim != model.Manifest.Output!.FeatureDim) throw new InvalidOperationException($"{name}: {features.Dim}-d features, the manifest says {model.Manifest.Output.FeatureDim}");
            }
            common["side"] = "onnx";
            common["audio_s"] = inputs.Sum(s => s.Length) / 16000.0;
            common["mean_s"] = times.Average();
            common["min_s"] = times.Min();
            common["max_s"] = times.Max();
            common["total_s"] = times.Sum();
            common["first_shape"] = new[] { first.Frames, first.Dim };
        }
        else
        {
            // As the worker: FeatureModelPreloader warms with one second of silence; then one untimed stage run on the first clip.
            extractor.Extract(model, new float[16000], CancellationToken.None);
            await Stage(converter, extractor, model, clips[0]);
            double conversion = 0, features = 0, f0 = 0, audio = 0;
            var wall = Stopwatch.StartNew();
            foreach (var path in clips)
            {
                var (c, f, p, seconds) = await Stage(converter, extractor, model, path);
                conversion += c; features += f; f0 += p; audio += seconds;
            }
            var wallSeconds = wall.Elapsed.TotalSeconds;
            common["side"] = "stage";
            common["audio_s"] = audio;
            common["wall_s"] = wallSeconds;
            common["rtf"] = audio / wallSeconds;
            common["conversion_s"] = conversion;
            common["features_s"] = features;
            common["f0_s"] = f0;
        }
        var (hwm, rss, anon, file) = Memory();
        common["vmhwm_bytes"] = hwm;
        common["vmrss_bytes"] = rss;
        common["rss_anon_bytes"] = anon;
        common["rss_file_bytes"] = file;
        common["rss_ratio"] = (double)hwm / fileBytes;
        Console.WriteLine(JsonSerializer.Serialize(common));
        return 0;
    }

    /// <summary>One audio stage run on a WAV file, timed per step: (conversion, features, F0, audio seconds).</summary>
    private static async Task<(double Conversion, double Features, double F0, double AudioSeconds)> Stage(
        AudioConverter converter, FeatureExtractor extractor, LoadedModel model, string path)
    {
        var watch = Stopwatch.StartNew();
        ConvertedAudio audio;
        await using (var stream = File.OpenRead(path)) audio = await converter.ConvertAsync(stream);
        var conversion = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var features = extractor.Extract(model, audio.Samples, CancellationToken.None);
        var featureSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var f0 = GeneFaceF0.Extract(audio.Samples, AudioStageRunner.HubertFrameCount(audio.Samples.Length));
        var f0Seconds = watch.Elapsed.TotalSeconds;
        if (features.Frames == 0 || f0.Length == 0) throw new InvalidOperationException($"{path}: no frames");
        return (conversion, featureSeconds, f0Seconds, audio.Duration.TotalSeconds);
    }

    /// <summary>
    /// Peak and current resident set size of this process and the current split into anonymous and file-backed pages
    /// (mapped files, which the kernel may drop under memory pressure), from /proc/self/status, in bytes.
    /// </summary>
    private static (long Peak, long Current, long Anon, long File) Memory()
    {
        long peak = 0, current = 0, anon = 0, file = 0;
        foreach (var line in System.IO.File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kib(line);
            else if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) current = Kib(line);
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kib(line);
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kib(line);
        }
        return (peak, current, anon, file);

        static long Kib(string line) =>
            1024 * long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    private static void WriteFloats(string path, float[] data)
    {
        using var file = File.Create(path);
        file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
    }
}
