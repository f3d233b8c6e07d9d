using TalkingFace.Contracts;
using TalkingFace.Models;
using TalkingFace.Telemetry;
using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Workers.Audio;

/// <summary>
/// The audio stage: decode any input to 16 kHz mono float (stored as <c>audio-16k.wav</c>), then
/// feature extraction and F0. Until a feature model is in the model store, the stage keeps the converted
/// audio and fails with the reason "model not configured" rather than inventing features.
/// </summary>
public sealed class AudioStageRunner(AudioConverter converter, ModelCatalog models, TalkingFaceMetrics metrics) : IStageRunner<RunAudioStage>
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
                throw new StageFailedException("the audio cannot be decoded: " + e.Message, retryable: false, e);
            }
        }
        run.Report(0.3, Steps.AudioConversion);
        metrics.AudioSeconds.Add(audio.Duration.TotalSeconds, new KeyValuePair<string, object?>("stage", Stages.Audio));

        using (var wav = new MemoryStream())
        {
            WavWriter.WriteFloat32(wav, audio.Samples, AudioConverter.TargetSampleRate);
            wav.Position = 0;
            await run.SaveAsync(ArtifactNames.Audio16k, wav, "audio/wav", ct);
        }

        if (models.Find(command.FeatureModel) is null)
            throw new StageFailedException(models.NotConfigured(command.FeatureModel, "feature") + "; the 16 kHz audio was kept");
        throw new StageFailedException($"feature model '{command.FeatureModel}' is in the model store, but this build cannot run feature extraction yet; the 16 kHz audio was kept");
    }
}
