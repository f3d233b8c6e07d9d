namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>Turns multichannel audio into mono by averaging the channels of each frame.</summary>
public static class Downmix
{
    /// <summary>The mono signal of <paramref name="audio"/>; for mono input this is its own sample array, not a copy.</summary>
    public static float[] ToMono(PcmAudio audio)
    {
        ArgumentNullException.ThrowIfNull(audio);
        return audio.ChannelCount == 1 ? audio.InterleavedSamples : ToMono(audio.InterleavedSamples, audio.ChannelCount);
    }

    /// <summary>The average of the channels of each frame of <paramref name="interleaved"/>.</summary>
    /// <param name="interleaved">Frames of <paramref name="channelCount"/> samples each; a trailing partial frame is ignored.</param>
    /// <param name="channelCount">Samples per frame, at least 1.</param>
    public static float[] ToMono(ReadOnlySpan<float> interleaved, int channelCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channelCount, 1);
        var mono = new float[interleaved.Length / channelCount];
        switch (channelCount)
        {
            case 1:
                interleaved[..mono.Length].CopyTo(mono);
                break;
            case 2:
                for (var i = 0; i < mono.Length; i++) mono[i] = (interleaved[2 * i] + interleaved[2 * i + 1]) * 0.5f;
                break;
            default:
                for (var i = 0; i < mono.Length; i++)
                {
                    var frame = interleaved.Slice(i * channelCount, channelCount);
                    var sum = 0f;
                    foreach (var sample in frame) sum += sample;
                    mono[i] = sum / channelCount;
                }
                break;
        }
        return mono;
    }
}
