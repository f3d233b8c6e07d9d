namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>Audio ready for the feature extractors: mono, <see cref="AudioConverter.TargetSampleRate"/> Hz, float samples.</summary>
/// <param name="Samples">Mono samples at <see cref="AudioConverter.TargetSampleRate"/> Hz.</param>
/// <param name="SourceSampleRate">The input's sample rate in Hz.</param>
/// <param name="SourceChannels">The input's channel count.</param>
/// <param name="SourceFormat">What the input was, e.g. "wav pcm16" or "ogg opus".</param>
/// <param name="Duration">Playing time of <see cref="Samples"/>.</param>
/// <param name="Warnings">Problems with the input that were worked around, for users.</param>
public sealed record ConvertedAudio(
    float[] Samples,
    int SourceSampleRate,
    int SourceChannels,
    string SourceFormat,
    TimeSpan Duration,
    IReadOnlyList<string> Warnings);
