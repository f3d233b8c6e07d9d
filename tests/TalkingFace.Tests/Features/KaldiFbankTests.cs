using TalkingFace.Media;
using TalkingFace.Tests.Audio;
using TalkingFace.Workers.Audio.Features;
using Xunit.Abstractions;

namespace TalkingFace.Tests.Features;

/// <summary>KaldiFbank against torchaudio.compliance.kaldi.fbank (0.13.1, dither 0) on the same samples.</summary>
public class KaldiFbankTests(ITestOutputHelper output)
{
    private static readonly float LogEpsilon = (float)Math.Log(KaldiFbank.Epsilon);

    [Fact]
    public async Task MacronSpeech_matches_torchaudio_fbank()
    {
        var samples = await FeatureReferences.MacronSpeech16k();
        var (torch32, torch64) = FeatureReferences.TorchaudioFbank(samples);

        var data = KaldiFbank.Compute(samples, 16000, new FbankOptions(), out var frames);

        Assert.Equal([1184, 80], torch32.Shape);
        Assert.Equal((1184, 1184 * 80), (frames, data.Length));
        Assert.Equal(1184, KaldiFbank.FrameCount(samples.Length, new FbankOptions()));

        // Silent frames: mel energy 40 dB or more below the loudest frame's (pauses; 100 of them in this clip).
        var energyDb = Enumerable.Range(0, frames).Select(f => 10 * Math.Log10(torch64.Data.AsSpan(f * 80, 80).ToArray().Sum(v => Math.Exp(v)))).ToArray();
        var silent = Enumerable.Range(0, frames).Where(f => energyDb[f] < energyDb.Max() - 40).ToHashSet();
        var floored = torch32.Data.Count(v => v == LogEpsilon);
        var vs32 = Compare(data, torch32.Data, 80, silent);
        var vs64 = Compare(data, torch64.Data, 80, silent);
        var torchOwn = Compare(torch32.Data, torch64.Data, 80, silent);
        output.WriteLine($"MacronSpeech 16 kHz: {frames} x 80, {silent.Count} silent frames (< -40 dB re loudest), {floored} values on the log floor");
        output.WriteLine($"vs torchaudio float32: {vs32}");
        output.WriteLine($"vs torchaudio float64: {vs64}");
        output.WriteLine($"torchaudio float32 vs its own float64 run: {torchOwn}");

        Assert.True(vs32.NonSilentMax <= 1e-3, $"non-silent frames differ from torchaudio by up to {vs32.NonSilentMax:E2}");
        Assert.True(vs32.AllMax <= 1e-3, $"frames differ from torchaudio by up to {vs32.AllMax:E2}");
        // Against the double-precision run only float rounding is left, quiet frames and top bins included.
        Assert.True(vs64.AllMax <= 2e-5, $"frames differ from torchaudio float64 by up to {vs64.AllMax:E2}");
    }

    [Fact]
    public async Task At_16_bit_scale_matches_torchaudio_fbank_of_the_scaled_samples()
    {
        // Fast-HuBERT's recipe (utils/extract_fbank.py): torchaudio's fbank of the samples times 32768. The manifest of a
        // Fast-HuBERT model says waveformScale 32768 and the feature stage passes it as Scale; here the reference gets the
        // scaled samples themselves (x * 32768 is exact in float32).
        var samples = await FeatureReferences.MacronSpeech16k();
        var scaled = samples.Select(x => x * 32768f).ToArray();
        var (torch32, torch64) = FeatureReferences.TorchaudioFbank(scaled);

        var result = KaldiFbank.Compute(samples, 16000, new FbankOptions { Scale = 32768 });
        var plain = KaldiFbank.Compute(samples, 16000, new FbankOptions());

        Assert.Equal(torch32.Shape, new[] { result.Frames, result.Bins });
        var vs32 = Compare(result.Data, torch32.Data, 80, new HashSet<int>());
        var vs64 = Compare(result.Data, torch64.Data, 80, new HashSet<int>());
        // what a scale folded into a constant shift misses: the bins on the floor at one scale but not the other
        var shift = (float)(2 * Math.Log(32768));
        var folded = plain.Data.Select(v => v + shift).ToArray();
        var foldedDiff = Compare(folded, torch32.Data, 80, new HashSet<int>());
        var floorDiffers = plain.Data.Zip(result.Data).Count(p => (p.First == LogEpsilon) != (p.Second == LogEpsilon));
        output.WriteLine($"MacronSpeech x 32768: vs torchaudio float32 {vs32}");
        output.WriteLine($"vs torchaudio float64 {vs64}");
        output.WriteLine($"[-1, 1] fbank + 2 ln 32768 instead: {foldedDiff}; {floorDiffers} values floored at one scale only");
        Assert.True(vs32.AllMax <= 1e-3, $"differs from torchaudio's fbank of the scaled samples by up to {vs32.AllMax:E2}");
        Assert.True(vs64.AllMax <= 2e-5, $"differs from torchaudio float64 by up to {vs64.AllMax:E2}");
    }

