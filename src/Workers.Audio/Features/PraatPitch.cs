using System.Runtime.CompilerServices;

namespace TalkingFace.Workers.Audio.Features;

/// <summary>
/// Settings of <see cref="PraatPitch"/>, in the order of Praat's "To Pitch (ac)" form. The defaults are GeneFace++'s
/// (parselmouth's <c>to_pitch_ac(time_step=0.02, voicing_threshold=0.6, pitch_floor=80, pitch_ceiling=750)</c>,
/// the rest Praat's defaults).
/// </summary>
public sealed record PitchOptions
{
    /// <summary>Time between frame centres in seconds; zero or less means Praat's automatic step, a quarter window.</summary>
    public double TimeStep { get; init; } = 0.02;

    /// <summary>Lowest F0 looked for, in Hz; the analysis window is 3 periods of it (6 when <see cref="VeryAccurate"/>).</summary>
    public double PitchFloor { get; init; } = 80;

    /// <summary>Most candidates kept per frame, the unvoiced one included; raised to ⌊ceiling / floor⌋ when lower.</summary>
    public int MaxCandidates { get; init; } = 15;

    /// <summary>Praat's "very accurate": a Gaussian window of twice the length instead of a Hanning window.</summary>
    public bool VeryAccurate { get; init; }

    /// <summary>Frames whose local peak is below this fraction of the global peak are taken as silent.</summary>
    public double SilenceThreshold { get; init; } = 0.03;

    /// <summary>Strength of the unvoiced candidate: a peak needs a normalised autocorrelation above this to beat it.</summary>
    public double VoicingThreshold { get; init; } = 0.6;

    /// <summary>Favour for higher frequencies, per octave, in candidate strengths.</summary>
    public double OctaveCost { get; init; } = 0.01;

    /// <summary>Cost of a jump of one octave between consecutive voiced frames (for a 10 ms step; scaled by 0.01 / step).</summary>
    public double OctaveJumpCost { get; init; } = 0.35;

    /// <summary>Cost of a voiced/unvoiced transition (for a 10 ms step; scaled by 0.01 / step).</summary>
    public double VoicedUnvoicedCost { get; init; } = 0.14;

    /// <summary>Highest F0 in Hz; candidates at or above it count as unvoiced. Clipped to the Nyquist frequency.</summary>
    public double PitchCeiling { get; init; } = 750;
}

/// <summary>An F0 contour: frame <c>i</c> is centred at <c>FirstTime + i * TimeStep</c> seconds from the signal's start.</summary>
/// <param name="FirstTime">Centre of the first frame, in seconds.</param>
/// <param name="TimeStep">Time between frame centres, in seconds.</param>
/// <param name="F0">F0 per frame in Hz; 0 for unvoiced (and silent) frames.</param>
public sealed record PitchTrack(double FirstTime, double TimeStep, float[] F0)
{
    /// <summary>Number of frames.</summary>
    public int FrameCount => F0.Length;

    /// <summary>Centre of frame <paramref name="frame"/> (0-based), in seconds.</summary>
    public double TimeOf(int frame) => FirstTime + frame * TimeStep;
}

