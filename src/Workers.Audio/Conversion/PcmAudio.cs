namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>Decoded audio: floating-point samples in [-1, 1), frames interleaved channel by channel.</summary>
/// <param name="InterleavedSamples">Frame after frame, each frame holding one sample per channel.</param>
/// <param name="SampleRate">Frames per second.</param>
/// <param name="ChannelCount">Samples per frame.</param>
/// <param name="Format">What the samples were decoded from, e.g. "wav pcm16" or "flac".</param>
/// <param name="Warnings">Problems that were worked around (e.g. a truncated data chunk), for users.</param>
public sealed record PcmAudio(
    float[] InterleavedSamples,
    int SampleRate,
    int ChannelCount,
    string Format,
    IReadOnlyList<string> Warnings)
{
    /// <summary>Number of whole frames (samples per channel).</summary>
    public int FrameCount => InterleavedSamples.Length / ChannelCount;

    /// <summary>Playing time.</summary>
    public TimeSpan Duration => TimeSpan.FromSeconds((double)FrameCount / SampleRate);
}
