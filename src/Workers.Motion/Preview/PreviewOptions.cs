namespace TalkingFace.Workers.Motion.Preview;

/// <summary>Bound from <c>Motion:Preview</c>.</summary>
public sealed class PreviewOptions
{
    public const string Section = "Motion:Preview";

    /// <summary>Whether the motion stage renders <c>preview.mp4</c> at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The ffmpeg executable: a name looked up on PATH, or a full path (Debian: <c>apt-get install ffmpeg</c>).</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>Width and height of the video in pixels (even; 512 matches the landmarks' image space).</summary>
    public int Size { get; set; } = 512;

    /// <summary>How long one encode may take before ffmpeg is killed and the stage fails (retryably).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(10);
}
