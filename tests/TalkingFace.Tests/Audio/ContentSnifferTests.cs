using TalkingFace.Media;

namespace TalkingFace.Tests.Audio;

public class ContentSnifferTests
{
    public static TheoryData<string, byte[], MediaKind> Signatures => new()
    {
        { "wav", [.. "RIFF\x24\0\0\0WAVEfmt "u8], MediaKind.Wav },
        { "rf64", [.. "RF64"u8, 0xFF, 0xFF, 0xFF, 0xFF, .. "WAVEds64"u8], MediaKind.Wav },
        { "flac", [.. "fLaC\0\0\0\x22"u8], MediaKind.Flac },
        { "ogg", [.. "OggS\0\x02\0\0"u8], MediaKind.Ogg },
        { "mp3 with id3", [.. "ID3\x04\0\0\0\0\0\0"u8], MediaKind.Mp3 },
        { "mp3 frame", [0xFF, 0xFB, 0x90, 0x64], MediaKind.Mp3 },
        { "mp2 frame", [0xFF, 0xFD, 0x90, 0x64], MediaKind.Mp3 },
        { "aac adts", [0xFF, 0xF1, 0x50, 0x80], MediaKind.Aac },
        { "m4a", [0, 0, 0, 0x20, .. "ftypM4A \0\0\0\0"u8], MediaKind.Mp4 },
        { "mp4", [0, 0, 0, 0x18, .. "ftypisom\0\0\x02\0"u8], MediaKind.Mp4 },
        { "webm", [0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84, .. "webm"u8], MediaKind.WebM },
        { "mka", [0x1A, 0x45, 0xDF, 0xA3, 0xA3, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x88, .. "matroska"u8], MediaKind.Matroska },
        { "aiff", [.. "FORM"u8, 0, 0, 0, 0x10, .. "AIFFCOMM"u8], MediaKind.Aiff },
        { "jpeg", [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, .. "JFIF"u8], MediaKind.Jpeg },
        { "png", [0x89, .. "PNG\r\n\x1a\n"u8, 0, 0, 0, 0x0D], MediaKind.Png },
        { "webp", [.. "RIFF\x24\0\0\0WEBPVP8 "u8], MediaKind.WebP },
        { "gif", [.. "GIF89a\x01\0\x01\0"u8], MediaKind.Gif },
        { "bmp", [.. "BM\x46\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\x01\0"u8], MediaKind.Bmp },
        { "heic", [0, 0, 0, 0x18, .. "ftypheic\0\0\0\0"u8], MediaKind.Heif },
        { "avif", [0, 0, 0, 0x1C, .. "ftypavif\0\0\0\0"u8], MediaKind.Avif },
        { "text", [.. "hello, world"u8], MediaKind.Unknown },
        { "bm text", [.. "BMW is a car brand, not a bitmap"u8], MediaKind.Unknown },
        { "riff avi", [.. "RIFF\x24\0\0\0AVI LIST"u8], MediaKind.Unknown },
        { "empty", [], MediaKind.Unknown },
        { "one byte", [0xFF], MediaKind.Unknown },
        { "ff ff", [0xFF, 0xFF, 0xFF, 0xFF], MediaKind.Unknown },
    };

    [Theory]
    [MemberData(nameof(Signatures))]
    public void Recognises_magic_bytes(string name, byte[] head, MediaKind expected)
    {
        Assert.True(expected == ContentSniffer.Sniff(head), $"{name}: expected {expected}, got {ContentSniffer.Sniff(head)}");
    }

    [Fact]
    public void Every_kind_is_audio_or_image_except_unknown_and_has_a_content_type()
    {
        foreach (var kind in Enum.GetValues<MediaKind>())
        {
            Assert.True(kind == MediaKind.Unknown ? !kind.IsAudio() && !kind.IsImage() : kind.IsAudio() ^ kind.IsImage(), kind.ToString());
            Assert.Equal(kind == MediaKind.Unknown, kind.ContentType() == "application/octet-stream");
            Assert.StartsWith(kind.IsImage() ? "image/" : kind.IsAudio() ? "audio/" : "application/", kind.ContentType());
        }
    }

    [Fact]
    public void Recognises_files_made_by_real_tools()
    {
        Assert.Equal(MediaKind.Wav, ContentSniffer.Sniff(File.ReadAllBytes(Infrastructure.TestPaths.MacronSpeech).AsSpan(0, ContentSniffer.HeadLength)));
        Assert.Equal(MediaKind.Jpeg, ContentSniffer.Sniff(File.ReadAllBytes(Infrastructure.TestPaths.TestData("faces", "one-face-a.jpg")).AsSpan(0, 64)));
        Assert.Equal(MediaKind.Png, ContentSniffer.Sniff(File.ReadAllBytes(Infrastructure.TestPaths.TestData("faces", "no-human-face-rgba.png")).AsSpan(0, 64)));
    }
}
