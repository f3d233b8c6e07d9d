using System.Diagnostics;
using Microsoft.Extensions.Options;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers.Audio.Conversion;
using Xunit.Abstractions;

namespace TalkingFace.Tests.Audio;

/// <summary>The C# decoder, downmix and resampler against torchaudio 0.13's resample on real recordings.</summary>
public class TorchaudioFidelityTests(ITestOutputHelper output)
{
    private static string HelloSample => Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav");

    [Fact]
    public async Task MacronSpeech_at_16_kHz_matches_torchaudio()
    {
        var reference = TorchaudioReference.Resample(TestPaths.MacronSpeech, 16000);

        await using var file = File.OpenRead(TestPaths.MacronSpeech);
        var audio = await new AudioConverter(Options.Create(new AudioConversionOptions())).ConvertAsync(file);

        Assert.Equal((48000, 2, "wav pcm16"), (audio.SourceSampleRate, audio.SourceChannels, audio.SourceFormat));
        AssertMatches(reference, audio.Samples, "MacronSpeech 48 kHz stereo -> 16 kHz");
    }

    [Theory]
    [InlineData(16000)] // 22,050 -> 16,000 reduces to 441 -> 320: a long polyphase filter
    [InlineData(48000)] // upsampling: 147 -> 320
    public async Task Espeak_sample_matches_torchaudio(int targetRate)
    {
        var reference = TorchaudioReference.Resample(HelloSample, targetRate);

        await using var file = File.OpenRead(HelloSample);
        var pcm = await WavReader.ReadAsync(file);
        var resampled = new Resampler(pcm.SampleRate, targetRate).Process(Downmix.ToMono(pcm));

        AssertMatches(reference, resampled, $"hello.wav 22.05 kHz -> {targetRate / 1000.0} kHz");
    }

    [Fact]
    public async Task Twelve_seconds_of_48_kHz_stereo_convert_well_under_a_second()
    {
        var bytes = await File.ReadAllBytesAsync(TestPaths.MacronSpeech);
        var converter = new AudioConverter(Options.Create(new AudioConversionOptions()));
        await converter.ConvertAsync(new MemoryStream(bytes)); // JIT warm-up

        var best = TimeSpan.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            var watch = Stopwatch.StartNew();
            await converter.ConvertAsync(new MemoryStream(bytes));
            best = watch.Elapsed < best ? watch.Elapsed : best;
        }

        output.WriteLine($"MacronSpeech (11.86 s, 48 kHz stereo pcm16): converted in {best.TotalMilliseconds:F1} ms (best of 3, warm)");
        Assert.True(best < TimeSpan.FromSeconds(1), $"conversion took {best}");
    }

    private void AssertMatches(float[] reference, float[] actual, string what)
    {
        Assert.Equal(reference.Length, actual.Length);
        var snr = SignalMath.SnrDb(reference, actual);
        var maxError = reference.Zip(actual, (r, a) => Math.Abs(r - a)).Max();
        output.WriteLine($"{what}: {actual.Length} samples, SNR vs torchaudio {snr:F1} dB, max |error| {maxError:E2}");
        Assert.True(snr >= 60, $"{what}: SNR vs torchaudio is only {snr:F1} dB");
    }
}
