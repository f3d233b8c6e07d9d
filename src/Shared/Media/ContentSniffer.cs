using System.Buffers.Binary;

namespace TalkingFace.Media;

/// <summary>
/// Recognises audio and image files by their magic bytes, whatever name or content type the client sent.
/// </summary>
public static class ContentSniffer
{
    /// <summary>How many leading bytes <see cref="Sniff"/> needs to recognise every kind it knows.</summary>
    public const int HeadLength = 64;

    private static ReadOnlySpan<byte> JpegSignature => [0xFF, 0xD8, 0xFF];
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private static ReadOnlySpan<byte> EbmlSignature => [0x1A, 0x45, 0xDF, 0xA3];

    /// <summary>Recognises the kind of a file from its first bytes (ideally <see cref="HeadLength"/> of them).</summary>
    /// <param name="head">The beginning of the file; fewer bytes than <see cref="HeadLength"/> are fine for short files.</param>
    /// <returns>The kind, or <see cref="MediaKind.Unknown"/> when no signature matches.</returns>
    public static MediaKind Sniff(ReadOnlySpan<byte> head)
    {
        if (head.Length < 2) return MediaKind.Unknown;

        if (IsRiff(head, "WAVE"u8)) return MediaKind.Wav;
        if (IsRiff(head, "WEBP"u8)) return MediaKind.WebP;
        if (head.StartsWith("fLaC"u8)) return MediaKind.Flac;
        if (head.StartsWith("OggS"u8)) return MediaKind.Ogg;
        if (head.StartsWith("ID3"u8)) return MediaKind.Mp3;
        if (head.StartsWith(JpegSignature)) return MediaKind.Jpeg;
        if (head.StartsWith(PngSignature)) return MediaKind.Png;
        if (head.StartsWith("GIF87a"u8) || head.StartsWith("GIF89a"u8)) return MediaKind.Gif;
        if (head.StartsWith(EbmlSignature)) return MatroskaKind(head);
        if (head.Length >= 12 && head[4..8].SequenceEqual("ftyp"u8)) return IsoBaseMediaKind(head);
        if (head.Length >= 12 && head.StartsWith("FORM"u8) &&
            (head[8..12].SequenceEqual("AIFF"u8) || head[8..12].SequenceEqual("AIFC"u8))) return MediaKind.Aiff;
        if (IsBitmap(head)) return MediaKind.Bmp;
        if (IsAdtsHeader(head)) return MediaKind.Aac;
        if (IsMpegAudioFrameHeader(head)) return MediaKind.Mp3;
        return MediaKind.Unknown;
    }

    /// <summary>"RIFF", "RF64" or "BW64", a size, then the form type.</summary>
    private static bool IsRiff(ReadOnlySpan<byte> head, ReadOnlySpan<byte> formType) =>
        head.Length >= 12 &&
        (head.StartsWith("RIFF"u8) || head.StartsWith("RF64"u8) || head.StartsWith("BW64"u8)) &&
        head[8..12].SequenceEqual(formType);

    /// <summary>WebM is Matroska whose EBML header names the "webm" doctype.</summary>
    private static MediaKind MatroskaKind(ReadOnlySpan<byte> head) =>
        head.IndexOf("webm"u8) >= 0 ? MediaKind.WebM : MediaKind.Matroska;

    /// <summary>An ISO base media file is an image when its major brand is a HEIF/AVIF one, audio/video otherwise.</summary>
    private static MediaKind IsoBaseMediaKind(ReadOnlySpan<byte> head)
    {
        var brand = head[8..12];
        if (brand.SequenceEqual("avif"u8) || brand.SequenceEqual("avis"u8)) return MediaKind.Avif;
        if (brand.SequenceEqual("heic"u8) || brand.SequenceEqual("heix"u8) || brand.SequenceEqual("heim"u8) ||
            brand.SequenceEqual("heis"u8) || brand.SequenceEqual("mif1"u8) || brand.SequenceEqual("msf1"u8))
        {
            return MediaKind.Heif;
        }
        return MediaKind.Mp4;
    }

    /// <summary>"BM", reserved zeros, and a known DIB header size (two letters alone are too weak a signature).</summary>
    private static bool IsBitmap(ReadOnlySpan<byte> head)
    {
        if (head.Length < 18 || !head.StartsWith("BM"u8)) return false;
        if (BinaryPrimitives.ReadUInt32LittleEndian(head[6..10]) != 0) return false;
        var dibHeaderSize = BinaryPrimitives.ReadUInt32LittleEndian(head[14..18]);
        return dibHeaderSize is 12 or 16 or 40 or 52 or 56 or 64 or 108 or 124;
    }

    /// <summary>ADTS: 12-bit sync 0xFFF, layer 00, and a valid sampling-frequency index.</summary>
    private static bool IsAdtsHeader(ReadOnlySpan<byte> head) =>
        head.Length >= 3 && head[0] == 0xFF && (head[1] & 0xF6) == 0xF0 && ((head[2] >> 2) & 0x0F) < 13;

    /// <summary>MPEG audio frame: 11-bit sync 0xFFE plus version, layer, bitrate and rate fields that are not reserved.</summary>
    private static bool IsMpegAudioFrameHeader(ReadOnlySpan<byte> head)
    {
        if (head.Length < 3 || head[0] != 0xFF || (head[1] & 0xE0) != 0xE0) return false;
        var version = (head[1] >> 3) & 0x03;
        var layer = (head[1] >> 1) & 0x03;
        var bitrateIndex = head[2] >> 4;
        var sampleRateIndex = (head[2] >> 2) & 0x03;
        return version != 1 && layer != 0 && bitrateIndex != 0x0F && sampleRateIndex != 0x03;
    }
}
