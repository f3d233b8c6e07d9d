using System.Security.Cryptography;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Workers.Motion.AudioToMotion;
using TalkingFace.Workers.Motion.Landmarks;
using static TalkingFace.Tests.Motion.MotionTestKit;

namespace TalkingFace.Tests.Motion;

/// <summary>Landmarks from expression coefficients (mean + Σ exp·basis), the asset checks and the 2D projection.</summary>
public sealed class LandmarkTests
{
    private static float[] RandomValues(int count, int seed, float scale = 1)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale)];
    }

    [Fact]
    public void Landmarks_are_the_mean_plus_the_basis_weighted_by_the_coefficients()
    {
        const int k = 64, frames = 3;
        var mean = RandomValues(68 * 3, 1);
        var basis = RandomValues(k * 68 * 3, 2, 0.1f);
        var exp = RandomValues(frames * k, 3);
        var model = new LandmarkModel(mean, basis, k);

        var landmarks = model.Reconstruct(exp, frames);

        Assert.Equal(frames * 68 * 3, landmarks.Length);
        for (var t = 0; t < frames; t++)
        {
            for (var p = 0; p < 68; p++)
            {
                for (var a = 0; a < 3; a++)
                {
                    double expected = mean[p * 3 + a];
                    for (var c = 0; c < k; c++) expected += exp[t * k + c] * basis[(c * 68 + p) * 3 + a];
                    Assert.Equal(expected, landmarks[(t * 68 + p) * 3 + a], 4);
                }
            }
        }
        // zero coefficients give the mean; one coefficient of 1 gives mean + that basis row
        Assert.Equal(mean, model.Reconstruct(new float[k], 1));
        var unit = new float[k];
        unit[5] = 1;
        var single = model.Reconstruct(unit, 1);
        for (var v = 0; v < 68 * 3; v++) Assert.Equal(mean[v] + basis[5 * 68 * 3 + v], single[v], 5);
    }

    [Fact]
    public void The_projection_puts_the_mean_face_upright_in_the_middle_of_512_by_512()
    {
        foreach (var yUp in new[] { true, false })
        {
            var face = SyntheticFace(yUp);
            var projection = LandmarkProjection.Fit(face);
            var points = projection.Project(face);
            var xs = Enumerable.Range(0, 68).Select(p => points[2 * p]).ToArray();
            var ys = Enumerable.Range(0, 68).Select(p => points[2 * p + 1]).ToArray();

            Assert.All(xs.Concat(ys), v => Assert.InRange(v, 0, 512));
            Assert.Equal(256, (xs.Min() + xs.Max()) / 2, 1);
            Assert.Equal(256, (ys.Min() + ys.Max()) / 2, 1);
            Assert.Equal(512 * LandmarkProjection.DefaultFill, Math.Max(xs.Max() - xs.Min(), ys.Max() - ys.Min()), 1);
            var eyes = Enumerable.Range(36, 12).Average(p => ys[p]);
            Assert.True(ys[8] > eyes, $"yUp={yUp}: the chin ({ys[8]}) must be below the eyes ({eyes}) in the image");
            Assert.True(ys[57] > ys[33] && ys[33] > eyes, "mouth below nose below eyes");
            Assert.True(xs[0] < xs[16], "the jaw starts on the image's left");
        }
    }

    [Fact]
    public void The_projection_is_fixed_so_motion_shows_in_pixels()
    {
        var face = SyntheticFace();
        var projection = LandmarkProjection.Fit(face);
        var moved = (float[])face.Clone();
        moved[3 * 57 + 1] -= 0.1f; // the lower lip moves down by 0.1 (y up)
        var a = projection.Project(face);
        var b = projection.Project(moved);
        Assert.Equal(0.1 * projection.Scale, b[2 * 57 + 1] - a[2 * 57 + 1], 3);
        Assert.Equal(a[2 * 8 + 1], b[2 * 8 + 1]); // nothing else moves
        Assert.Equal(2 * 2, projection.Project(face.AsSpan(0, 6)).Length);
    }

    [Fact]
    public void Assets_whose_sha256_differs_from_the_manifest_are_refused()
    {
        var folder = Directory.CreateTempSubdirectory("talkingface-landmarks-").FullName;
        try
        {
            var meanPath = Path.Combine(folder, "landmark-mean.npy");
            var basisPath = Path.Combine(folder, "landmark-basis.npy");
            using (var f = File.Create(meanPath)) Npy.Write(f, SyntheticFace(), 68, 3);
            using (var f = File.Create(basisPath)) Npy.Write(f, RandomValues(64 * 68 * 3, 4, 0.01f), 64, 68, 3);
            string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
            var spec = Spec() with { LandmarkMean = new ModelAsset("landmark-mean.npy", Sha(meanPath)), LandmarkBasis = new ModelAsset("landmark-basis.npy", Sha(basisPath)) };

            var model = LandmarkModel.Load(folder, spec, "geneface-a2m@test");
            Assert.Equal(64, model.Coefficients);
            Assert.Equal(SyntheticFace(), model.Mean);

            var wrong = spec with { LandmarkBasis = new ModelAsset("landmark-basis.npy", new string('0', 64)) };
            var error = Assert.Throws<ModelStoreException>(() => LandmarkModel.Load(folder, wrong, "geneface-a2m@test"));
            Assert.Contains("sha256", error.Message);
            Assert.Contains("landmark basis", error.Message);

            var escaping = spec with { LandmarkMean = new ModelAsset("../landmark-mean.npy", Sha(meanPath)) };
            Assert.Contains("inside the model folder", Assert.Throws<ModelStoreException>(() => LandmarkModel.Load(folder, escaping, "geneface-a2m@test")).Message);

            var missing = spec with { LandmarkMean = new ModelAsset("nope.npy", Sha(meanPath)) };
            Assert.Contains("missing", Assert.Throws<ModelStoreException>(() => LandmarkModel.Load(folder, missing, "geneface-a2m@test")).Message);

            var fewer = spec with { ExpDim = 32 };
            Assert.Contains("expected (32, 68, 3)", Assert.Throws<ModelStoreException>(() => LandmarkModel.Load(folder, fewer, "geneface-a2m@test")).Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
