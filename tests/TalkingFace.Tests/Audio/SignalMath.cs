namespace TalkingFace.Tests.Audio;

/// <summary>Test signals and the measures the audio tests assert on.</summary>
internal static class SignalMath
{
    public static float[] Sine(double frequency, int sampleRate, int length, double amplitude = 0.5) =>
        [.. Enumerable.Range(0, length).Select(n => (float)(amplitude * Math.Sin(2 * Math.PI * frequency * n / sampleRate)))];

    public static double Rms(ReadOnlySpan<float> signal)
    {
        double sum = 0;
        foreach (var x in signal) sum += (double)x * x;
        return Math.Sqrt(sum / signal.Length);
    }

    /// <summary>Signal-to-noise ratio of <paramref name="actual"/> against <paramref name="reference"/>, in dB.</summary>
    public static double SnrDb(ReadOnlySpan<float> reference, ReadOnlySpan<float> actual)
    {
        double signal = 0, noise = 0;
        for (var i = 0; i < reference.Length; i++)
        {
            signal += (double)reference[i] * reference[i];
            var d = (double)reference[i] - actual[i];
            noise += d * d;
        }
        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
    }

    public static double Db(double ratio) => 20 * Math.Log10(ratio);
}