/// <summary>
/// F0 by Praat's autocorrelation method, "To Pitch (ac)" (Boersma 1993, "Accurate short-term analysis of the
/// fundamental frequency and the harmonics-to-noise ratio of a sampled sound"), written from the paper and from how
/// Praat 6.3 documents and places things, so that it gives the same frames and, within float rounding, the same
/// values as Praat:
/// <list type="bullet">
/// <item>Frames fit symmetrically in the signal: n = ⌊(duration − window) / step⌋ + 1, centred on the signal's middle.</item>
/// <item>Per frame, the mean over one longest period (1 / floor) each side is removed, a Hanning window of 3 periods
/// of the floor is applied (Gaussian of 6 when very accurate), and the autocorrelation (by FFT, zero-padded) is
/// normalised by its lag-0 value and divided by the window's own normalised autocorrelation.</item>
/// <item>Local maxima above half the voicing threshold become candidates (at most <see cref="PitchOptions.MaxCandidates"/>,
/// the weakest after octave cost replaced), located by parabolic interpolation and weighted by windowed-sinc
/// interpolation of depth 30, then refined by maximising the sinc interpolation (depth 70; 700 when very accurate)
/// with Brent's method.</item>
/// <item>Every frame also has the unvoiced candidate, whose strength is the voicing threshold plus
/// max(0, 2 − (local peak / global peak) / (silence threshold / (1 + voicing threshold))).</item>
/// <item>A Viterbi path through the candidates with octave-jump and voiced/unvoiced transition costs (scaled by
/// 0.01 s / step) and octave cost log2(ceiling / f) picks one candidate per frame.</item>
/// </list>
/// Signals shorter than one analysis window (3 / floor seconds) give an empty track (Praat refuses them).
/// A signal that is all one value gives an all-unvoiced track.
/// </summary>
public static class PraatPitch
{
    // Interpolation depths (number of neighbours each side) of the windowed-sinc value interpolation.
    private const int StrengthDepth = 30;
    private const int RefineDepth = 70;
    private const int RefineDepthAccurate = 700;

    /// <summary>Number of frames <see cref="Compute"/> gives for a signal of <paramref name="samples"/> samples; 0 when it is shorter than one window.</summary>
    public static int FrameCount(int samples, int sampleRate, PitchOptions? options = null)
    {
        var setup = Setup.Create(sampleRate, options ?? new PitchOptions());
        return setup.Frames(samples).Count;
    }

    /// <summary>Analyses a mono signal.</summary>
    /// <param name="samples">Mono samples (any scale: thresholds are relative to the signal's own peak).</param>
    /// <param name="sampleRate">Sample rate in Hz.</param>
    /// <param name="options">Settings; null for GeneFace++'s (the <see cref="PitchOptions"/> defaults).</param>
    public static PitchTrack Compute(ReadOnlySpan<float> samples, int sampleRate, PitchOptions? options = null)
    {
        var o = options ?? new PitchOptions();
        var setup = Setup.Create(sampleRate, o);
        var (frames, firstTime) = setup.Frames(samples.Length);
        var step = setup.TimeStep;
        if (frames == 0) return new PitchTrack(firstTime, step, []);

        var x = new double[samples.Length];
        double sum = 0;
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = samples[i];
            sum += x[i];
        }
        var mean = sum / x.Length;
        double globalPeak = 0;
        foreach (var v in x) globalPeak = Math.Max(globalPeak, Math.Abs(v - mean));
        var f0 = new float[frames];
        if (globalPeak == 0) return new PitchTrack(firstTime, step, f0);

        var candidates = new Candidate[frames][];
        var intensities = new double[frames];
        Parallel.For(
            0,
            frames,
            new ParallelOptions { MaxDegreeOfParallelism = frames >= 200 ? Environment.ProcessorCount : 1 },
            () => new FrameAnalyser(setup),
            (frame, _, analyser) =>
            {
                candidates[frame] = analyser.Analyse(x, firstTime + frame * step, globalPeak, out intensities[frame]);
                return analyser;
            },
            _ => { });

