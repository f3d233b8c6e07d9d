using OpenCvSharp;
using TalkingFace.Workers.Hair.Alignment;
using TalkingFace.Workers.Hair.Detection;
using CvScalar = OpenCvSharp.Scalar;

namespace TalkingFace.Tests.Hair;

/// <summary>FFHQ alignment geometry (where the eyes land), its transform, and the paste-back into the photo.</summary>
public sealed class AlignmentTests
{
    // A frontal face: eyes 100 px apart, mouth 110 px below the eye mean (2|e2e| = 200 > 1.8|e2m| = 198, so |x| = 200).
    private static readonly FacePoint[] Frontal = [new(400, 300), new(500, 300), new(450, 360), new(410, 410), new(490, 410)];

    [Fact]
    public void Eyes_land_where_FFHQ_puts_them()
    {
        const int size = 256;
        var quad = FfhqAlignment.Quad(Frontal);
        // centre = eye mean + 0.1 * eye-to-mouth = (450, 311); half side |x| = 200: an axis-aligned 400 px square
        Assert.Equal(250, quad[0].X, 3); Assert.Equal(111, quad[0].Y, 3);
        Assert.Equal(250, quad[1].X, 3); Assert.Equal(511, quad[1].Y, 3);
        Assert.Equal(650, quad[2].X, 3); Assert.Equal(511, quad[2].Y, 3);
        Assert.Equal(650, quad[3].X, 3); Assert.Equal(111, quad[3].Y, 3);

        using var photo = new Mat(800, 900, MatType.CV_8UC3, CvScalar.All(90));
        using var aligned = FfhqAlignment.Align(photo, Frontal, size);
        // eyes at 3/8 and 5/8 of the width, 0.1 * 110 / 400 of the side above the centre
        var left = aligned.ToAligned(Frontal[0]);
        var right = aligned.ToAligned(Frontal[1]);
        Assert.Equal(size * 3 / 8.0, left.X, 2);
        Assert.Equal(size * 5 / 8.0, right.X, 2);
        Assert.Equal(size / 2.0 - 11.0 / 400 * size, left.Y, 2);
        Assert.Equal(left.Y, right.Y, 3);
    }

    [Fact]
    public void A_rotated_and_scaled_face_aligns_to_the_same_place_and_the_pixels_follow()
    {
        const int size = 256;
        var angle = 25 * Math.PI / 180;
        const double scale = 1.7;
        FacePoint Move(FacePoint p) => new(
            (float)(600 + scale * (Math.Cos(angle) * (p.X - 450) - Math.Sin(angle) * (p.Y - 350))),
            (float)(700 + scale * (Math.Sin(angle) * (p.X - 450) + Math.Cos(angle) * (p.Y - 350))));
        var moved = Frontal.Select(Move).ToArray();

        using var photo = new Mat(1400, 1200, MatType.CV_8UC3, CvScalar.All(40));
        Cv2.Circle(photo, new Point((int)moved[0].X, (int)moved[0].Y), 12, new CvScalar(0, 0, 255), -1);   // left eye red
        Cv2.Circle(photo, new Point((int)moved[1].X, (int)moved[1].Y), 12, new CvScalar(0, 255, 0), -1);   // right eye green
        using var aligned = FfhqAlignment.Align(photo, moved, size);
        using var reference = FfhqAlignment.Align(new Mat(800, 900, MatType.CV_8UC3), Frontal, size);
        for (var i = 0; i < 5; i++)
        {
            var a = aligned.ToAligned(moved[i]);
            var b = reference.ToAligned(Frontal[i]);
            Assert.Equal(b.X, a.X, 1);
            Assert.Equal(b.Y, a.Y, 1);
        }
        var expectedLeft = reference.ToAligned(Frontal[0]);
        var expectedRight = reference.ToAligned(Frontal[1]);
        Assert.Equal(expectedLeft.X, Centroid(aligned.Image, 2).X, 0); // red channel blob
        Assert.Equal(expectedLeft.Y, Centroid(aligned.Image, 2).Y, 0);
        Assert.Equal(expectedRight.X, Centroid(aligned.Image, 1).X, 0);
        Assert.Equal(expectedRight.Y, Centroid(aligned.Image, 1).Y, 0);
    }

    [Fact]
    public void Outside_the_photo_is_reflect_padded_not_black()
    {
        using var photo = new Mat(300, 300, MatType.CV_8UC3, new CvScalar(30, 140, 200));
        FacePoint[] nearEdge = [new(20, 40), new(80, 40), new(50, 70), new(28, 100), new(72, 100)]; // quad reaches outside
        using var aligned = FfhqAlignment.Align(photo, nearEdge, 128);
        var corner = aligned.Image.At<Vec3b>(0, 0);
        Assert.InRange(corner.Item0, 28, 32);
        Assert.InRange(corner.Item1, 138, 142);
        Assert.InRange(corner.Item2, 198, 202);
    }

    [Fact]
    public void Paste_back_changes_the_face_and_hair_region_only_with_a_feathered_edge()
    {
        const int size = 128;
        using var photo = new Mat(800, 900, MatType.CV_8UC3, CvScalar.All(50));
        using var aligned = FfhqAlignment.Align(photo, Frontal, size);
        using var result = new Mat(size, size, MatType.CV_8UC3, CvScalar.All(250));
        var hair = new float[size * size];
        for (var y = 10; y < 40; y++) for (var x = 30; x < 98; x++) hair[y * size + x] = 1; // a band of hair above the face
        using var mask = PasteBack.Mask(hair, size);
        using var pasted = PasteBack.Paste(photo, result, mask, aligned.Matrix);

        Assert.Equal(photo.Size(), pasted.Size());
        byte At(FacePoint p) => pasted.At<Vec3b>((int)p.Y, (int)p.X).Item0;
        FacePoint Photo(double ax, double ay) // aligned -> photo: this frontal quad is axis-aligned, 400 px for `size`
            => new((float)(250 + ax / size * 400), (float)(111 + ay / size * 400));
        Assert.InRange(At(Photo(64, 70)), 240, 250);   // face centre: the result
        Assert.InRange(At(Photo(64, 25)), 240, 250);   // hair band: the result
        Assert.Equal(50, At(new FacePoint(50, 50)));   // far outside the crop: the photo untouched
        Assert.Equal(50, At(Photo(4, 120)));           // crop corner outside the face and hair: the photo
        var edge = Enumerable.Range(0, 60).Select(i => (int)At(Photo(64, 100 + i * 0.4))).ToArray(); // down across the chin
        Assert.Contains(edge, v => v > 60 && v < 240); // a feathered transition, not a hard cut
    }

    private static Point2d Centroid(Mat image, int channel)
    {
        using var plane = image.ExtractChannel(channel);
        using var others = new Mat();
        using var bin = new Mat();
        Cv2.Threshold(plane, bin, 128, 255, ThresholdTypes.Binary);
        var m = Cv2.Moments(bin, binaryImage: true);
        return new Point2d(m.M10 / m.M00, m.M01 / m.M00);
    }
}
