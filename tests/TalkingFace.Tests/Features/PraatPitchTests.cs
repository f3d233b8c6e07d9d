using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers.Audio.Conversion;
using TalkingFace.Workers.Audio.Features;
using Xunit.Abstractions;

namespace TalkingFace.Tests.Features;

/// <summary>PraatPitch against Debian's Praat 6.3 ("To Pitch (ac)" at GeneFace++'s settings) on the same samples.</summary>
public class PraatPitchTests(ITestOutputHelper output)
{
    [Fact]
    public async Task MacronSpeech_matches_praat()
    {
        var samples = await FeatureReferences.MacronSpeech16k();
        var praat = FeatureReferences.Praat(samples, 16000);

        var track = PraatPitch.Compute(samples, 16000);

        var agreement = Agreement.Measure(track, praat);
        output.WriteLine($"MacronSpeech 16 kHz ({samples.Length} samples): {agreement}");
        Assert.Equal(592, track.FrameCount);
        Assert.Equal(0.0206875, track.FirstTime, 9);
        Assert.InRange(agreement.PraatVoiced / (double)track.FrameCount, 0.53, 0.57);
        Assert.InRange(agreement.PraatMedianHz, 125, 140);
        agreement.AssertAtLeast(voicing: 0.97, medianCents: 10);
    }

