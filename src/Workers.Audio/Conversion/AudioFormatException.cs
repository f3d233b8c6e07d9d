namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>
/// The input cannot be turned into audio: it is empty, truncated, not audio at all, too long, or in an encoding
/// that is not supported. The message is written for the person who uploaded the file.
/// </summary>
public sealed class AudioFormatException : Exception
{
    /// <summary>Creates the exception with a message in plain words for users.</summary>
    public AudioFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message in plain words for users and the low-level cause.</summary>
    public AudioFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
