using TalkingFace.Workers.Hair.Transfer;

namespace TalkingFace.Tests.HairTransfer;

/// <summary>
/// Each ONNX stage of the shipped demo chain on ONNX Runtime against what PyTorch computed with the same weights on
/// the same inputs (tests/fixtures/models/hairfast, written by tools/models/build_hair.py with the export).
/// </summary>
public sealed class HairChainParityTests(DemoHairChain demo) : IClassFixture<DemoHairChain>
{
    private const float FloatTolerance = 1e-3f;

    [Theory]
    [InlineData(HairChainManifest.Parsing)]
    [InlineData(HairChainManifest.Embedding)]
    [InlineData(HairChainManifest.Shape)]
    [InlineData(HairChainManifest.Blend)]
    [InlineData(HairChainManifest.Synthesis)]
    public void Each_stage_matches_pytorch_on_the_same_weights(string stage)
    {
        var chain = demo.Transfer.Chain;
        Assert.True(chain.Manifest.Demo, "the shipped chain is demo weights and must say so");
        var spec = chain.Manifest.Stage(stage);
        var inputs = spec.Inputs.ToDictionary(i => i.Name, i => Input(stage, i.Name, i.Dtype));

        var outputs = chain.Run(stage, inputs, CancellationToken.None);

        foreach (var output in spec.Outputs)
        {
            var expected = HairFixtures.Tensor(stage, output.Name, output.Dtype);
            var actual = outputs[output.Name];
            Assert.Equal(expected.Shape, actual.Shape);
            if (output.Dtype == "int64")
            {
                var agree = expected.Longs!.Zip(actual.Longs!, (a, b) => a == b ? 1.0 : 0.0).Average();
                Assert.True(agree >= 0.995, $"{stage}.{output.Name}: labels agree on {agree:P2}");
            }
            else if (output.Name.EndsWith("mask", StringComparison.Ordinal))
            {
                var agree = expected.Floats!.Zip(actual.Floats!, (a, b) => a == b ? 1.0 : 0.0).Average();
                Assert.True(agree >= 0.995, $"{stage}.{output.Name}: masks agree on {agree:P2}");
            }
            else
            {
                var maxDiff = expected.Floats!.Zip(actual.Floats!, (a, b) => Math.Abs(a - b)).Max();
                Assert.True(maxDiff <= FloatTolerance, $"{stage}.{output.Name}: max abs diff {maxDiff:E2} > {FloatTolerance:E0}");
            }
        }
    }

    /// <summary>Image inputs are the fixture test images (the exporter fed the face, and the colour reference to blend).</summary>
    private static StageTensor Input(string stage, string name, string dtype) => name switch
    {
        "image" or "face_image" => HairFixtures.ImageTensor("face"),
        "color_image" => HairFixtures.ImageTensor("color"),
        _ => HairFixtures.Tensor(stage, name, dtype),
    };

    [Fact]
    public void The_seeded_noise_is_the_exporters_noise()
    {
        var manifest = demo.Transfer.Chain.Manifest;
        var noise = HairNoise.Generate(manifest.Noise.Seed, manifest.Noise.Sizes);
        Assert.Equal(3407UL, manifest.Noise.Seed);
        foreach (var (stage, from) in new[] { (HairChainManifest.Embedding, 0), (HairChainManifest.Synthesis, 7) })
        {
            foreach (var spec in manifest.Stage(stage).Inputs.Where(i => i.Name.StartsWith("noise_", StringComparison.Ordinal)))
            {
                var k = int.Parse(spec.Name["noise_".Length..], System.Globalization.CultureInfo.InvariantCulture);
                Assert.True(k >= from);
                var expected = HairFixtures.Npy(stage, $"{spec.Name}.npy").Data;
                var maxDiff = expected.Zip(noise[k], (a, b) => Math.Abs(a - b)).Max();
                Assert.True(maxDiff <= 1e-6f, $"{spec.Name}: max abs diff {maxDiff:E2}");
            }
        }
    }

    [Fact]
    public async Task A_whole_transfer_matches_the_pytorch_chain()
    {
        var result = await demo.Transfer.TransferAsync(
            new HairTransferRequest(HairFixtures.Image("face"), HairFixtures.Image("shape"), HairFixtures.Image("color"), HairModes.Both), CancellationToken.None);

        var expected = HairFixtures.Npy("transfer_image.npy");
        var r = demo.Transfer.Resolution;
        Assert.Equal([1, 3, r, r], expected.Shape);
        var plane = r * r;
        double sum = 0, max = 0;
        for (var i = 0; i < plane; i++)
            for (var c = 0; c < 3; c++)
            {
                var diff = Math.Abs(result.Image.Pixels[3 * i + c] - expected.Data[c * plane + i] * 255.0);
                sum += diff;
                max = Math.Max(max, diff);
            }
        var mean = sum / (3 * plane);
        Assert.True(mean <= 0.6, $"mean abs diff {mean:F3} grey levels");
        Assert.True(max <= 2.0, $"max abs diff {max:F2} grey levels");
        Assert.Equal(result.Image.Pixels.Length / 3, result.HairMask.Length);
    }
}
