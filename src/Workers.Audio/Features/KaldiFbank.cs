using System.Runtime.CompilerServices;

namespace TalkingFace.Workers.Audio.Features;

/// <summary>
/// Settings of <see cref="KaldiFbank"/>. The defaults are those of <c>torchaudio.compliance.kaldi.fbank</c> 0.13.1 with
/// <c>dither=0.0</c> and <c>num_mel_bins=80</c>, which is what the Fast-HuBERT front end is fed with.
/// </summary>
public sealed record FbankOptions
{
    /// <summary>Number of triangular mel filters (torchaudio's <c>num_mel_bins</c>, which defaults to 23 there); at least 4.</summary>
    public int MelBins { get; init; } = 80;

    /// <summary>Frame length in milliseconds (<c>frame_length</c>).</summary>
    public double FrameLengthMs { get; init; } = 25.0;

    /// <summary>Frame shift in milliseconds (<c>frame_shift</c>).</summary>
    public double FrameShiftMs { get; init; } = 10.0;

    /// <summary>Lowest frequency covered by the mel filters, in Hz (<c>low_freq</c>).</summary>
    public double LowFrequency { get; init; } = 20.0;

    /// <summary>
    /// Highest frequency covered by the mel filters, in Hz (<c>high_freq</c>); zero or negative means the Nyquist
    /// frequency plus this value, as in Kaldi.
    /// </summary>
    public double HighFrequency { get; init; }

    /// <summary>Pre-emphasis coefficient (<c>preemphasis_coefficient</c>); each frame's first sample is replicated before it.</summary>
    public double PreemphasisCoefficient { get; init; } = 0.97;

    /// <summary>Subtract each frame's mean before pre-emphasis (<c>remove_dc_offset</c>).</summary>
    public bool RemoveDcOffset { get; init; } = true;

    /// <summary>
    /// Factor the samples are multiplied by first. torchaudio's fbank takes the waveform as it is given; Kaldi tools
    /// and upstream Fast-HuBERT (its utils/extract_fbank.py) pass 16-bit integer scale, samples in [-1, 1] times
    /// 32768, which adds 2·ln(32768) ≈ 20.79 to every value above the floor but leaves floored values where they are,
    /// so it cannot be folded into a later normalisation exactly. A model's manifest says which scale its graph was
    /// built for (<c>input.fbank.waveformScale</c>: 32768 for the Fast-HuBERT graphs tools/models builds, as upstream);
    /// the feature stage passes that here. 1.0 (the default) is torchaudio's fbank of the samples as they are.
    /// </summary>
    public double Scale { get; init; } = 1.0;
}

/// <summary>A log-mel filterbank: <see cref="Frames"/> rows of <see cref="Bins"/> values, row-major.</summary>
/// <param name="Data">Frame-major values: <c>Data[frame * Bins + bin]</c>, natural log of the mel energy.</param>
/// <param name="Frames">Number of 10 ms frames (rows).</param>
/// <param name="Bins">Number of mel bins (columns).</param>
public sealed record FbankResult(float[] Data, int Frames, int Bins);

/// <summary>
/// Kaldi-compatible log-mel filterbank features, equal to <c>torchaudio.compliance.kaldi.fbank</c> (0.13.1) with its
/// defaults and <c>dither=0.0</c>: 25 ms frames every 10 ms that fit entirely in the signal (<c>snip_edges</c>),
/// per-frame DC removal, pre-emphasis 0.97 with the first sample replicated, the "povey" window
/// (a symmetric Hann window to the power 0.85), zero-padding to the next power of two (512 points at 16 kHz), power
/// spectrum, triangular filters on the mel scale 1127·ln(1 + f/700) from 20 Hz to the Nyquist frequency (the Nyquist
/// FFT bin itself is not used), and the natural log of max(energy, 1.1920929e-07). No energy column, no mean
/// subtraction, no VTLN.
/// </summary>
/// <remarks>
/// The signal path runs in double precision and is rounded to float at the end. The mel filters are built the way
/// torchaudio builds them, in float32: their edge weights are small differences of float32 mel values (a float32
/// step is 2.4e-4 mel near 2800), and exact filters would move some outputs by up to 1.6e-4. Measured on
/// MacronSpeech: against torchaudio run in float64 the result differs by float rounding only (at most 9e-6, silent
/// frames and top bins included); against torchaudio's usual float32 run by torchaudio's own float32 rounding (at most
/// 1.8e-4), which grows where a bin's energy is tiny next to a loud component elsewhere in the spectrum (the rounding
/// noise of a float32 FFT): 1e-2 in the lowest bins under a loud 7.9 kHz tone.
/// Signals shorter than one frame give zero frames (torchaudio raises an assertion error instead).
/// </remarks>
public static class KaldiFbank
{
    /// <summary>The floor applied before the log: float32 machine epsilon, as in Kaldi and torchaudio.</summary>
    public const double Epsilon = 1.1920928955078125e-07;

