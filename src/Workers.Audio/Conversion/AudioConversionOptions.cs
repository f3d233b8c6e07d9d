namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>Settings of the audio conversion stage, bound from the configuration section <see cref="SectionName"/>.</summary>
public sealed class AudioConversionOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "Audio:Conversion";

    /// <summary>Longest input accepted; longer audio is refused, from its header where it has one.</summary>
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The ffmpeg executable used for every audio format other than WAV: a name looked up on PATH, or a path.</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>
    /// The ffprobe executable used to learn a non-WAV file's length before decoding it. When it is missing the
    /// length is enforced while decoding instead.
    /// </summary>
    public string FfprobePath { get; set; } = "ffprobe";

    /// <summary>Longest time one ffprobe or ffmpeg run may take before it is killed.</summary>
    public TimeSpan FfmpegTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
