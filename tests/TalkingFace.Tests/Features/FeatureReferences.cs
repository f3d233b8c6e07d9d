using System.Globalization;
using System.Security.Cryptography;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using TalkingFace.Media;
using TalkingFace.Tests.Audio;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Tests.Features;

/// <summary>
/// The reference tools the feature tests compare against, run on exactly the samples the C# code gets, with their
/// outputs cached in the temp folder (keyed by the samples and the script's contents). A missing tool fails the test
/// with the command that installs it; nothing is skipped.
/// </summary>
internal static class FeatureReferences
{
    private const string Python = "/usr/bin/python3";
    private const string TorchaudioHint = "install Debian's torchaudio for /usr/bin/python3: apt-get install python3-torchaudio";
    private const string PraatHint = "install Praat: apt-get install praat";

    private static readonly Lazy<Task<float[]>> Macron = new(async () =>
    {
        await using var file = File.OpenRead(TestPaths.MacronSpeech);
        var audio = await new AudioConverter(Options.Create(new AudioConversionOptions())).ConvertAsync(file);
        return audio.Samples;
    });

    /// <summary>MacronSpeech.wav (48 kHz stereo) converted by the product's own AudioConverter: 16 kHz mono.</summary>
    public static Task<float[]> MacronSpeech16k() => Macron.Value;

    private static string CacheFolder(string name)
    {
        var folder = Path.Combine(Path.GetTempPath(), "talkingface-tests", name);
        Directory.CreateDirectory(folder);
        return folder;
    }

    private static string Key(ReadOnlySpan<float> samples, int sampleRate, params string[] files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(MemoryMarshal.AsBytes(samples));
        hash.AppendData(BitConverter.GetBytes(sampleRate));
        foreach (var file in files) hash.AppendData(File.ReadAllBytes(file));
        return Convert.ToHexString(hash.GetHashAndReset())[..16];
    }

    /// <summary>torchaudio's Kaldi fbank of <paramref name="samples"/>, computed in float32 and in float64 (tests/reference/fbank_reference.py).</summary>
    public static (NpyArray Float32, NpyArray Float64) TorchaudioFbank(float[] samples, int sampleRate = 16000, int bins = 80)
    {
        var script = Path.Combine(TestPaths.RepoRoot, "tests", "reference", "fbank_reference.py");
        var prefix = Path.Combine(CacheFolder("fbank-reference"), $"{Key(samples, sampleRate, script)}-{bins}");
        if (!File.Exists(prefix + ".f32.npy") || !File.Exists(prefix + ".f64.npy"))
        {
            var input = prefix + $".{Guid.NewGuid():N}.in.f32";
            var partial = prefix + $".{Guid.NewGuid():N}";
            try
            {
                File.WriteAllBytes(input, MemoryMarshal.AsBytes(samples.AsSpan()).ToArray());
                var result = ExternalTool.TryRun(Python, [script, input, partial, Invariant(bins), Invariant(sampleRate)]);
                if (result is null) Assert.Fail($"{Python} is missing; {TorchaudioHint}");
                var (exitCode, _, errors) = result.Value;
                if (exitCode == 3) Assert.Fail($"{Python} cannot import torchaudio: {errors.Trim()}; {TorchaudioHint}");
                if (exitCode != 0) Assert.Fail($"the torchaudio fbank reference script failed ({exitCode}): {errors}");
                File.Move(partial + ".f64.npy", prefix + ".f64.npy", overwrite: true);
                File.Move(partial + ".f32.npy", prefix + ".f32.npy", overwrite: true);
            }
            finally
            {
                File.Delete(input);
                File.Delete(partial + ".f32.npy");
                File.Delete(partial + ".f64.npy");
            }
        }
        using var f32 = File.OpenRead(prefix + ".f32.npy");
        using var f64 = File.OpenRead(prefix + ".f64.npy");
        return (Npy.Read(f32), Npy.Read(f64));
    }

    /// <summary>A track from Praat 6.3: frame times and F0 (0 = unvoiced).</summary>
    public sealed record PraatTrack(double FirstTime, double TimeStep, double[] Times, double[] F0);

    /// <summary>
    /// Praat's "To Pitch (ac): 0.02, 80, 15, no, 0.03, 0.6, 0.01, 0.35, 0.14, 750" of <paramref name="samples"/>, written
    /// to a 32-bit float WAV (lossless) and analysed by tests/reference/f0.praat.
    /// </summary>
    public static PraatTrack Praat(float[] samples, int sampleRate)
    {
        var script = Path.Combine(TestPaths.RepoRoot, "tests", "reference", "f0.praat");
        var output = Path.Combine(CacheFolder("praat-reference"), $"{Key(samples, sampleRate, script)}.txt");
        if (!File.Exists(output))
        {
            var wav = Path.Combine(Path.GetTempPath(), $"talkingface-praat-{Guid.NewGuid():N}.wav");
            var partial = output + $".{Guid.NewGuid():N}.tmp";
            try
            {
                using (var file = File.Create(wav)) WavWriter.WriteFloat32(file, samples, sampleRate);
                // Praat resolves relative paths against the script's folder: pass absolute ones.
                var result = ExternalTool.TryRun("praat", ["--run", script, Path.GetFullPath(wav), Path.GetFullPath(partial)]);
                if (result is null) Assert.Fail($"praat is not installed; {PraatHint}");
                var (exitCode, stdout, errors) = result.Value;
                if (exitCode != 0 || !File.Exists(partial)) Assert.Fail($"praat failed ({exitCode}): {errors}{stdout}");
                File.Move(partial, output, overwrite: true);
            }
            finally
            {
                File.Delete(wav);
                File.Delete(partial);
            }
        }

        var lines = File.ReadAllLines(output);
        var head = lines[0].Split(' ');
        var frames = int.Parse(head[1], CultureInfo.InvariantCulture);
        var times = new double[frames];
        var f0 = new double[frames];
        for (var i = 0; i < frames; i++)
        {
            var parts = lines[i + 1].Split('\t');
            times[i] = double.Parse(parts[0], CultureInfo.InvariantCulture);
            f0[i] = double.Parse(parts[1], CultureInfo.InvariantCulture);
        }
        return new PraatTrack(double.Parse(head[3], CultureInfo.InvariantCulture), double.Parse(head[5], CultureInfo.InvariantCulture), times, f0);
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