    /// <summary>Number of frames <see cref="Compute(ReadOnlySpan{float}, int, FbankOptions)"/> gives for <paramref name="samples"/> samples: 1 + (samples − frameLength) / frameShift, or 0 when the signal is shorter than one frame.</summary>
    /// <param name="samples">Signal length in samples.</param>
    /// <param name="o">Frame settings.</param>
    /// <param name="sampleRate">Sample rate in Hz (frame length and shift are in milliseconds).</param>
    public static int FrameCount(int samples, FbankOptions o, int sampleRate = 16000)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        var (length, shift) = FrameGeometry(sampleRate, o);
        return samples < length ? 0 : 1 + (samples - length) / shift;
    }

    /// <summary>Computes the log-mel filterbank of a mono signal.</summary>
    /// <param name="samples">Mono samples, multiplied by <see cref="FbankOptions.Scale"/> first.</param>
    /// <param name="sampleRate">Sample rate in Hz (16000 for Fast-HuBERT).</param>
    /// <param name="options">Settings; <c>new FbankOptions()</c> for torchaudio's defaults with 80 bins.</param>
    /// <param name="frames">Number of frames (rows) in the result, <see cref="FrameCount"/>.</param>
    /// <returns>Row-major [frames, <see cref="FbankOptions.MelBins"/>] natural-log mel energies.</returns>
    public static float[] Compute(ReadOnlySpan<float> samples, int sampleRate, FbankOptions options, out int frames)
    {
        var result = Compute(samples, sampleRate, options);
        frames = result.Frames;
        return result.Data;
    }

    /// <summary>Computes the log-mel filterbank of a mono signal; see <see cref="Compute(ReadOnlySpan{float}, int, FbankOptions, out int)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static FbankResult Compute(ReadOnlySpan<float> samples, int sampleRate, FbankOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var plan = Plan.Get(sampleRate, options);
        var frameCount = FrameCount(samples.Length, options, sampleRate);
        var bins = options.MelBins;
        var output = new float[checked(frameCount * bins)];
        if (frameCount == 0) return new FbankResult(output, 0, bins);

        var length = plan.FrameLength;
        var fftSize = plan.Fft.Size;
        var frame = new double[fftSize];
        var re = new double[fftSize / 2 + 1];
        var im = new double[fftSize / 2 + 1];
        var power = new double[fftSize / 2 + 1];
        var scale = options.Scale;
        var preemphasis = options.PreemphasisCoefficient;

        for (var f = 0; f < frameCount; f++)
        {
            var source = samples.Slice(f * plan.FrameShift, length);
            double mean = 0;
            for (var i = 0; i < length; i++)
            {
                frame[i] = source[i] * scale;
                mean += frame[i];
            }
            if (options.RemoveDcOffset)
            {
                mean /= length;
                for (var i = 0; i < length; i++) frame[i] -= mean;
            }
            if (preemphasis != 0)
            {
                for (var i = length - 1; i > 0; i--) frame[i] -= preemphasis * frame[i - 1];
                frame[0] -= preemphasis * frame[0];
            }
            var window = plan.Window;
            for (var i = 0; i < length; i++) frame[i] *= window[i];
            Array.Clear(frame, length, fftSize - length);

            plan.Fft.Forward(frame, re, im);
            for (var k = 0; k < power.Length; k++) power[k] = re[k] * re[k] + im[k] * im[k];

            var row = output.AsSpan(f * bins, bins);
            for (var b = 0; b < bins; b++)
            {
                var weights = plan.Weights[b];
                var first = plan.FirstBin[b];
                double energy = 0;
                for (var k = 0; k < weights.Length; k++) energy += weights[k] * power[first + k];
                row[b] = (float)Math.Log(Math.Max(energy, Epsilon));
            }
        }
        return new FbankResult(output, frameCount, bins);
    }

    private static (int Length, int Shift) FrameGeometry(int sampleRate, FbankOptions o)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, 1);
        // torchaudio: int(sample_frequency * frame_length * 0.001), i.e. truncation of the double product.
        var length = (int)(sampleRate * o.FrameLengthMs * 0.001);
        var shift = (int)(sampleRate * o.FrameShiftMs * 0.001);
        if (length < 2) throw new ArgumentException($"A frame of {o.FrameLengthMs} ms at {sampleRate} Hz is shorter than 2 samples.", nameof(o));
        if (shift < 1) throw new ArgumentException($"A frame shift of {o.FrameShiftMs} ms at {sampleRate} Hz is shorter than 1 sample.", nameof(o));
        return (length, shift);
    }

    /// <summary>Everything that depends only on the settings: window, FFT tables, mel filters. Cached per settings.</summary>
    private sealed class Plan
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int, FbankOptions), Plan> Cache = new();

        public required int FrameLength { get; init; }
        public required int FrameShift { get; init; }
        public required double[] Window { get; init; }
        public required RealFft Fft { get; init; }
        /// <summary>Per mel bin: the first FFT bin with a non-zero weight, and the weights from there on.</summary>
        public required int[] FirstBin { get; init; }
        public required double[][] Weights { get; init; }

        public static Plan Get(int sampleRate, FbankOptions options)
        {
            if (Cache.TryGetValue((sampleRate, options), out var plan)) return plan;
            plan = Create(sampleRate, options);
            if (Cache.Count < 64) Cache.TryAdd((sampleRate, options), plan);
            return plan;
        }

        private static Plan Create(int sampleRate, FbankOptions o)
        {
            var (length, shift) = FrameGeometry(sampleRate, o);
            if (o.MelBins <= 3) throw new ArgumentException("At least 4 mel bins are needed.", nameof(o));
            if (o.PreemphasisCoefficient is < 0 or > 1) throw new ArgumentException("The pre-emphasis coefficient must be in [0, 1].", nameof(o));
            var fftSize = 1;
            while (fftSize < length) fftSize *= 2;

            // Povey window: symmetric Hann (periodic=False) to the power 0.85.
            var window = new double[length];
            for (var i = 0; i < length; i++) window[i] = Math.Pow(0.5 - 0.5 * Math.Cos(2 * Math.PI * i / (length - 1)), 0.85);

            var nyquist = 0.5 * sampleRate;
            var low = o.LowFrequency;
            var high = o.HighFrequency <= 0 ? o.HighFrequency + nyquist : o.HighFrequency;
            if (!(low >= 0 && low < nyquist && high > 0 && high <= nyquist && low < high))
            {
                throw new ArgumentException($"Bad mel range: low {low} Hz, high {high} Hz, Nyquist {nyquist} Hz.", nameof(o));
            }
            // The filters are computed the way torchaudio computes them, in float32 from double scalars, so that their
            // edge weights (small differences of mel values near 2800, where a float32 step is 2.4e-4) are the same.
            var melLow = Mel(low);
            var melHigh = Mel(high);
            var delta = (melHigh - melLow) / (o.MelBins + 1);
            float melLowF = (float)melLow, deltaF = (float)delta, binWidth = (float)((double)sampleRate / fftSize);
            var fftMel = new float[fftSize / 2];
            for (var k = 0; k < fftMel.Length; k++) fftMel[k] = 1127.0f * MathF.Log(1.0f + binWidth * k / 700.0f);
            var firstBins = new int[o.MelBins];
            var weights = new double[o.MelBins][];
            var row = new double[fftSize / 2];
            for (var b = 0; b < o.MelBins; b++)
            {
                var left = melLowF + b * deltaF;
                var center = melLowF + (b + 1.0f) * deltaF;
                var right = melLowF + (b + 2.0f) * deltaF;
                int first = -1, last = -1;
                // The Nyquist bin (fftSize / 2) gets no weight, as in Kaldi and torchaudio.
                for (var k = 0; k < fftSize / 2; k++)
                {
                    var up = (fftMel[k] - left) / (center - left);
                    var down = (right - fftMel[k]) / (right - center);
                    row[k] = Math.Max(0f, Math.Min(up, down));
                    if (row[k] > 0)
                    {
                        if (first < 0) first = k;
                        last = k;
                    }
                }
                if (first < 0)
                {
                    firstBins[b] = 0;
                    weights[b] = [];
                }
                else
                {
                    firstBins[b] = first;
                    weights[b] = row[first..(last + 1)];
                }
            }
            return new Plan
            {
                FrameLength = length,
                FrameShift = shift,
                Window = window,
                Fft = new RealFft(fftSize),
                FirstBin = firstBins,
                Weights = weights,
            };
        }

        private static double Mel(double hz) => 1127.0 * Math.Log(1.0 + hz / 700.0);
    }
}

