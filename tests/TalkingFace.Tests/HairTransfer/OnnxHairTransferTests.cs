using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using TalkingFace.Contracts;
using TalkingFace.Models;
using TalkingFace.Workers.Hair.Imaging;
using TalkingFace.Workers.Hair.Transfer;

namespace TalkingFace.Tests.HairTransfer;

/// <summary>HairFastGAN's modes, embed-once, determinism, bad inputs and the model store checks on the demo chain.</summary>
public sealed class OnnxHairTransferTests(DemoHairChain demo) : IClassFixture<DemoHairChain>
{
    private static readonly RgbImage Face = HairFixtures.Image("face");
    private static readonly RgbImage ShapeRef = HairFixtures.Image("shape");
    private static readonly RgbImage ColorRef = HairFixtures.Image("color");

    private Task<HairTransferResult> Run(RgbImage face, RgbImage? shape, RgbImage? color, string mode) =>
        demo.Transfer.TransferAsync(new HairTransferRequest(face, shape, color, mode), CancellationToken.None);

    [Fact]
    public async Task Shape_only_is_both_with_the_shape_reference_as_color_reference()
    {
        var shapeOnly = await Run(Face, ShapeRef, null, HairModes.Shape);
        var both = await Run(Face, ShapeRef, ShapeRef, HairModes.Both);
        var other = await Run(Face, ShapeRef, ColorRef, HairModes.Both);

        Assert.Equal(both.Image.Pixels, shapeOnly.Image.Pixels);
        Assert.Equal(both.HairMask, shapeOnly.HairMask);
        Assert.NotEqual(other.Image.Pixels, shapeOnly.Image.Pixels); // the colour reference matters, so the equality above says something
    }

    [Fact]
    public async Task Color_only_keeps_the_faces_own_hair_shape()
    {
        var colorOnly = await Run(Face, null, ColorRef, HairModes.Color);
        var both = await Run(Face, Face, ColorRef, HairModes.Both);
        var reshaped = await Run(Face, ShapeRef, ColorRef, HairModes.Both);

        Assert.Equal(both.Image.Pixels, colorOnly.Image.Pixels);
        // the returned mask is the face's own parsed hair, upsampled: the shape stage did not run
        var faceHair = HairFixtures.Npy("parsing", "hair_mask.npy");
        var m = faceHair.Shape[^1];
        var r = demo.Transfer.Resolution;
        var expected = Enumerable.Range(0, r * r).Select(i => faceHair.Data[i / r / (r / m) * m + i % r / (r / m)]).ToArray();
        Assert.Equal(expected, colorOnly.HairMask);
        Assert.Contains(1f, colorOnly.HairMask);
        Assert.NotEqual(colorOnly.Image.Pixels, reshaped.Image.Pixels); // a shape reference does change the result
    }

    [Fact]
    public async Task Identical_inputs_are_embedded_once_per_call()
    {
        var t = demo.Transfer;
        async Task<long> Embedded(RgbImage face, RgbImage? shape, RgbImage? color, string mode)
        {
            var before = t.ImagesEmbedded;
            await Run(face, shape, color, mode);
            return t.ImagesEmbedded - before;
        }
        var copyOfFace = new RgbImage(Face.Width, Face.Height, [.. Face.Pixels]); // same content, another array

        Assert.Equal(3, await Embedded(Face, ShapeRef, ColorRef, HairModes.Both));
        Assert.Equal(2, await Embedded(Face, ShapeRef, null, HairModes.Shape));
        Assert.Equal(2, await Embedded(Face, null, ColorRef, HairModes.Color));
        Assert.Equal(2, await Embedded(Face, ShapeRef, copyOfFace, HairModes.Both));
        Assert.Equal(1, await Embedded(Face, copyOfFace, Face, HairModes.Both));
    }

    [Fact]
    public async Task The_same_request_gives_the_same_image_and_every_step_is_timed()
    {
        var first = await Run(Face, ShapeRef, ColorRef, HairModes.Both);
        var second = await Run(Face, ShapeRef, ColorRef, HairModes.Both);
        using var fresh = HairFixtures.Transfer();
        var third = await fresh.TransferAsync(new HairTransferRequest(Face, ShapeRef, ColorRef, HairModes.Both), CancellationToken.None);
        using var otherSeed = HairFixtures.Transfer(seed: 1);
        var reseeded = await otherSeed.TransferAsync(new HairTransferRequest(Face, ShapeRef, ColorRef, HairModes.Both), CancellationToken.None);

        Assert.Equal(first.Image.Pixels, second.Image.Pixels);
        Assert.Equal(first.Image.Pixels, third.Image.Pixels);
        Assert.Equal(first.HairMask, third.HairMask);
        Assert.NotEqual(first.Image.Pixels, reseeded.Image.Pixels); // the noise is an input: another seed, another image
        Assert.Equal([Steps.HairEmbedding, Steps.HairShape, Steps.HairBlend, Steps.HairSynthesis], first.Timings.Select(s => s.Step));
        Assert.All(first.Timings, s => Assert.True(s.Seconds > 0));
        Assert.Equal("CPUExecutionProvider", first.Provider);
        Assert.Equal("hairfast@demo-1", first.Model);
        Assert.Equal(demo.Transfer.Resolution, first.Image.Width);
        Assert.Equal(demo.Transfer.Resolution, first.Image.Height);
        Assert.All(first.HairMask, v => Assert.True(v is 0f or 1f));
    }

