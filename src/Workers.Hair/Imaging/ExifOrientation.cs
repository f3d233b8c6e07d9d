using MetadataExtractor;
using MetadataExtractor.Formats.Exif;
using OpenCvSharp;

namespace TalkingFace.Workers.Hair.Imaging;

/// <summary>
/// The EXIF orientation a photo carries (a phone stores its sensor's pixels and a tag saying how to turn them) and
/// turning the decoded pixels upright by it, as every photo viewer and browser does. OpenCV's decode with
/// <c>IMREAD_UNCHANGED</c> (which the stage needs for alpha and 16-bit images) keeps the stored order and ignores the
/// tag, so the tag is read here (MetadataExtractor: JPEG's APP1, PNG's eXIf chunk, WebP's EXIF chunk).
/// </summary>
public static class ExifOrientation
{
    /// <summary>The orientation tag (1-8; 1 = stored upright), or 1 when there is none or it cannot be read.</summary>
    public static int Read(byte[] bytes)
    {
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            foreach (var directory in ImageMetadataReader.ReadMetadata(stream).OfType<ExifIfd0Directory>())
            {
                if (directory.TryGetInt32(ExifDirectoryBase.TagOrientation, out var orientation) && orientation is >= 1 and <= 8)
                    return orientation;
            }
        }
        catch (Exception e) when (e is ImageProcessingException or MetadataException or IOException or ArgumentException or IndexOutOfRangeException)
        {
            // Broken or unknown metadata: the pixels are used as stored, like a viewer would.
        }
        return 1;
    }

    /// <summary>The image turned upright for <paramref name="orientation"/>; a new Mat (the input is left alone).</summary>
    public static Mat Upright(Mat image, int orientation)
    {
        var result = new Mat();
        switch (orientation)
        {
            case 2: Cv2.Flip(image, result, FlipMode.Y); break; // mirrored left-right
            case 3: Cv2.Rotate(image, result, RotateFlags.Rotate180); break;
            case 4: Cv2.Flip(image, result, FlipMode.X); break; // mirrored top-bottom
            case 5: Cv2.Transpose(image, result); break; // mirrored, turned 90° counter-clockwise
            case 6: Cv2.Rotate(image, result, RotateFlags.Rotate90Clockwise); break;
            case 7: // mirrored, turned 90° clockwise: the transpose about the other diagonal
                using (var transposed = new Mat())
                {
                    Cv2.Transpose(image, transposed);
                    Cv2.Flip(transposed, result, FlipMode.XY);
                }
                break;
            case 8: Cv2.Rotate(image, result, RotateFlags.Rotate90Counterclockwise); break;
            default: image.CopyTo(result); break;
        }
        return result;
    }
}
