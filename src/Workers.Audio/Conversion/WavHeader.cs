namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>What a WAV file's header says about its samples, read before any sample is decoded.</summary>
/// <param name="Container">"wav" for RIFF, "rf64" for RF64/BW64.</param>
/// <param name="Encoding">How each sample is stored.</param>
/// <param name="ChannelCount">Samples per frame.</param>
/// <param name="SampleRate">Frames per second.</param>
/// <param name="BlockAlign">Bytes per frame.</param>
/// <param name="DataLength">Bytes the data chunk declares; null when the writer left it open (a streaming writer).</param>
/// <param name="Warnings">Inconsistencies found in the header that did not prevent decoding.</param>
public sealed record WavHeader(
    string Container,
    WavSampleEncoding Encoding,
    int ChannelCount,
    int SampleRate,
    int BlockAlign,
    long? DataLength,
    IReadOnlyList<string> Warnings)
{
    /// <summary>Whole frames the data chunk declares; null when its length is open.</summary>
    public long? DeclaredFrameCount => DataLength / BlockAlign;

    /// <summary>Playing time the data chunk declares; null when its length is open.</summary>
    public TimeSpan? DeclaredDuration => DeclaredFrameCount is { } frames
        ? TimeSpan.FromSeconds((double)frames / SampleRate)
        : null;

    /// <summary>Container and encoding, e.g. "wav pcm16".</summary>
    public string Format => $"{Container} {Encoding.ShortName()}";
}