        var path = FindPath(candidates, intensities, setup, o);
        for (var i = 0; i < frames; i++)
        {
            var f = candidates[i][path[i]].Frequency;
            f0[i] = IsVoiced(f, setup.Ceiling) ? (float)f : 0f;
        }
        return new PitchTrack(firstTime, step, f0);
    }

    private static bool IsVoiced(double frequency, double ceiling) => frequency > 0 && frequency < ceiling;

    private readonly record struct Candidate(double Frequency, double Strength);

    /// <summary>Viterbi search; returns the chosen candidate index per frame.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int[] FindPath(Candidate[][] frames, double[] intensities, Setup setup, PitchOptions o)
    {
        var n = frames.Length;
        var ceiling = setup.Ceiling;
        var timeStepCorrection = 0.01 / setup.TimeStep;
        var octaveJumpCost = o.OctaveJumpCost * timeStepCorrection;
        var voicedUnvoicedCost = o.VoicedUnvoicedCost * timeStepCorrection;

        var delta = new double[n][];
        var psi = new int[n][];
        for (var i = 0; i < n; i++)
        {
            var unvoiced = o.SilenceThreshold <= 0 ? 0.0 : 2.0 - intensities[i] / (o.SilenceThreshold / (1.0 + o.VoicingThreshold));
            unvoiced = o.VoicingThreshold + Math.Max(0.0, unvoiced);
            var cands = frames[i];
            delta[i] = new double[cands.Length];
            psi[i] = new int[cands.Length];
            for (var c = 0; c < cands.Length; c++)
            {
                var f = cands[c].Frequency;
                delta[i][c] = IsVoiced(f, ceiling) ? cands[c].Strength - o.OctaveCost * Math.Log2(ceiling / f) : unvoiced;
            }
        }

        for (var i = 1; i < n; i++)
        {
            var previous = frames[i - 1];
            var current = frames[i];
            var previousDelta = delta[i - 1];
            var currentDelta = delta[i];
            for (var c2 = 0; c2 < current.Length; c2++)
            {
                var f2 = current[c2].Frequency;
                var voiced2 = IsVoiced(f2, ceiling);
                var best = -1e30;
                var place = 0;
                for (var c1 = 0; c1 < previous.Length; c1++)
                {
                    var f1 = previous[c1].Frequency;
                    var voiced1 = IsVoiced(f1, ceiling);
                    double transition;
                    if (!voiced2) transition = voiced1 ? voicedUnvoicedCost : 0.0;
                    else if (!voiced1) transition = voicedUnvoicedCost;
                    else transition = octaveJumpCost * Math.Abs(Math.Log2(f1 / f2));
                    var value = previousDelta[c1] - transition + currentDelta[c2];
                    if (value > best)
                    {
                        best = value;
                        place = c1;
                    }
                }
                currentDelta[c2] = best;
                psi[i][c2] = place;
            }
        }

        var path = new int[n];
        var last = delta[n - 1];
        var end = 0;
        for (var c = 1; c < last.Length; c++)
        {
            if (last[c] > last[end]) end = c;
        }
        for (var i = n - 1; i >= 0; i--)
        {
            path[i] = end;
            end = psi[i][end];
        }
        return path;
    }

    /// <summary>Sizes and tables that depend only on the settings and the sample rate.</summary>
    private sealed class Setup
    {
        public required double Dx { get; init; }
        public required double TimeStep { get; init; }
        public required double WindowDuration { get; init; }
        public required double Floor { get; init; }
        public required double Ceiling { get; init; }
        public required int MaxCandidates { get; init; }
        public required double VoicingThreshold { get; init; }
        public required double OctaveCost { get; init; }
        public required bool VeryAccurate { get; init; }
        public required int WindowLength { get; init; }
        public required int HalfWindow { get; init; }
        public required int PeriodSamples { get; init; }
        public required int HalfPeriodSamples { get; init; }
        public required int MaximumLag { get; init; }
        public required int InterpolationLags { get; init; }
        public required double[] Window { get; init; }
        public required double[] WindowAutocorrelation { get; init; }
        public required RealFft Fft { get; init; }

        public static Setup Create(int sampleRate, PitchOptions o)
        {
            ArgumentNullException.ThrowIfNull(o);
            ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, 1);
            if (!(o.PitchFloor > 0) || !(o.PitchCeiling > o.PitchFloor))
            {
                throw new ArgumentException($"Pitch floor ({o.PitchFloor} Hz) must be positive and below the ceiling ({o.PitchCeiling} Hz).", nameof(o));
            }
            if (o.MaxCandidates < 2) throw new ArgumentException("At least 2 candidates per frame are needed.", nameof(o));

            var dx = 1.0 / sampleRate;
            var periodsPerWindow = o.VeryAccurate ? 6.0 : 3.0;
            var interpolationDepth = o.VeryAccurate ? 0.25 : 0.5;
            var maxCandidates = o.MaxCandidates < o.PitchCeiling / o.PitchFloor ? (int)Math.Floor(o.PitchCeiling / o.PitchFloor) : o.MaxCandidates;
            var step = o.TimeStep > 0 ? o.TimeStep : periodsPerWindow / o.PitchFloor / 4.0;
            var periodSamples = (int)Math.Floor(1.0 / dx / o.PitchFloor);
            var ceiling = Math.Min(o.PitchCeiling, 0.5 / dx);
            var windowDuration = periodsPerWindow / o.PitchFloor;
            var halfWindow = (int)Math.Floor(windowDuration / dx) / 2 - 1;
            if (halfWindow < 2) throw new ArgumentException("The analysis window is too short for this sample rate; lower the pitch floor.", nameof(o));
            var windowLength = halfWindow * 2;
            var maximumLag = Math.Min((int)Math.Floor(windowLength / periodsPerWindow) + 2, windowLength);

            var fftSize = 1;
            while (fftSize < windowLength * (1 + interpolationDepth)) fftSize *= 2;
            var window = new double[windowLength];
            if (o.VeryAccurate)
            {
                double mid = 0.5 * (windowLength + 1), edge = Math.Exp(-12.0);
                for (var i = 1; i <= windowLength; i++)
                {
                    window[i - 1] = (Math.Exp(-48.0 * (i - mid) * (i - mid) / (windowLength + 1) / (windowLength + 1)) - edge) / (1.0 - edge);
                }
            }
            else
            {
                for (var i = 1; i <= windowLength; i++) window[i - 1] = 0.5 - 0.5 * Math.Cos(i * 2 * Math.PI / (windowLength + 1));
            }
            var interpolationLags = (int)Math.Floor(windowLength * interpolationDepth);
            // The window's autocorrelation, normalised to 1 at lag 0 (computed directly; only small lags are needed).
            var windowR = new double[interpolationLags + 1];
            for (var lag = 0; lag <= interpolationLags; lag++)
            {
                double s = 0;
                for (var j = 0; j + lag < windowLength; j++) s += window[j] * window[j + lag];
                windowR[lag] = s;
            }
            for (var lag = interpolationLags; lag >= 0; lag--) windowR[lag] /= windowR[0];

            return new Setup
            {
                Dx = dx,
                TimeStep = step,
                WindowDuration = windowDuration,
                Floor = o.PitchFloor,
                Ceiling = ceiling,
                MaxCandidates = maxCandidates,
                VoicingThreshold = o.VoicingThreshold,
                OctaveCost = o.OctaveCost,
                VeryAccurate = o.VeryAccurate,
                WindowLength = windowLength,
                HalfWindow = halfWindow,
                PeriodSamples = periodSamples,
                HalfPeriodSamples = periodSamples / 2 + 1,
                MaximumLag = maximumLag,
                InterpolationLags = interpolationLags,
                Window = window,
                WindowAutocorrelation = windowR,
                Fft = new RealFft(fftSize),
            };
        }

        /// <summary>Praat's symmetric frame placement for a signal of <paramref name="samples"/> samples starting at time 0.</summary>
        public (int Count, double FirstTime) Frames(int samples)
        {
            var duration = Dx * samples;
            if (samples == 0 || WindowDuration > duration || Floor < (VeryAccurate ? 6.0 : 3.0) / duration) return (0, 0.5 * duration);
            var count = (int)Math.Floor((duration - WindowDuration) / TimeStep) + 1;
            // The middle of the signal: Praat's first sample time (dx / 2) minus half a sample plus half the duration.
            var middle = 0.5 * duration;
            return (count, middle - 0.5 * (count * TimeStep) + 0.5 * TimeStep);
        }
    }

    /// <summary>Per-thread buffers and the analysis of one frame into candidates.</summary>
    private sealed class FrameAnalyser(Setup s)
    {
        private readonly double[] _frame = new double[s.Fft.Size];
        private readonly double[] _re = new double[s.Fft.Size / 2 + 1];
        private readonly double[] _im = new double[s.Fft.Size / 2 + 1];
        private readonly double[] _power = new double[s.Fft.Size];
        // r[lag] for lag = −L..L stored 1-based as y[lag + L + 1] (y[0] unused), L = InterpolationLags.
        private readonly double[] _y = new double[2 * s.InterpolationLags + 2];
        private readonly List<Candidate> _candidates = new(s.MaxCandidates);
        private readonly List<int> _peakLags = new(s.MaxCandidates);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Candidate[] Analyse(double[] x, double t, double globalPeak, out double intensity)
        {
            var dx = s.Dx;
            // Praat's sample k (1-based) sits at (k − 0.5)·dx; "left" is the last sample at or before t.
            var left = (int)Math.Floor((t - 0.5 * dx) / dx + 1.0);
            var right = left + 1;

            double localMean = 0;
            var first = right - s.PeriodSamples;
            var lastSample = left + s.PeriodSamples;
            for (var k = Math.Max(first, 1); k <= Math.Min(lastSample, x.Length); k++) localMean += x[k - 1];
            localMean /= 2 * s.PeriodSamples;

            var start = right - s.HalfWindow;   // 1-based first sample of the window
            var window = s.Window;
            for (var j = 0; j < s.WindowLength; j++)
            {
                var k = start + j;
                var v = k >= 1 && k <= x.Length ? x[k - 1] : 0.0;
                _frame[j] = (v - localMean) * window[j];
            }
            Array.Clear(_frame, s.WindowLength, _frame.Length - s.WindowLength);

            double localPeak = 0;
            var peakFrom = Math.Max(1, s.HalfWindow + 1 - s.HalfPeriodSamples);
            var peakTo = Math.Min(s.WindowLength, s.HalfWindow + s.HalfPeriodSamples);
            for (var j = peakFrom; j <= peakTo; j++) localPeak = Math.Max(localPeak, Math.Abs(_frame[j - 1]));
            intensity = localPeak > globalPeak ? 1.0 : localPeak / globalPeak;

            if (localPeak == 0) return [new Candidate(0, 0)];

            // Autocorrelation = inverse FFT of the power spectrum; the power spectrum is real and even, so a
            // forward transform gives the same up to a factor, which the normalisation removes.
            var fft = s.Fft;
            fft.Forward(_frame, _re, _im);
            var n = fft.Size;
            var h = n / 2;
            for (var k = 0; k <= h; k++) _power[k] = _re[k] * _re[k] + _im[k] * _im[k];
            for (var k = 1; k < h; k++) _power[n - k] = _power[k];
            fft.Forward(_power, _re, _im);

            var lags = s.InterpolationLags;
            var y = _y;
            var center = lags + 1;
            y[center] = 1.0;
            var ac0 = _re[0];
            var windowR = s.WindowAutocorrelation;
            for (var lag = 1; lag <= lags; lag++)
            {
                var r = _re[lag] / (ac0 * windowR[lag]);
                y[center + lag] = r;
                y[center - lag] = r;
            }

            _candidates.Clear();
            _peakLags.Clear();
            _candidates.Add(new Candidate(0, 0));
            _peakLags.Add(0);
            var voicingThreshold = s.VoicingThreshold;
            var octaveCost = s.OctaveCost;
            var floor = s.Floor;
            var maxCandidates = s.MaxCandidates;
            for (var lag = 2; lag < s.MaximumLag && lag < lags; lag++)
            {
                double rm = y[center + lag - 1], r0 = y[center + lag], rp = y[center + lag + 1];
                if (!(r0 > 0.5 * voicingThreshold && r0 > rm && r0 >= rp)) continue;

                var dr = 0.5 * (rp - rm);
                var d2r = (r0 - rm) + (r0 - rp);
                var frequency = 1.0 / dx / (lag + dr / d2r);
                var strength = WindowedSinc.Interpolate(y, 1.0 / dx / frequency + center, StrengthDepth);
                if (strength > 1.0) strength = 1.0 / strength;

                var place = -1;
                if (_candidates.Count < maxCandidates)
                {
                    _candidates.Add(default);
                    _peakLags.Add(0);
                    place = _candidates.Count - 1;
                }
                else
                {
                    var weakest = 2.0;
                    for (var c = 1; c < maxCandidates; c++)
                    {
                        var local = _candidates[c].Strength - octaveCost * Math.Log2(floor / _candidates[c].Frequency);
                        if (local < weakest)
                        {
                            weakest = local;
                            place = c;
                        }
                    }
                    if (strength - octaveCost * Math.Log2(floor / frequency) <= weakest) place = -1;
                }
                if (place >= 0)
                {
                    _candidates[place] = new Candidate(frequency, strength);
                    _peakLags[place] = lag;
                }
            }

            // Refine each peak by maximising the sinc interpolation of r around it.
            var result = new Candidate[_candidates.Count];
            result[0] = _candidates[0];
            for (var c = 1; c < result.Length; c++)
            {
                var depth = s.VeryAccurate || _candidates[c].Frequency > 0.3 / dx ? RefineDepthAccurate : RefineDepth;
                var ymax = WindowedSinc.ImproveMaximum(y, _peakLags[c] + center, depth, out var xmax);
                var strength = ymax > 1.0 ? 1.0 / ymax : ymax;
                result[c] = new Candidate(1.0 / dx / (xmax - center), strength);
            }
            return result;
        }
    }

    /// <summary>Windowed-sinc interpolation of sampled values and maximisation of it, on 1-based arrays (element 0 unused).</summary>
    internal static class WindowedSinc
    {
        /// <summary>
        /// The value at real index <paramref name="x"/> of y[1..n]: constant outside, exact at integers, otherwise
        /// Σ y[k]·sinc(x − k)·½(1 + cos(π(x − k) / (|x − e| + 1))) over up to <paramref name="depth"/> neighbours on each
        /// side, e being the outermost neighbour used on k's side: a Hann taper that reaches zero one step beyond it.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static double Interpolate(double[] y, double x, int depth)
        {
            var n = y.Length - 1;
            if (n < 1) return double.NaN;
            if (x < 1) return y[1];
            if (x > n) return y[n];
            var midLeft = (int)Math.Floor(x);
            var midRight = midLeft + 1;
            if (x == midLeft) return y[midLeft];
            depth = Math.Min(depth, Math.Min(midRight - 1, n - midLeft));
            if (depth <= 0) return y[(int)Math.Floor(x + 0.5)];
            if (depth == 1) return y[midLeft] + (x - midLeft) * (y[midRight] - y[midLeft]);
            if (depth == 2)
            {
                double yl = y[midLeft], yr = y[midRight];
                double dyl = 0.5 * (yr - y[midLeft - 1]), dyr = 0.5 * (y[midRight + 1] - yl);
                double fil = x - midLeft, fir = midRight - x;
                return yl * fir + yr * fil - fil * fir * (0.5 * (dyr - dyl) + (fil - 0.5) * (dyl + dyr - 2 * (yr - yl)));
            }

            var leftEnd = midRight - depth;
            var rightEnd = midLeft + depth;
            double result = 0;
            // Left neighbours: the distance x − k grows by one per step, so sin(π(x − k)) only alternates in sign and
            // the taper's cosine advances by a fixed angle (a rotation, no trigonometry per term).
            var a = Math.PI * (x - midLeft);
            var halfSin = 0.5 * Math.Sin(a);
            var taper = a / (x - leftEnd + 1.0);
            var taperStep = Math.PI / (x - leftEnd + 1.0);
            double cos = Math.Cos(taper), sin = Math.Sin(taper), cosStep = Math.Cos(taperStep), sinStep = Math.Sin(taperStep);
            for (var k = midLeft; k >= leftEnd; k--)
            {
                result += y[k] * (halfSin / a * (1.0 + cos));
                a += Math.PI;
                halfSin = -halfSin;
                var next = cos * cosStep - sin * sinStep;
                sin = cos * sinStep + sin * cosStep;
                cos = next;
            }
            a = Math.PI * (midRight - x);
            halfSin = 0.5 * Math.Sin(a);
            taper = a / (rightEnd - x + 1.0);
            taperStep = Math.PI / (rightEnd - x + 1.0);
            (cos, sin, cosStep, sinStep) = (Math.Cos(taper), Math.Sin(taper), Math.Cos(taperStep), Math.Sin(taperStep));
            for (var k = midRight; k <= rightEnd; k++)
            {
                result += y[k] * (halfSin / a * (1.0 + cos));
                a += Math.PI;
                halfSin = -halfSin;
                var next = cos * cosStep - sin * sinStep;
                sin = cos * sinStep + sin * cosStep;
                cos = next;
            }
            return result;
        }

        /// <summary>The maximum of the interpolation between indices <paramref name="peak"/> ± 1 (Brent's method, tolerance 1e-10); its place in <paramref name="xmax"/>.</summary>
        public static double ImproveMaximum(double[] y, int peak, int depth, out double xmax)
        {
            var n = y.Length - 1;
            if (peak <= 1)
            {
                xmax = 1;
                return y[1];
            }
            if (peak >= n)
            {
                xmax = n;
                return y[n];
            }
            xmax = Brent.Minimize(v => -Interpolate(y, v, depth), peak - 1, peak + 1, 1e-10, out var minimum);
            return -minimum;
        }
    }

    /// <summary>Brent's (1973) minimisation on an interval without derivatives: golden section with parabolic steps.</summary>
    internal static class Brent
    {
        private const double GoldenStep = 0.3819660112501051;   // (3 − √5) / 2
        private const int MaxIterations = 60;
        private static readonly double SqrtEpsilon = Math.Sqrt(Math.Pow(2, -53));

        public static double Minimize(Func<double, double> f, double a, double b, double tolerance, out double fx)
        {
            var x = a + GoldenStep * (b - a);
            var w = x;
            var v = x;
            fx = f(x);
            var fw = fx;
            var fv = fx;
            for (var iteration = 0; iteration < MaxIterations; iteration++)
            {
                var middle = 0.5 * (a + b);
                var tol = SqrtEpsilon * Math.Abs(x) + tolerance / 3.0;
                if (Math.Abs(x - middle) + 0.5 * (b - a) <= 2.0 * tol) return x;

                var step = GoldenStep * (x < middle ? b - x : a - x);
                if (Math.Abs(x - w) >= tol)
                {
                    // Parabola through (v, fv), (w, fw), (x, fx): step p / q, taken only if it stays well inside.
                    var t = (x - w) * (fx - fv);
                    var q = (x - v) * (fx - fw);
                    var p = (x - v) * q - (x - w) * t;
                    q = 2.0 * (q - t);
                    if (q > 0) p = -p;
                    else q = -q;
                    if (Math.Abs(p) < Math.Abs(step * q) && p > q * (a - x + 2.0 * tol) && p < q * (b - x - 2.0 * tol)) step = p / q;
                }
                if (Math.Abs(step) < tol) step = step > 0 ? tol : -tol;

                var u = x + step;
                var fu = f(u);
                if (fu <= fx)
                {
                    if (u < x) b = x;
                    else a = x;
                    v = w;
                    fv = fw;
                    w = x;
                    fw = fx;
                    x = u;
                    fx = fu;
                }
                else
                {
                    if (u < x) a = u;
                    else b = u;
                    if (fu <= fw || w == x)
                    {
                        v = w;
                        fv = fw;
                        w = u;
                        fw = fu;
                    }
                    else if (fu <= fv || v == x || v == w)
                    {
                        v = u;
                        fv = fu;
                    }
                }
            }
            return x;
        }
    }
}

