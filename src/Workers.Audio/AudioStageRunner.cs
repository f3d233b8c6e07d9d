using System.Security.Cryptography;
using System.Runtime.InteropServices;
using TalkingFace.Contracts;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Storage;
using TalkingFace.Telemetry;
using TalkingFace.Workers.Audio.Conversion;
using TalkingFace.Workers.Audio.Features;

namespace TalkingFace.Workers.Audio;

/// <summary>
/// The audio stage: decode any input to 16 kHz mono float (<c>audio-16k.wav</c>), extract features with the
/// job's feature model (<c>features.npy</c>, [frames, dim]) and F0 at 50 Hz (<c>f0.npy</c>). Features are cached by
/// the content of the 16 kHz audio and the exact model file, so the same audio is never extracted twice.
/// </summary>
public sealed class AudioStageRunner(
    AudioConverter converter,
    ModelRegistry models,
    ModelCatalog catalog,
    FeatureExtractor extractor,
    IArtifactStore store,
    TalkingFaceMetrics metrics) : IStageRunner<RunAudioStage>
{
    public async Task<StageOutcome> RunAsync(RunAudioStage command, StageRun run, CancellationToken ct)
    {
        ConvertedAudio audio;
        await using (var input = await run.OpenAsync(command.AudioKey, ct))
        {
            try
            {
                audio = await run.TimeAsync(Steps.AudioConversion, () => converter.ConvertAsync(input, ct));
            }
            catch (AudioFormatException e)
            {
                throw new StageFailedException($"{InputLabel(command)} cannot be decoded: {e.Message}", retryable: false, e);
            }
        }
        // A repaired input (a cut-off data chunk, a partial last frame) is used, and the job says so.
        foreach (var warning in audio.Warnings) run.Warn($"{InputLabel(command)}: {warning}");
        run.Report(0.2, Steps.AudioConversion);
        run.WorkUnits = audio.Duration.TotalSeconds;
        metrics.AudioSeconds.Add(audio.Duration.TotalSeconds, new KeyValuePair<string, object?>("stage", Stages.Audio));

        using (var wav = new MemoryStream())
        {
            WavWriter.WriteFloat32(wav, audio.Samples, AudioConverter.TargetSampleRate);
            wav.Position = 0;
            await run.SaveAsync(ArtifactNames.Audio16k, wav, "audio/wav", ct);
        }

        LoadedModel? model;
        try
        {
            model = models.Get(command.FeatureModel);
        }
        catch (ModelStoreException e)
        {
            throw new StageFailedException($"feature model '{command.FeatureModel}' cannot be used: {e.Message}", retryable: false, e);
        }
        if (model is null)
            throw new StageFailedException(catalog.NotConfigured(command.FeatureModel, "feature") + "; the 16 kHz audio was kept");
        if (model.Fallback is { } fallback) run.Warn(fallback);

        await SaveFeaturesAsync(model, audio.Samples, run, ct);
        run.Report(0.8, Steps.FeatureExtraction);

        var f0 = run.Time(Steps.F0Extraction, () => GeneFaceF0.Extract(audio.Samples, HubertFrameCount(audio.Samples.Length)));
        await SaveNpyAsync(run, ArtifactNames.F0, f0, [f0.Length], ct);
        return new StageOutcome(model.Provider, model.Manifest.Id);
    }

    /// <summary>How reasons and warnings name the input: the user's file name, never a store key or server path.</summary>
    private static string InputLabel(RunAudioStage command) =>
        string.IsNullOrWhiteSpace(command.InputName) ? "the audio" : $"'{command.InputName}'";

    /// <summary>Frames of 50 Hz HuBERT features (and of F0) for a clip: GeneFace++'s <c>(samples - 80) // 320</c>, at least one.</summary>
    public static int HubertFrameCount(int samples) =>
        Math.Max(1, (samples - (FeatureExtractor.WaveformReceptiveField - FeatureExtractor.WaveformHop)) / FeatureExtractor.WaveformHop);

    private async Task SaveFeaturesAsync(LoadedModel model, float[] samples, StageRun run, CancellationToken ct)
    {
        var audioHash = Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(samples.AsSpan())));
        var cacheKey = $"cache/features/{model.Manifest.Name}/{model.Manifest.Version}-{model.Manifest.Sha256[..12]}/{audioHash}.npy";
        var tags = new KeyValuePair<string, object?>("model", model.Manifest.Name);
        try
        {
            await using var cached = await run.TimeAsync("feature_cache", () => store.OpenReadAsync(cacheKey, ct));
            await run.SaveAsync(ArtifactNames.Features, cached, "application/x-npy", ct);
            metrics.FeatureCacheHits.Add(1, tags);
            return;
        }
        catch (ArtifactNotFoundException)
        {
            metrics.FeatureCacheMisses.Add(1, tags);
        }

        var features = run.Time(Steps.FeatureExtraction, () => extractor.Extract(model, samples, ct));
        using var npy = new MemoryStream();
        Npy.Write(npy, features.Data, features.Frames, features.Dim);
        npy.Position = 0;
        await run.TimeAsync(Steps.ArtifactIo, () => store.PutAsync(cacheKey, ArtifactNames.Features, npy, "application/x-npy", ct));
        npy.Position = 0;
        await run.SaveAsync(ArtifactNames.Features, npy, "application/x-npy", ct);
    }

    private static async Task SaveNpyAsync(StageRun run, string name, float[] data, int[] shape, CancellationToken ct)
    {
        using var npy = new MemoryStream();
        Npy.Write(npy, data, shape);
        npy.Position = 0;
        await run.SaveAsync(name, npy, "application/x-npy", ct);
    }
}
