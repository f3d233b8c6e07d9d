using OpenCvSharp;
using TalkingFace.Media;

namespace TalkingFace.Gateway.Jobs;

/// <summary>
/// Decodes an uploaded image with the same library the hair worker uses (OpenCV), so an image whose container is whole
/// but whose pixel data is not (garbage compressed data behind valid CRCs, a JPEG without its tables, a format OpenCV
/// cannot read) is a 400 at submit instead of a failed job later. Run only after <see cref="ImageProbe"/> has bounded
/// the canvas, so a decompression bomb never reaches the decoder; decoded as grey to keep the pixel buffer small
/// (at most <see cref="ImageProbe.MaxPixels"/> bytes, outside the managed heap, freed at once).
/// </summary>
public static class ImageDecodeProbe
{
    /// <summary>Null when the file at <paramref name="path"/> decodes to a non-empty image, else why not.</summary>
    public static string? Check(string path, MediaKind kind, string fileName)
    {
        try
        {
            using var pixels = Cv2.ImRead(path, ImreadModes.Grayscale);
            return pixels.Empty() || pixels.Width <= 0 || pixels.Height <= 0
                ? $"'{fileName}' looks like {kind.Describe()} but does not decode: its image data is corrupt or in a variant the image decoder cannot read."
                : null;
        }
        catch (OpenCVException e)
        {
            return $"'{fileName}' looks like {kind.Describe()} but does not decode: {e.Message}.";
        }
    }
}
