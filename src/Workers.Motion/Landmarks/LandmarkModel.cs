using System.Security.Cryptography;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Workers.Motion.AudioToMotion;

namespace TalkingFace.Workers.Motion.Landmarks;

/// <summary>
/// The linear face model that turns expression coefficients into the 68 iBUG landmarks:
/// <c>landmarks[t] = mean + Σ_k exp[t, k] · basis[k]</c>, with <c>mean</c> [68, 3] and <c>basis</c> [K, 68, 3].
/// </summary>
public sealed class LandmarkModel
{
    public const int Points = 68;
    private const int Values = Points * 3;

    public LandmarkModel(float[] mean, float[] basis, int coefficients)
    {
        if (mean.Length != Values) throw new ArgumentException($"the mean shape has {mean.Length} values, not 68 x 3", nameof(mean));
        if (basis.Length != coefficients * Values) throw new ArgumentException($"the basis has {basis.Length} values, not {coefficients} x 68 x 3", nameof(basis));
        Mean = mean;
        Basis = basis;
        Coefficients = coefficients;
        Projection = LandmarkProjection.Fit(mean);
    }

    /// <summary>[68, 3], row-major.</summary>
    public float[] Mean { get; }

    /// <summary>[Coefficients, 68, 3], row-major.</summary>
    public float[] Basis { get; }

    public int Coefficients { get; }

    /// <summary>The image-space projection, fixed for this model from its mean shape.</summary>
    public LandmarkProjection Projection { get; }

    /// <summary>Loads the mean and basis the manifest names, refusing files whose sha256 differs from the manifest's.</summary>
    /// <exception cref="ModelStoreException">A file is missing, altered or of the wrong shape.</exception>
    public static LandmarkModel Load(string directory, MotionModelSpec spec, string modelId)
    {
        var mean = ReadAsset(directory, spec.LandmarkMean, modelId, "landmark mean");
        var basis = ReadAsset(directory, spec.LandmarkBasis, modelId, "landmark basis");
        if (mean.Shape is not [Points, 3])
            throw new ModelStoreException($"{modelId}: {spec.LandmarkMean.File} has shape ({string.Join(", ", mean.Shape)}); expected (68, 3)");
        if (basis.Shape is not [var k, Points, 3] || k != spec.ExpDim)
            throw new ModelStoreException($"{modelId}: {spec.LandmarkBasis.File} has shape ({string.Join(", ", basis.Shape)}); expected ({spec.ExpDim}, 68, 3)");
        return new LandmarkModel(mean.Data, basis.Data, spec.ExpDim);
    }

    /// <summary>3D landmarks of every frame: [frames, 68, 3].</summary>
    /// <param name="exp">[frames, Coefficients], row-major.</param>
    public float[] Reconstruct(ReadOnlySpan<float> exp, int frames)
    {
        if (exp.Length != frames * Coefficients) throw new ArgumentException($"exp has {exp.Length} values, not {frames} x {Coefficients}", nameof(exp));
        var result = new float[frames * Values];
        var accumulator = new double[Values];
        for (var t = 0; t < frames; t++)
        {
            for (var v = 0; v < Values; v++) accumulator[v] = Mean[v];
            var coefficients = exp.Slice(t * Coefficients, Coefficients);
            for (var k = 0; k < Coefficients; k++)
            {
                var c = coefficients[k];
                if (c == 0) continue;
                var row = Basis.AsSpan(k * Values, Values);
                for (var v = 0; v < Values; v++) accumulator[v] += c * row[v];
            }
            var target = result.AsSpan(t * Values, Values);
            for (var v = 0; v < Values; v++) target[v] = (float)accumulator[v];
        }
        return result;
    }

    private static NpyArray ReadAsset(string directory, ModelAsset asset, string modelId, string what)
    {
        if (asset.File.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(asset.File))
            throw new ModelStoreException($"{modelId}: {what} file '{asset.File}' must be inside the model folder");
        var path = Path.Combine(directory, asset.File);
        if (!File.Exists(path)) throw new ModelStoreException($"{modelId}: {what} file {path} is missing");
        var bytes = File.ReadAllBytes(path);
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (!sha.Equals(asset.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new ModelStoreException($"{modelId}: sha256 of {path} is {sha}, the manifest says {asset.Sha256}: the {what} is corrupted or was replaced");
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            return Npy.Read(stream);
        }
        catch (InvalidDataException e)
        {
            throw new ModelStoreException($"{modelId}: {what} file {path} cannot be read: {e.Message}");
        }
    }
}