/// <summary>
/// F0 the way GeneFace++ computes it for its audio-to-motion model (data_gen/utils/process_audio/extract_mel_f0.py and
/// inference/genefacepp_infer.py): the 16 kHz wave is right-padded with zeros to (len / 320 + 1)·320 samples, then
/// Praat's "To Pitch (ac)" runs at <see cref="PitchOptions"/>' defaults (20 ms step, 80–750 Hz, voicing threshold 0.6).
/// On a padded wave of k·320 samples Praat gives k − 1 = len / 320 frames, the first centred at 0.020 s, so frame
/// <c>i</c> is centred at (i + 1)·20 ms; the HuBERT frame <c>i</c> with the same index is centred at i·20 + 12.5 ms.
/// </summary>
/// <remarks>
/// Alignment to the caller's frames: GeneFace++ first cuts (or pads with the last value) the track to its mel length
/// 1 + (len − 512) / 320, then cuts it or pads it with zeros to the HuBERT length. <see cref="Extract"/> keeps
/// Praat's values index by index for every frame Praat has, so frame <c>i</c> equals GeneFace++'s for every
/// <c>i</c> below min(mel length, frameCount) — all frames but at most the last one or two — and where the caller
/// has more frames than GeneFace++'s mel length it carries Praat's real value for them instead of GeneFace++'s zero.
/// Frames beyond Praat's own count (only when the caller asks for more than len / 320 frames) repeat the last value,
/// as GeneFace++ does when its mel is longer than the track. No frame is ever dropped: the result always has
/// exactly <c>frameCount</c> values.
/// </remarks>
public static class GeneFaceF0
{
    /// <summary>The sample rate GeneFace++ works at.</summary>
    public const int SampleRate = 16000;

