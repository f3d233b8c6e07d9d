using System.Buffers.Binary;
using System.Security.Cryptography;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Audio;

/// <summary>
/// torchaudio's resampling of a WAV file's channel average, made by tests/reference/resample_reference.py under
/// Debian's /usr/bin/python3 and cached in the temp folder (keyed by the input file and the script's contents).
/// </summary>
internal static class TorchaudioReference
{
    private const string Python = "/usr/bin/python3";
    private const string InstallHint = "install Debian's torchaudio for /usr/bin/python3: apt-get install python3-torchaudio";

    public static float[] Resample(string wavPath, int targetRate)
    {
        var script = Path.Combine(TestPaths.RepoRoot, "tests", "reference", "resample_reference.py");
        var cache = Path.Combine(Path.GetTempPath(), "talkingface-tests", "resample-reference");
        Directory.CreateDirectory(cache);
        var input = new FileInfo(wavPath);
        var key = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(script)))[..12];
        var output = Path.Combine(cache, $"{Path.GetFileNameWithoutExtension(wavPath)}-{input.Length}-{input.LastWriteTimeUtc.Ticks}-{targetRate}-{key}.f32");

        if (!File.Exists(output))
        {
            var partial = output + $".{Guid.NewGuid():N}.tmp";
            var result = ExternalTool.TryRun(Python, [script, wavPath, partial, targetRate.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (result is null) Assert.Fail($"{Python} is missing; {InstallHint}");
            var (exitCode, _, errors) = result.Value;
            if (exitCode == 3) Assert.Fail($"{Python} cannot import torchaudio: {errors.Trim()}; {InstallHint}");
            if (exitCode != 0) Assert.Fail($"the torchaudio reference script failed ({exitCode}): {errors}");
            File.Move(partial, output, overwrite: true);
        }

        var bytes = File.ReadAllBytes(output);
        var samples = new float[bytes.Length / 4];
        for (var i = 0; i < samples.Length; i++) samples[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i));
        return samples;
    }
}
