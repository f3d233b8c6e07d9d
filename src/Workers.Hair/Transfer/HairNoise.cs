namespace TalkingFace.Workers.Hair.Transfer;

/// <summary>
/// The StyleGAN2 noise maps of the chain, drawn from a seed: splitmix64 -> 53-bit uniforms -> Box-Muller (cosine
/// branch), one stream over noise_0, noise_1, ... in order, each r x r. The exporter
/// (<c>tools/models/hairfast.py</c> <c>noise_tensors</c>) draws the same numbers, so fixtures and runs agree.
/// </summary>
public static class HairNoise
{
    public static float[][] Generate(ulong seed, IReadOnlyList<int> sizes)
    {
        var state = seed;
        var maps = new float[sizes.Count][];
        for (var m = 0; m < sizes.Count; m++)
        {
            var map = new float[sizes[m] * sizes[m]];
            for (var i = 0; i < map.Length; i++)
            {
                var u1 = ((Next(ref state) >> 11) + 1) * (1.0 / 9007199254740993.0); // (0, 1]
                var u2 = (Next(ref state) >> 11) * (1.0 / 9007199254740992.0);       // [0, 1)
                map[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
            }
            maps[m] = map;
        }
        return maps;
    }

    private static ulong Next(ref ulong state)
    {
        unchecked
        {
            state += 0x9E3779B97F4A7C15UL;
            var z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