    [Fact]
    public async Task Bad_requests_are_refused_with_a_clear_reason()
    {
        var small = HairFixtures.Solid(64, 10, 20, 30);
        var e1 = await Assert.ThrowsAsync<ArgumentException>(() => Run(small, ShapeRef, ColorRef, HairModes.Both));
        Assert.Contains("64x64", e1.Message);
        Assert.Contains("128x128", e1.Message);
        var wide = new RgbImage(128, 64, new byte[128 * 64 * 3]);
        var e2 = await Assert.ThrowsAsync<ArgumentException>(() => Run(Face, wide, ColorRef, HairModes.Both));
        Assert.Contains("shape reference", e2.Message);
        var e3 = await Assert.ThrowsAsync<ArgumentException>(() => Run(Face, ShapeRef, ColorRef, "bald"));
        Assert.Contains("bald", e3.Message);
        var e4 = await Assert.ThrowsAsync<ArgumentException>(() => Run(Face, null, ColorRef, HairModes.Shape));
        Assert.Contains("shape reference", e4.Message);
        var e5 = await Assert.ThrowsAsync<ArgumentException>(() => Run(Face, ShapeRef, null, HairModes.Both));
        Assert.Contains("color reference", e5.Message);
        var e6 = Assert.Throws<ArgumentException>(() => demo.Transfer.Chain.Run(HairChainManifest.Parsing,
            new Dictionary<string, StageTensor> { ["image"] = StageTensor.Float(new float[3 * 64 * 64], 1, 3, 64, 64) }, CancellationToken.None));
        Assert.Contains("[1, 3, 128, 128]", e6.Message);
    }

    [Fact]
    public void The_manifest_describes_every_stage_and_a_corrupted_stage_is_refused()
    {
        var manifest = demo.Transfer.Chain.Manifest;
        Assert.Equal(HairChainManifest.StageNames, manifest.Stages.Select(s => s.Name));
        Assert.All(manifest.Stages, s => Assert.Matches("^[0-9a-f]{64}$", s.Sha256));
        Assert.Equal(manifest.Latents.Count, 2 * (int)Math.Log2(manifest.Resolution) - 2);
        Assert.Equal(manifest.Stage(HairChainManifest.Synthesis).File, ModelRegistry.PeekManifest(new ModelCatalog(
            Microsoft.Extensions.Options.Options.Create(new ModelStoreOptions { Root = HairFixtures.ModelsRoot })).Find("hairfast")!).File);

        var root = Directory.CreateTempSubdirectory("hair-store-").FullName;
        try
        {
            var source = Path.Combine(HairFixtures.ModelsRoot, "hairfast", manifest.Version);
            var target = Directory.CreateDirectory(Path.Combine(root, "hairfast", manifest.Version)).FullName;
            foreach (var file in Directory.EnumerateFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            var blend = Path.Combine(target, manifest.Stage(HairChainManifest.Blend).File);
            var bytes = File.ReadAllBytes(blend);
            bytes[^20] ^= 0xFF;
            File.WriteAllBytes(blend, bytes);

            var error = Assert.Throws<ModelStoreException>(() => HairFixtures.Loader(root).Load("hairfast"));
            Assert.Contains("sha256", error.Message);
            Assert.Contains("blend.onnx", error.Message);
            var missing = Assert.Throws<ModelStoreException>(() => HairFixtures.Loader(root).Load("no-such-chain"));
            Assert.Contains("not configured", missing.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_gpu_device_class_falls_back_to_the_cpu_provider_for_every_stage()
    {
        using var chain = HairFixtures.Loader(HairFixtures.ModelsRoot, deviceClass: "rtx").Load("hairfast");
        Assert.Equal("CPUExecutionProvider", chain.Provider);
    }

    [Fact]
    public async Task AddHairTransfer_registers_one_transfer_and_warms_the_chain_at_start()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:Root"] = HairFixtures.ModelsRoot,
            ["Inference:OptimizedModelCache"] = "",
        });
        builder.AddHairTransfer();
        builder.AddHairTransfer(); // twice: registers once
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var transfer = host.Services.GetRequiredService<IHairTransfer>();
            Assert.IsType<OnnxHairTransfer>(transfer);
            Assert.Same(transfer, host.Services.GetRequiredService<IHairTransfer>());
            Assert.Single(host.Services.GetServices<IHairTransfer>());
            var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
            Assert.Equal(HealthStatus.Healthy, health.Entries["hair-transfer"].Status);
            Assert.Contains("hairfast@demo-1", health.Entries["hair-transfer"].Description);
            Assert.Equal(0, ((OnnxHairTransfer)transfer).ImagesEmbedded); // the warm-up does not count as work
            Assert.Equal(128, transfer.Resolution);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_store_without_the_chain_reports_it_not_configured()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:Root"] = HairFixtures.ModelsRoot,
            ["Hair:TransferModel"] = "no-such-chain",
        });
        builder.AddHairTransfer();
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
            Assert.Equal(HealthStatus.Degraded, health.Entries["hair-transfer"].Status);
            Assert.Contains("not configured", health.Entries["hair-transfer"].Description);
            var error = await Assert.ThrowsAsync<ModelStoreException>(() => host.Services.GetRequiredService<IHairTransfer>()
                .TransferAsync(new HairTransferRequest(Face, ShapeRef, ColorRef, HairModes.Both), CancellationToken.None));
            Assert.Contains("no-such-chain", error.Message);
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