    [Fact]
    public void Synthetic_signal_with_tiny_and_high_frequency_energy_matches_torchaudio()
    {
        // Low-level noise next to silence and a 7.9 kHz tone: the cases where float32 rounding shows most.
        var random = new Random(7);
        var samples = new float[16000];
        for (var i = 0; i < samples.Length; i++)
        {
            var noise = (float)(random.NextDouble() - 0.5);
            samples[i] = i < 4000 ? 0f
                : i < 8000 ? 1e-6f * noise
                : i < 12000 ? 0.3f * MathF.Sin(2 * MathF.PI * 7900 * i / 16000f) + 1e-3f * noise
                : 0.5f * noise;
        }
        var (torch32, torch64) = FeatureReferences.TorchaudioFbank(samples, bins: 40);

        var result = KaldiFbank.Compute(samples, 16000, new FbankOptions { MelBins = 40 });

        Assert.Equal((98, 40), (result.Frames, result.Bins));
        Assert.Equal([98, 40], torch32.Shape);
        var vs32 = Compare(result.Data, torch32.Data, 40, new HashSet<int>());
        var vs64 = Compare(result.Data, torch64.Data, 40, new HashSet<int>());
        var torchOwn = Compare(torch32.Data, torch64.Data, 40, new HashSet<int>());
        output.WriteLine("synthetic (silence, 1e-6 noise, 7.9 kHz tone + 1e-3 noise, loud noise), 40 bins:");
        output.WriteLine($"vs torchaudio float32: {vs32}");
        output.WriteLine($"vs torchaudio float64: {vs64}");
        output.WriteLine($"torchaudio float32 vs its own float64 run: {torchOwn}");
        Assert.True(vs64.AllMax <= 2e-5, $"differs from torchaudio float64 by up to {vs64.AllMax:E2}");
        // Where torchaudio's float32 run is off (low bins under a loud 7.9 kHz tone: its FFT rounding noise), the
        // difference is torchaudio's own rounding, not ours.
        for (var i = 0; i < result.Data.Length; i++)
        {
            var allowed = Math.Abs(torch32.Data[i] - torch64.Data[i]) + 2e-5;
            Assert.True(Math.Abs(result.Data[i] - torch32.Data[i]) <= allowed, $"frame {i / 40}, bin {i % 40}: {result.Data[i]} vs torchaudio {torch32.Data[i]}");
        }
    }

    [Fact]
    public void Committed_fast_hubert_fixture_matches()
    {
        // tests/fixtures/models/fbank: hello.wav at 16 kHz and its torchaudio float32 fbank, both written by NumPy
        // (tools/models/make_fixtures.py); the clip ends in digital silence.
        var folder = Path.Combine(TalkingFace.Tests.Infrastructure.TestPaths.RepoRoot, "tests", "fixtures", "models", "fbank");
        NpyArray waveform, reference;
        using (var file = File.OpenRead(Path.Combine(folder, "waveform.npy"))) waveform = Npy.Read(file);
        using (var file = File.OpenRead(Path.Combine(folder, "fbank_reference.npy"))) reference = Npy.Read(file);

        var result = KaldiFbank.Compute(waveform.Data, 16000, new FbankOptions());

        Assert.Equal(reference.Shape, new[] { result.Frames, result.Bins });
        var silent = Enumerable.Range(0, result.Frames).Where(f => reference.Data.AsSpan(f * 80, 80).ToArray().All(v => v == LogEpsilon)).ToHashSet();
        var differences = Compare(result.Data, reference.Data, 80, silent);
        output.WriteLine($"committed fbank fixture ({result.Frames} x 80, {silent.Count} all-floor frames): {differences}");
        Assert.True(differences.AllMax <= 1e-3, $"differs from the committed fixture by up to {differences.AllMax:E2}");
    }