    [Fact]
    public async Task Espeak_sample_at_its_own_22050_Hz_matches_praat()
    {
        await using var file = File.OpenRead(Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav"));
        var pcm = await WavReader.ReadAsync(file);
        var mono = Downmix.ToMono(pcm);
        var praat = FeatureReferences.Praat(mono, pcm.SampleRate);

        var track = PraatPitch.Compute(mono, pcm.SampleRate);

        var agreement = Agreement.Measure(track, praat);
        output.WriteLine($"hello.wav ({pcm.SampleRate} Hz, {mono.Length} samples): {agreement}");
        Assert.True(agreement.PraatVoiced > 10, "the espeak sample should have voiced frames");
        agreement.AssertAtLeast(voicing: 0.97, medianCents: 10);
    }

    [Fact]
    public void Synthetic_voice_with_gaps_matches_praat_and_the_true_f0()
    {
        const int rate = 16000;
        var samples = SyntheticVoice(rate, out var trueF0);
        var praat = FeatureReferences.Praat(samples, rate);

        var track = PraatPitch.Compute(samples, rate);

        var agreement = Agreement.Measure(track, praat);
        output.WriteLine($"synthetic voice: {agreement}");
        agreement.AssertAtLeast(voicing: 0.97, medianCents: 10);

        // Frames well inside a voiced stretch are voiced at the true F0.
        var checkedFrames = 0;
        for (var i = 0; i < track.FrameCount; i++)
        {
            var t = track.TimeOf(i);
            if (trueF0(t - 0.03) <= 0 || trueF0(t + 0.03) <= 0) continue;
            checkedFrames++;
            Assert.True(track.F0[i] > 0, $"frame {i} at {t:F3} s is unvoiced");
            var cents = Math.Abs(1200 * Math.Log2(track.F0[i] / trueF0(t)));
            Assert.True(cents < 20, $"frame {i} at {t:F3} s: {track.F0[i]:F2} Hz, true {trueF0(t):F2} Hz");
        }
        Assert.True(checkedFrames > 50);
    }

    [Fact]
    public void Silence_is_unvoiced_in_every_frame()
    {
        var track = PraatPitch.Compute(new float[16000], 16000);

        // (1 s − 37.5 ms) / 20 ms = 48.1 -> 49 frames, centred: the first at 0.5 − 48 · 0.01 = 0.02 s.
        Assert.Equal(49, track.FrameCount);
        Assert.Equal(0.02, track.FirstTime, 12);
        Assert.Equal(0.02, track.TimeStep);
        Assert.All(track.F0, f => Assert.Equal(0f, f));
    }

    [Fact]
    public void Near_silence_below_the_silence_threshold_is_unvoiced()
    {
        // A loud tone then the same tone at 1 % of its level: the quiet part is below 3 % of the global peak.
        var loud = SignalMath.Sine(150, 16000, 8000, amplitude: 0.5);
        var quiet = SignalMath.Sine(150, 16000, 8000, amplitude: 0.005);

        var track = PraatPitch.Compute([.. loud, .. quiet], 16000);

        for (var i = 0; i < track.FrameCount; i++)
        {
            var t = track.TimeOf(i);
            if (t < 0.45) Assert.InRange(track.F0[i], 149f, 151f);
            if (t > 0.55) Assert.Equal(0f, track.F0[i]);
        }
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(100, 0)]
    [InlineData(599, 0)]   // shorter than the 37.5 ms window: Praat refuses, we give no frames
    [InlineData(600, 1)]
    [InlineData(918, 1)]
    [InlineData(922, 2)]
    public void Very_short_audio_gives_no_frames_or_few(int samples, int frames)
    {
        var signal = SignalMath.Sine(200, 16000, samples);

        var track = PraatPitch.Compute(signal, 16000);

        Assert.Equal(frames, track.FrameCount);
        Assert.Equal(frames, PraatPitch.FrameCount(samples, 16000));
    }

    [Fact]
    public void A_dc_offset_does_not_change_the_f0()
    {
        var samples = SyntheticVoice(16000, out _);
        var shifted = samples.Select(v => v + 0.4f).ToArray();

        var plain = PraatPitch.Compute(samples, 16000);
        var offset = PraatPitch.Compute(shifted, 16000);

        Assert.Equal(plain.FrameCount, offset.FrameCount);
        for (var i = 0; i < plain.FrameCount; i++)
        {
            Assert.Equal(plain.F0[i] > 0, offset.F0[i] > 0);
            Assert.Equal(plain.F0[i], offset.F0[i], 0.01f);
        }
    }

    /// <summary>
    /// 2.5 s: a harmonic voice (decaying harmonics, 5 Hz vibrato around 120-220 Hz glides) with two silent gaps and
    /// a stretch of white noise, plus low-level noise throughout.
    /// </summary>
    internal static float[] SyntheticVoice(int rate, out Func<double, double> trueF0)
    {
        static double F0(double t) =>
            t is (>= 0.8 and < 1.1) or (>= 1.7 and < 2.0) ? 0
            : 120 + 100 * t / 2.5 + 6 * Math.Sin(2 * Math.PI * 5 * t);
        trueF0 = F0;
        var random = new Random(11);
        var samples = new float[(int)(2.5 * rate)];
        double phase = 0;
        for (var n = 0; n < samples.Length; n++)
        {
            var t = (double)n / rate;
            var f = F0(t);
            double v = 0;
            if (f > 0)
            {
                phase += 2 * Math.PI * f / rate;
                for (var h = 1; h <= 12 && h * f < rate / 2.0; h++) v += 0.3 / h * Math.Sin(h * phase);
            }
            else if (t >= 1.7)
            {
                v = 0.2 * (random.NextDouble() - 0.5);   // unvoiced fricative-like noise
            }
            samples[n] = (float)(v + 0.002 * (random.NextDouble() - 0.5));
        }
        return samples;
    }

    /// <summary>How well a C# track agrees with Praat's, frame by frame.</summary>
    internal sealed record Agreement(int Frames, int Agreeing, int PraatVoiced, int BothVoiced, double MedianCents, double MaxCents, int Over1Cent, double PraatMedianHz)
    {
        public double Voicing => Frames == 0 ? 1 : (double)Agreeing / Frames;

        public static Agreement Measure(PitchTrack track, FeatureReferences.PraatTrack praat)
        {
            Assert.Equal(praat.F0.Length, track.FrameCount);
            Assert.Equal(praat.TimeStep, track.TimeStep, 12);
            for (var i = 0; i < track.FrameCount; i++) Assert.Equal(praat.Times[i], track.TimeOf(i), 9);

            var cents = new List<double>();
            var agreeing = 0;
            for (var i = 0; i < track.FrameCount; i++)
            {
                bool mine = track.F0[i] > 0, theirs = praat.F0[i] > 0;
                if (mine == theirs) agreeing++;
                if (mine && theirs) cents.Add(Math.Abs(1200 * Math.Log2(track.F0[i] / praat.F0[i])));
            }
            var voiced = praat.F0.Where(f => f > 0).Order().ToArray();
            return new Agreement(
                track.FrameCount,
                agreeing,
                voiced.Length,
                cents.Count,
                Median(cents),
                cents.Count == 0 ? 0 : cents.Max(),
                cents.Count(c => c > 1),
                voiced.Length == 0 ? 0 : Median(voiced));
        }

        public void AssertAtLeast(double voicing, double medianCents)
        {
            Assert.True(Voicing >= voicing, $"voicing agrees with Praat in only {Voicing:P2} of frames: {this}");
            Assert.True(MedianCents <= medianCents, $"median F0 error {MedianCents:F3} cents: {this}");
        }

        public override string ToString() =>
            $"{Frames} frames, voicing agrees in {Agreeing} ({Voicing:P2}); Praat voiced {PraatVoiced} (median {PraatMedianHz:F1} Hz); " +
            $"both voiced {BothVoiced}: median |error| {MedianCents:E2} cents, max {MaxCents:E2} cents, {Over1Cent} frames over 1 cent";

        private static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            if (sorted.Length == 0) return 0;
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
        }
    }
}