    /// <summary>GeneFace++'s hop: 320 samples, 20 ms, one HuBERT frame.</summary>
    public const int HopSize = 320;

    /// <summary>The settings GeneFace++ passes to parselmouth (the defaults of <see cref="PitchOptions"/>).</summary>
    public static PitchOptions Options { get; } = new();

    /// <summary>Length of the wave after GeneFace++'s right padding: (len / 320 + 1)·320.</summary>
    public static int PaddedLength(int samples)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        return checked((samples / HopSize + 1) * HopSize);
    }

    /// <summary>Number of frames Praat gives on the padded wave: len / 320 (0 below 320 samples, where even the padded wave is shorter than the 37.5 ms window).</summary>
    public static int TrackLength(int samples) => PraatPitch.FrameCount(PaddedLength(samples), SampleRate, Options);

    /// <summary>GeneFace++'s mel length for a wave of <paramref name="samples"/> samples, 1 + (len − 512) / 320 (librosa, centre off), 0 below 512.</summary>
    public static int MelLength(int samples) => samples < 512 ? 0 : 1 + (samples - 512) / HopSize;

    /// <summary>F0 per 20 ms frame, GeneFace++'s way, as exactly <paramref name="frameCount"/> values (0 = unvoiced).</summary>
    /// <param name="samples16k">Mono samples at 16 kHz.</param>
    /// <param name="frameCount">How many frames the caller has, normally its number of 50 Hz HuBERT frames.</param>
    public static float[] Extract(ReadOnlySpan<float> samples16k, int frameCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frameCount);
        var padded = new float[PaddedLength(samples16k.Length)];
        samples16k.CopyTo(padded);
        var track = PraatPitch.Compute(padded, SampleRate, Options).F0;

        var result = new float[frameCount];
        var kept = Math.Min(track.Length, frameCount);
        track.AsSpan(0, kept).CopyTo(result);
        if (kept < frameCount && track.Length > 0) result.AsSpan(kept).Fill(track[^1]);
        return result;
    }
}