/// <summary>
/// Forward FFT of real double input of a power-of-two length: a complex FFT of half the length on the even/odd
/// samples, then the usual split into the spectrum of the real signal. Tables are built once per size; an instance
/// is safe to use from several threads.
/// </summary>
internal sealed class RealFft
{
    private readonly int _half;
    private readonly int[] _bitReverse;
    private readonly double[] _cos;   // cos(2πk/half), k < half/2: twiddles of the complex FFT
    private readonly double[] _sin;
    private readonly double[] _splitCos;   // cos(2πk/size), k <= half/2: twiddles of the real split
    private readonly double[] _splitSin;

    public RealFft(int size)
    {
        if (size < 4 || (size & (size - 1)) != 0) throw new ArgumentException("The FFT size must be a power of two, at least 4.", nameof(size));
        Size = size;
        _half = size / 2;
        var bits = System.Numerics.BitOperations.Log2((uint)_half);
        _bitReverse = new int[_half];
        for (var i = 0; i < _half; i++)
        {
            var r = 0;
            for (var b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
            _bitReverse[i] = r;
        }
        _cos = new double[Math.Max(1, _half / 2)];
        _sin = new double[_cos.Length];
        for (var k = 0; k < _cos.Length; k++)
        {
            _cos[k] = Math.Cos(2 * Math.PI * k / _half);
            _sin[k] = Math.Sin(2 * Math.PI * k / _half);
        }
        _splitCos = new double[_half / 2 + 1];
        _splitSin = new double[_half / 2 + 1];
        for (var k = 0; k <= _half / 2; k++)
        {
            _splitCos[k] = Math.Cos(2 * Math.PI * k / size);
            _splitSin[k] = Math.Sin(2 * Math.PI * k / size);
        }
    }

    /// <summary>The transform length.</summary>
    public int Size { get; }

    /// <summary>
    /// X[k] = Σ x[n]·e^(−2πi·kn/N) for k = 0..N/2: <paramref name="re"/> and <paramref name="im"/> need N/2 + 1
    /// elements. <paramref name="input"/> (N elements) is left unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(ReadOnlySpan<double> input, Span<double> re, Span<double> im)
    {
        var half = _half;
        if (input.Length < Size) throw new ArgumentException($"The input needs {Size} samples.", nameof(input));
        if (re.Length <= half || im.Length <= half) throw new ArgumentException($"The output needs {half + 1} bins.");

        // Pack even samples as real and odd samples as imaginary parts, in bit-reversed order.
        var zr = re[..half];
        var zi = im[..half];
        for (var i = 0; i < half; i++)
        {
            var j = _bitReverse[i];
            zr[j] = input[2 * i];
            zi[j] = input[2 * i + 1];
        }

        // Iterative radix-2 decimation in time.
        for (var span = 1; span < half; span *= 2)
        {
            var step = half / (2 * span);
            for (var start = 0; start < half; start += 2 * span)
            {
                for (var k = 0; k < span; k++)
                {
                    double wr = _cos[k * step], wi = -_sin[k * step];
                    var a = start + k;
                    var b = a + span;
                    var tr = zr[b] * wr - zi[b] * wi;
                    var ti = zr[b] * wi + zi[b] * wr;
                    zr[b] = zr[a] - tr;
                    zi[b] = zi[a] - ti;
                    zr[a] += tr;
                    zi[a] += ti;
                }
            }
        }

        // Split: X[k] = E[k] + e^(−2πik/N)·O[k] with E[k] = (Z[k] + conj Z[h−k]) / 2, O[k] = (Z[k] − conj Z[h−k]) / 2i.
        double z0r = zr[0], z0i = zi[0];
        for (var k = 1; k <= half / 2; k++)
        {
            var m = half - k;
            double ar = zr[k], ai = zi[k], br = zr[m], bi = zi[m];
            double er = 0.5 * (ar + br), ei = 0.5 * (ai - bi);
            double or = 0.5 * (ai + bi), oi = -0.5 * (ar - br);
            double wr = _splitCos[k], wi = -_splitSin[k];
            var tr = or * wr - oi * wi;
            var ti = or * wi + oi * wr;
            // Conjugate-symmetric partner: E[h−k] = conj E[k], O[h−k] = conj O[k], twiddle e^(−2πi(h−k)/N) = −conj(w).
            double er2 = er, ei2 = -ei, or2 = or, oi2 = -oi, wr2 = -wr, wi2 = wi;
            var tr2 = or2 * wr2 - oi2 * wi2;
            var ti2 = or2 * wi2 + oi2 * wr2;
            re[k] = er + tr;
            im[k] = ei + ti;
            if (m != k)
            {
                re[m] = er2 + tr2;
                im[m] = ei2 + ti2;
            }
        }
        re[0] = z0r + z0i;
        im[0] = 0;
        re[half] = z0r - z0i;
        im[half] = 0;
    }
}
