namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>
/// Band-limited resampling with a polyphase Hann-windowed sinc filter, the algorithm of torchaudio 0.13's
/// <c>torchaudio.functional.resample</c> with its defaults (sinc interpolation, lowpass_filter_width 6, rolloff 0.99):
/// the same kernel, padding, stride and output length, so its output matches torchaudio's to float precision.
/// </summary>
/// <remarks>
/// The rates are reduced by their greatest common divisor to <c>orig</c> input and <c>new</c> output samples per
/// period. Output sample <c>k·new + j</c> is the dot product of phase <c>j</c>'s kernel with the input starting at
/// <c>k·orig − width</c>, reading zeros outside the signal. The kernel's entries whose argument torchaudio clamps
/// (where the window is zero) are left out, which keeps the work proportional to the filter's real length.
/// An instance is immutable and may be shared between threads.
/// </remarks>
public sealed class Resampler
{
    private readonly int _orig;
    private readonly int _new;
    private readonly int _width;
    private readonly float[] _taps;
    private readonly int[] _phaseTapStart;
    private readonly int[] _phaseTapCount;
    private readonly int[] _phaseInputOffset;

    /// <summary>Builds the filter for one pair of rates.</summary>
    /// <param name="sourceRate">Input sample rate in Hz.</param>
    /// <param name="targetRate">Output sample rate in Hz.</param>
    /// <param name="lowpassFilterWidth">Zero crossings of the sinc on each side; more is sharper and slower.</param>
    /// <param name="rolloff">Cut-off as a fraction of the lower Nyquist frequency.</param>
    public Resampler(int sourceRate, int targetRate, int lowpassFilterWidth = 6, double rolloff = 0.99)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceRate, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(targetRate, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(lowpassFilterWidth, 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rolloff);
        SourceRate = sourceRate;
        TargetRate = targetRate;
        var gcd = GreatestCommonDivisor(sourceRate, targetRate);
        _orig = sourceRate / gcd;
        _new = targetRate / gcd;

        double baseFreq = Math.Min(_orig, _new) * rolloff;
        _width = (int)Math.Ceiling(lowpassFilterWidth * (double)_orig / baseFreq);
        var scale = baseFreq / _orig;
        var kernelLength = 2 * _width + _orig;

        _phaseTapStart = new int[_new];
        _phaseTapCount = new int[_new];
        _phaseInputOffset = new int[_new];
        var taps = new List<float>();
        for (var phase = 0; phase < _new; phase++)
        {
            // Only indices m with |t(m)| < lowpassFilterWidth are non-zero; find them without scanning the whole
            // kernel, which is huge when the reduced rates are large (e.g. 44,101 Hz -> 16,000 Hz).
            var centre = _orig * (double)phase / _new + _width;
            var reach = _orig * lowpassFilterWidth / baseFreq;
            var first = (int)Math.Clamp(Math.Floor(centre - reach) - 1, 0, kernelLength - 1);
            var last = (int)Math.Clamp(Math.Ceiling(centre + reach) + 1, 0, kernelLength - 1);
            _phaseTapStart[phase] = taps.Count;
            var firstKept = -1;
            for (var m = first; m <= last; m++)
            {
                var t = ((m - _width) / (double)_orig - phase / (double)_new) * baseFreq;
                if (Math.Abs(t) >= lowpassFilterWidth)
                {
                    if (firstKept >= 0) break;
                    continue;
                }
                if (firstKept < 0) firstKept = m;
                var window = Math.Cos(t * Math.PI / lowpassFilterWidth / 2);
                var x = t * Math.PI;
                var sinc = x == 0 ? 1.0 : Math.Sin(x) / x;
                taps.Add((float)(sinc * window * window * scale));
            }
            _phaseTapCount[phase] = taps.Count - _phaseTapStart[phase];
            _phaseInputOffset[phase] = Math.Max(firstKept, 0) - _width;
        }
        _taps = [.. taps];
    }

    /// <summary>Input sample rate in Hz.</summary>
    public int SourceRate { get; }

    /// <summary>Output sample rate in Hz.</summary>
    public int TargetRate { get; }

    /// <summary>Resamples a mono signal once, building the filter for this call.</summary>
    public static float[] Resample(ReadOnlySpan<float> input, int sourceRate, int targetRate) =>
        new Resampler(sourceRate, targetRate).Process(input);

    /// <summary>Output samples for <paramref name="inputLength"/> input samples: ceil(length · target / source).</summary>
    public long OutputLength(long inputLength) =>
        SourceRate == TargetRate ? inputLength : checked(((long)_new * inputLength + _orig - 1) / _orig);

    /// <summary>Resamples a mono signal; equal rates return a copy.</summary>
    public float[] Process(ReadOnlySpan<float> input)
    {
        if (SourceRate == TargetRate) return input.ToArray();
        var outputLength = OutputLength(input.Length);
        if (outputLength > Array.MaxLength) throw new ArgumentException("The resampled signal would be too long for one array.", nameof(input));
        var output = new float[outputLength];
        for (long n = 0; n < output.Length; n++)
        {
            var phase = (int)(n % _new);
            var start = n / _new * _orig + _phaseInputOffset[phase];
            var taps = _taps.AsSpan(_phaseTapStart[phase], _phaseTapCount[phase]);
            output[n] = (float)(start >= 0 && start + taps.Length <= input.Length
                ? Dot(taps, input.Slice((int)start, taps.Length))
                : DotZeroPadded(taps, input, start));
        }
        return output;
    }

    private static double Dot(ReadOnlySpan<float> taps, ReadOnlySpan<float> samples)
    {
        double sum = 0;
        for (var i = 0; i < taps.Length; i++) sum += (double)taps[i] * samples[i];
        return sum;
    }

    /// <summary>The dot product near the ends, where the filter reaches into the zero padding.</summary>
    private static double DotZeroPadded(ReadOnlySpan<float> taps, ReadOnlySpan<float> input, long start)
    {
        double sum = 0;
        for (var i = 0; i < taps.Length; i++)
        {
            var index = start + i;
            if (index >= 0 && index < input.Length) sum += (double)taps[i] * input[(int)index];
        }
        return sum;
    }

    private static int GreatestCommonDivisor(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
