using System.Diagnostics;
using System.Reflection;
using TalkingFace.Workers.Audio.Features;
using Xunit.Abstractions;

namespace TalkingFace.Tests.Features;

/// <summary>Runs the timing tests alone, after the parallel ones, so other tests do not share the cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FeatureTimingCollection
{
    public const string Name = "Feature timings";
}

/// <summary>How long fbank and F0 take on the 12 s clip; limits are loose for unoptimised (Debug) builds.</summary>
[Collection(FeatureTimingCollection.Name)]
public class FeatureTimingTests(ITestOutputHelper output)
{
    private static readonly bool Optimized =
        typeof(KaldiFbank).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled != true;

    private static string Build => Optimized ? "optimised build" : "unoptimised Debug build";

    [Fact]
    public async Task Fbank_of_twelve_seconds_takes_a_few_milliseconds()
    {
        var samples = await FeatureReferences.MacronSpeech16k();
        var best = Best(10, () => KaldiFbank.Compute(samples, 16000, new FbankOptions()));

        output.WriteLine($"fbank of MacronSpeech (11.86 s, 1184 x 80): {best.TotalMilliseconds:F2} ms (best of 10, warm, {Build})");
        Assert.True(best < TimeSpan.FromMilliseconds(Optimized ? 50 : 250), $"fbank took {best}");
    }

    [Fact]
    public async Task F0_of_twelve_seconds_takes_well_under_a_second()
    {
        var samples = await FeatureReferences.MacronSpeech16k();
        var best = Best(5, () => PraatPitch.Compute(samples, 16000));

        output.WriteLine($"F0 of MacronSpeech (11.86 s, 592 frames): {best.TotalMilliseconds:F1} ms (best of 5, warm, {Environment.ProcessorCount} cores, {Build})");
        Assert.True(best < TimeSpan.FromMilliseconds(Optimized ? 500 : 2000), $"F0 took {best}");
    }

    private static TimeSpan Best(int runs, Action action)
    {
        action();   // JIT warm-up
        var best = TimeSpan.MaxValue;
        for (var run = 0; run < runs; run++)
        {
            var watch = Stopwatch.StartNew();
            action();
            best = watch.Elapsed < best ? watch.Elapsed : best;
        }
        return best;
    }
}
