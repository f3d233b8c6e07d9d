using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TalkingFace.Media;
using TalkingFace.Models;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers;
using TalkingFace.Workers.Hair.Imaging;
using TalkingFace.Workers.Hair.Transfer;

namespace TalkingFace.Tests.HairTransfer;

/// <summary>The shipped demo hair chain (models/hairfast) and the parity fixtures tools/models/build_hair.py wrote for it.</summary>
public static class HairFixtures
{
    public static readonly string ModelsRoot = Path.Combine(TestPaths.RepoRoot, "models");
    public static readonly string Folder = Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "models", "hairfast");

    public static HairChainLoader Loader(string root, string deviceClass = "cpu") => new(
        new ModelCatalog(Options.Create(new ModelStoreOptions { Root = root })),
        new OnnxSessionFactory(Options.Create(new InferenceOptions { OptimizedModelCache = "" }), NullLogger<OnnxSessionFactory>.Instance),
        Options.Create(new WorkerOptions { DeviceClass = deviceClass }),
        NullLogger<HairChainLoader>.Instance);

    public static OnnxHairTransfer Transfer(string? root = null, string model = "hairfast", ulong seed = 3407) => new(
        Loader(root ?? ModelsRoot), Options.Create(new HairTransferOptions { TransferModel = model, NoiseSeed = seed }), NullLogger<OnnxHairTransfer>.Instance);

    public static NpyArray Npy(params string[] parts)
    {
        using var stream = File.OpenRead(Path.Combine([Folder, .. parts]));
        return TalkingFace.Media.Npy.Read(stream);
    }

    /// <summary>A fixture test image ([R, R, 3] byte values stored as float32) as the RgbImage the chain takes.</summary>
    public static RgbImage Image(string role)
    {
        var a = Npy($"{role}_rgb.npy");
        return new RgbImage(a.Shape[1], a.Shape[0], [.. a.Data.Select(v => checked((byte)v))]);
    }

    /// <summary>The same image as the [1, 3, R, R] float tensor in [0, 1] the exporter fed (byte / 255 in float32).</summary>
    public static StageTensor ImageTensor(string role)
    {
        var a = Npy($"{role}_rgb.npy");
        int h = a.Shape[0], w = a.Shape[1], plane = h * w;
        var data = new float[3 * plane];
        for (var i = 0; i < plane; i++)
            for (var c = 0; c < 3; c++)
                data[c * plane + i] = a.Data[3 * i + c] / 255f;
        return StageTensor.Float(data, 1, 3, h, w);
    }

    /// <summary>A fixture tensor with the dtype the stage's manifest asks for (int64 labels are stored as int64 .npy).</summary>
    public static StageTensor Tensor(string stage, string name, string dtype)
    {
        var a = Npy(stage, $"{name}.npy");
        long[] shape = [.. a.Shape.Select(d => (long)d)];
        return dtype == "int64" ? StageTensor.Int64([.. a.Data.Select(v => (long)v)], shape) : StageTensor.Float(a.Data, shape);
    }

    public static RgbImage Solid(int size, byte r, byte g, byte b)
    {
        var px = new byte[size * size * 3];
        for (var i = 0; i < px.Length; i += 3) (px[i], px[i + 1], px[i + 2]) = (r, g, b);
        return new RgbImage(size, size, px);
    }
}

/// <summary>One loaded demo chain shared by a test class (loading takes ~0.3 s).</summary>
public sealed class DemoHairChain : IDisposable
{
    public OnnxHairTransfer Transfer { get; } = HairFixtures.Transfer();

    public void Dispose() => Transfer.Dispose();
}
