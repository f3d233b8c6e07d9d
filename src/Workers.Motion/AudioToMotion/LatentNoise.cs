namespace TalkingFace.Workers.Motion.AudioToMotion;

/// <summary>
/// The VAE's latent z: standard normal noise from <see cref="Random"/>(seed) through Box–Muller, scaled by the
/// temperature. The same seed always gives the same noise (seeded <see cref="Random"/> is stable across .NET versions).
/// </summary>
/// <remarks>
/// Values are drawn time step by time step (all channels of step 0, then of step 1...) and stored channel-major as the
/// model's [channels, steps] wants, so the noise of a step does not depend on how long the clip is: a longer clip
/// with the same seed starts with the same motion.
/// </remarks>
public static class LatentNoise
{
    /// <summary>z as [channels, steps], row-major.</summary>
    public static float[] Sample(int seed, int channels, int steps, double temperature)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        var random = new Random(seed);
        var z = new float[channels * steps];
        var count = channels * steps;
        double? spare = null;
        for (var i = 0; i < count; i++)
        {
            double value;
            if (spare is { } s)
            {
                value = s;
                spare = null;
            }
            else
            {
                var u1 = 1.0 - random.NextDouble(); // (0, 1]: log stays finite
                var u2 = random.NextDouble();
                var radius = Math.Sqrt(-2.0 * Math.Log(u1));
                value = radius * Math.Cos(2 * Math.PI * u2);
                spare = radius * Math.Sin(2 * Math.PI * u2);
            }
            var step = i / channels;
            var channel = i % channels;
            z[channel * steps + step] = (float)(value * temperature);
        }
        return z;
    }
}
