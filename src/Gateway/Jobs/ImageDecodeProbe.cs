using SkiaSharp;
using TalkingFace.Media;

namespace TalkingFace.Gateway.Jobs;

/// <summary>
/// Decodes an uploaded image at submit (SkiaSharp, built without system dependencies: the gateway needs no GUI or
/// image libraries from the OS), so an image whose container is whole but whose pixel data is not (garbage compressed
/// data behind valid CRCs, a JPEG without its tables, a truncated scan) is a 400 at submit instead of a failed job later.
/// The canvas is bounded before any pixel is decoded (<see cref="ImageProbe.MaxSide"/>, <see cref="ImageProbe.MaxPixels"/>,
/// from the decoder's own reading of the header), and pixels are decoded in little memory: JPEG and WebP at an eighth of
/// their size (every byte of entropy-coded data is still decoded), PNG one row at a time.
/// </summary>
public static class ImageDecodeProbe
{
    /// <summary>Null when the file at <paramref name="path"/> decodes whole, else why not.</summary>
    public static string? Check(string path, MediaKind kind, string fileName)
    {
        using var stream = File.OpenRead(path);
        using var codec = SKCodec.Create(stream, out var created);
        if (codec is null) return Corrupt(kind, fileName, Describe(created));
        if (ImageProbe.CanvasProblem(codec.Info.Width, codec.Info.Height, fileName) is { } tooBig) return tooBig;
        var result = Decode(codec);
        return result is SKCodecResult.Success ? null : Corrupt(kind, fileName, Describe(result));
    }

    private static SKCodecResult Decode(SKCodec codec)
    {
        var scaled = codec.GetScaledDimensions(0.125f);
        if (scaled.Width < codec.Info.Width) return Pixels(codec, new SKImageInfo(scaled.Width, scaled.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        if (codec.StartScanlineDecode(info) is not SKCodecResult.Success) return Pixels(codec, info);
        var row = System.Runtime.InteropServices.Marshal.AllocHGlobal(info.RowBytes);
        try
        {
            for (var y = 0; y < info.Height; y++)
                if (codec.GetScanlines(row, 1, info.RowBytes) != 1) return SKCodecResult.IncompleteInput;
            return SKCodecResult.Success;
        }
        finally
        {
            System.Runtime.InteropServices.Marshal.FreeHGlobal(row);
        }
    }

    private static SKCodecResult Pixels(SKCodec codec, SKImageInfo info)
    {
        using var bitmap = new SKBitmap(info);
        return codec.GetPixels(info, bitmap.GetPixels());
    }

    private static string Corrupt(MediaKind kind, string fileName, string why) =>
        $"'{fileName}' looks like {kind.Describe()} but does not decode: {why}.";

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput => "its image data is truncated or corrupt",
        SKCodecResult.InvalidInput => "its header is not valid",
        SKCodecResult.Unimplemented => "it uses a variant the image decoder cannot read",
        _ => $"the image decoder says {result}",
    };
}
