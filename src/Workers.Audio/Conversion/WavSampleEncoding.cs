namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>How one sample is stored in a WAV data chunk.</summary>
public enum WavSampleEncoding
{
    /// <summary>8-bit unsigned integer PCM (128 is silence).</summary>
    Pcm8,
    /// <summary>16-bit signed little-endian PCM.</summary>
    Pcm16,
    /// <summary>24-bit signed little-endian PCM.</summary>
    Pcm24,
    /// <summary>32-bit signed little-endian PCM.</summary>
    Pcm32,
    /// <summary>32-bit IEEE float.</summary>
    Float32,
    /// <summary>64-bit IEEE float.</summary>
    Float64,
    /// <summary>8-bit G.711 mu-law (format tag 7; North American and Japanese telephony).</summary>
    MuLaw,
    /// <summary>8-bit G.711 A-law (format tag 6; European telephony).</summary>
    ALaw,
}

/// <summary>Sizes and names of <see cref="WavSampleEncoding"/> values.</summary>
public static class WavSampleEncodingExtensions
{
    /// <summary>Bytes one sample of one channel takes.</summary>
    public static int BytesPerSample(this WavSampleEncoding encoding) => encoding switch
    {
        WavSampleEncoding.Pcm8 => 1,
        WavSampleEncoding.Pcm16 => 2,
        WavSampleEncoding.Pcm24 => 3,
        WavSampleEncoding.Pcm32 => 4,
        WavSampleEncoding.Float32 => 4,
        WavSampleEncoding.Float64 => 8,
        WavSampleEncoding.MuLaw or WavSampleEncoding.ALaw => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(encoding), encoding, null),
    };

    /// <summary>Short lower-case name, e.g. "pcm16", "float32" or "mulaw".</summary>
    public static string ShortName(this WavSampleEncoding encoding) => encoding.ToString().ToLowerInvariant();
}
