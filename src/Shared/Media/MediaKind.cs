namespace TalkingFace.Media;

/// <summary>What a file is, as recognised from its first bytes by <see cref="ContentSniffer"/>.</summary>
public enum MediaKind
{
    /// <summary>Not recognised.</summary>
    Unknown = 0,

    // Audio containers.
    /// <summary>RIFF/WAVE, RF64 or BW64.</summary>
    Wav,
    /// <summary>Native FLAC stream.</summary>
    Flac,
    /// <summary>Ogg container (Vorbis, Opus, FLAC in Ogg).</summary>
    Ogg,
    /// <summary>MPEG audio (MP3), with or without an ID3 tag.</summary>
    Mp3,
    /// <summary>Raw AAC in ADTS frames.</summary>
    Aac,
    /// <summary>ISO base media file (M4A, MP4, MOV): audio is taken from its first audio track.</summary>
    Mp4,
    /// <summary>WebM (Matroska with the "webm" doctype).</summary>
    WebM,
    /// <summary>Matroska (MKA, MKV).</summary>
    Matroska,
    /// <summary>AIFF or AIFF-C.</summary>
    Aiff,

    // Images.
    /// <summary>JPEG image.</summary>
    Jpeg,
    /// <summary>PNG image.</summary>
    Png,
    /// <summary>WebP image.</summary>
    WebP,
    /// <summary>GIF image.</summary>
    Gif,
    /// <summary>Windows bitmap.</summary>
    Bmp,
    /// <summary>HEIF/HEIC image (an ISO base media file with an image brand).</summary>
    Heif,
    /// <summary>AVIF image (an ISO base media file with the avif brand).</summary>
    Avif,
}

/// <summary>Questions about a <see cref="MediaKind"/>.</summary>
public static class MediaKindExtensions
{
    /// <summary>True for the containers that hold audio.</summary>
    public static bool IsAudio(this MediaKind kind) => kind is
        MediaKind.Wav or MediaKind.Flac or MediaKind.Ogg or MediaKind.Mp3 or MediaKind.Aac or
        MediaKind.Mp4 or MediaKind.WebM or MediaKind.Matroska or MediaKind.Aiff;

    /// <summary>True for still-image formats.</summary>
    public static bool IsImage(this MediaKind kind) => kind is
        MediaKind.Jpeg or MediaKind.Png or MediaKind.WebP or MediaKind.Gif or MediaKind.Bmp or
        MediaKind.Heif or MediaKind.Avif;

    /// <summary>
    /// The photo formats hair jobs take: JPEG, PNG and WebP, the ones whose canvas the gateway bounds from the header
    /// and the hair stage decodes. Other images (GIF, BMP, HEIF, AVIF) are refused with 415 and a way to convert them.
    /// </summary>
    public static bool IsSupportedPhoto(this MediaKind kind) => kind is MediaKind.Jpeg or MediaKind.Png or MediaKind.WebP;

    /// <summary>The MIME type to store or serve the content under.</summary>
    public static string ContentType(this MediaKind kind) => kind switch
    {
        MediaKind.Wav => "audio/wav",
        MediaKind.Flac => "audio/flac",
        MediaKind.Ogg => "audio/ogg",
        MediaKind.Mp3 => "audio/mpeg",
        MediaKind.Aac => "audio/aac",
        MediaKind.Mp4 => "audio/mp4",
        MediaKind.WebM => "audio/webm",
        MediaKind.Matroska => "audio/x-matroska",
        MediaKind.Aiff => "audio/aiff",
        MediaKind.Jpeg => "image/jpeg",
        MediaKind.Png => "image/png",
        MediaKind.WebP => "image/webp",
        MediaKind.Gif => "image/gif",
        MediaKind.Bmp => "image/bmp",
        MediaKind.Heif => "image/heif",
        MediaKind.Avif => "image/avif",
        _ => "application/octet-stream",
    };

    /// <summary>A short name for messages to users, e.g. "a JPEG image" or "FLAC audio".</summary>
    public static string Describe(this MediaKind kind) => kind switch
    {
        MediaKind.Wav => "WAV audio",
        MediaKind.Flac => "FLAC audio",
        MediaKind.Ogg => "Ogg audio",
        MediaKind.Mp3 => "MP3 audio",
        MediaKind.Aac => "AAC audio",
        MediaKind.Mp4 => "MP4/M4A audio",
        MediaKind.WebM => "WebM audio",
        MediaKind.Matroska => "Matroska audio",
        MediaKind.Aiff => "AIFF audio",
        MediaKind.Jpeg => "a JPEG image",
        MediaKind.Png => "a PNG image",
        MediaKind.WebP => "a WebP image",
        MediaKind.Gif => "a GIF image",
        MediaKind.Bmp => "a BMP image",
        MediaKind.Heif => "a HEIF/HEIC image",
        MediaKind.Avif => "an AVIF image",
        _ => "of an unrecognised type",
    };
}