    [Fact]
    public void Silence_is_the_log_floor_everywhere()
    {
        var result = KaldiFbank.Compute(new float[16000], 16000, new FbankOptions());

        Assert.Equal(98, result.Frames);
        Assert.All(result.Data, v => Assert.Equal(LogEpsilon, v));
        Assert.Equal(-15.942385f, LogEpsilon, 5);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(399, 0)]
    [InlineData(400, 1)]
    [InlineData(559, 1)]
    [InlineData(560, 2)]
    [InlineData(189782, 1184)]
    public void Frame_count_is_snip_edges(int samples, int frames)
    {
        Assert.Equal(frames, KaldiFbank.FrameCount(samples, new FbankOptions()));
        var data = KaldiFbank.Compute(new float[samples], 16000, new FbankOptions(), out var computed);
        Assert.Equal(frames, computed);
        Assert.Equal(frames * 80, data.Length);
    }

    [Fact]
    public void A_dc_offset_is_removed_per_frame()
    {
        var sine = SignalMath.Sine(440, 16000, 8000, amplitude: 0.25);
        var shifted = sine.Select(v => v + 0.5f).ToArray();

        var plain = KaldiFbank.Compute(sine, 16000, new FbankOptions());
        var offset = KaldiFbank.Compute(shifted, 16000, new FbankOptions());

        var maxDiff = plain.Data.Zip(offset.Data, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"440 Hz sine with and without +0.5 DC: max |diff| {maxDiff:E2}");
        Assert.True(maxDiff < 1e-3, $"a DC offset changed the features by {maxDiff}");
    }

    [Fact]
    public void Scale_adds_twice_its_log()
    {
        var sine = SignalMath.Sine(1000, 16000, 4000, amplitude: 0.25);

        var plain = KaldiFbank.Compute(sine, 16000, new FbankOptions());
        var scaled = KaldiFbank.Compute(sine, 16000, new FbankOptions { Scale = 32768 });

        var shift = 2 * Math.Log(32768);
        for (var i = 0; i < plain.Data.Length; i++)
        {
            if (plain.Data[i] > LogEpsilon + 1) Assert.Equal(plain.Data[i] + shift, scaled.Data[i], 3);
        }
    }

    [Fact]
    public void A_tone_peaks_in_the_mel_bin_around_its_frequency()
    {
        var tone = SignalMath.Sine(1000, 16000, 16000);

        var result = KaldiFbank.Compute(tone, 16000, new FbankOptions());

        // Filter b is centred at mel(20) + (b + 1) * (mel(8000) - mel(20)) / 81 = 31.7 + 34.7 (b + 1) mel; mel(1000 Hz) = 1000.
        var row = result.Data.AsSpan(50 * 80, 80).ToArray();
        var peak = Array.IndexOf(row, row.Max());
        Assert.InRange(peak, 26, 27);
    }

    private sealed record Differences(double AllMax, double NonSilentMax, double SilentMax, double Mean, int AtMaxFrame, int AtMaxBin)
    {
        public override string ToString() =>
            $"max |diff| all frames {AllMax:E2} (frame {AtMaxFrame}, bin {AtMaxBin}), non-silent {NonSilentMax:E2}, silent {SilentMax:E2}, mean {Mean:E2}";
    }

    private static Differences Compare(float[] actual, float[] expected, int bins, IReadOnlySet<int> silentFrames)
    {
        Assert.Equal(expected.Length, actual.Length);
        double all = 0, nonSilent = 0, silent = 0, sum = 0;
        int atFrame = 0, atBin = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            double d = Math.Abs(actual[i] - expected[i]);
            sum += d;
            if (d > all)
            {
                all = d;
                (atFrame, atBin) = (i / bins, i % bins);
            }
            if (silentFrames.Contains(i / bins)) silent = Math.Max(silent, d);
            else nonSilent = Math.Max(nonSilent, d);
        }
        return new Differences(all, nonSilent, silent, actual.Length == 0 ? 0 : sum / actual.Length, atFrame, atBin);
    }
}
