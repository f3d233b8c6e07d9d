using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Tests.Audio;

public class ResamplerTests
{
    [Fact]
    public void A_12_kHz_sine_at_48_kHz_is_removed_by_more_than_40_dB_when_going_to_16_kHz()
    {
        var input = SignalMath.Sine(12000, 48000, 48000);

        var output = Resampler.Resample(input, 48000, 16000);

        var attenuation = SignalMath.Db(SignalMath.Rms(output.AsSpan(1000, 14000)) / SignalMath.Rms(input));
        Assert.True(attenuation < -40, $"12 kHz leaked through at {attenuation:F1} dB");
    }

    [Theory]
    [InlineData(48000)]
    [InlineData(44100)]
    [InlineData(22050)]
    [InlineData(8000)]
    public void A_1_kHz_sine_passes_with_less_than_0_1_dB_change(int sourceRate)
    {
        var input = SignalMath.Sine(1000, sourceRate, sourceRate);

        var output = Resampler.Resample(input, sourceRate, 16000);

        var gain = SignalMath.Db(SignalMath.Rms(output.AsSpan(1000, 14000)) / SignalMath.Rms(input.AsSpan(sourceRate / 16, sourceRate * 7 / 8)));
        Assert.True(Math.Abs(gain) < 0.1, $"1 kHz changed by {gain:F3} dB from {sourceRate} Hz");
        // And it is the same sine, not just the same energy: compare with an ideal 1 kHz sine at 16 kHz.
        var ideal = SignalMath.Sine(1000, 16000, 16000);
        Assert.True(SignalMath.SnrDb(ideal.AsSpan(1000, 14000), output.AsSpan(1000, 14000)) > 40);
    }

    [Theory]
    [InlineData(48000, 16000, 569344, 189782)]
    [InlineData(22050, 16000, 69451, 50396)] // reduced to 441 -> 320: ceil(69451 * 320 / 441)
    [InlineData(16000, 48000, 10, 30)]
    [InlineData(44101, 16000, 44101, 16000)]
    [InlineData(48000, 16000, 1, 1)]
    public void Output_length_is_the_ceiling_of_length_times_ratio(int from, int to, int length, int expected)
    {
        var resampler = new Resampler(from, to);

        Assert.Equal(expected, resampler.OutputLength(length));
        Assert.Equal(expected, resampler.Process(new float[length]).Length);
    }

    [Fact]
    public void Equal_rates_return_a_copy()
    {
        float[] input = [0.1f, 0.2f, 0.3f];
        var output = Resampler.Resample(input, 16000, 16000);
        Assert.Equal(input, output);
        Assert.NotSame(input, output);
    }

    [Fact]
    public void Co_prime_rates_build_a_compact_filter_quickly()
    {
        // 44,101 and 16,000 share no factor: 16,000 phases over a 44,135-tap kernel in torchaudio's layout.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var output = Resampler.Resample(SignalMath.Sine(440, 44101, 44101), 44101, 16000);
        watch.Stop();

        Assert.Equal(16000, output.Length);
        Assert.True(SignalMath.SnrDb(SignalMath.Sine(440, 16000, 16000).AsSpan(500, 15000), output.AsSpan(500, 15000)) > 40);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
    }
}
