using System.Diagnostics;
using Microsoft.Extensions.Options;
using TalkingFace.Contracts;
using TalkingFace.Workers.Hair.Imaging;
using static TalkingFace.Workers.Hair.Transfer.HairChainManifest;

namespace TalkingFace.Workers.Hair.Transfer;

/// <summary>
/// HairFastGAN's inference flow (its <c>hair_swap.py</c>) on the ONNX stages of a hair chain:
/// <list type="number">
/// <item>modes: shape-only takes the shape reference as the colour reference too; colour-only takes the face as the shape reference;</item>
/// <item>embedding: every distinct image (by content) is parsed and embedded once per call; with more than one distinct
/// image, F is mixed towards the F of W+ inside the hair (<c>mixing</c>);</item>
/// <item>shape: the face's F and hair are aligned to the shape reference's hair (skipped when the shape reference is the
/// face); the colour reference's target hair mask comes from the same stage (reused when it is the shape reference);</item>
/// <item>blend: the face's latents take the colour reference's hair colour (skipped when all three are the same image);</item>
/// <item>synthesis: the generator from the aligned F with the blended latents.</item>
/// </list>
/// Deterministic: the generator noise is drawn from <see cref="HairTransferOptions.NoiseSeed"/> (<see cref="HairNoise"/>).
/// The chain is loaded on first use, or at start by the preloader.
/// </summary>
public sealed class OnnxHairTransfer(HairChainLoader loader, IOptions<HairTransferOptions> options, ILogger<OnnxHairTransfer> logger) : IHairTransfer, IDisposable
{
    private readonly Lock _gate = new();
    private HairChain? _chain;
    private float[][]? _noise;
    private long _imagesEmbedded;

    /// <summary>The loaded chain (loads it on first use).</summary>
    /// <exception cref="Models.ModelStoreException">The chain is not configured or fails validation.</exception>
    public HairChain Chain
    {
        get
        {
            if (_chain is { } loaded) return loaded;
            lock (_gate)
            {
                if (_chain is null)
                {
                    var chain = loader.Load(options.Value.TransferModel);
                    _noise = HairNoise.Generate(options.Value.NoiseSeed, chain.Manifest.Noise.Sizes);
                    _chain = chain;
                }
                return _chain;
            }
        }
    }

    public int Resolution => Chain.Manifest.Resolution;

    /// <summary>Images parsed and embedded since start: identical inputs of one call count once.</summary>
    public long ImagesEmbedded => Interlocked.Read(ref _imagesEmbedded);

    public Task<HairTransferResult> TransferAsync(HairTransferRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var chain = Chain;
        var (face, shape, color) = Resolve(request, chain.Manifest.Resolution);
        return Task.Run(() => Transfer(chain, face, shape, color, ct), ct);
    }

    /// <summary>One transfer with three different synthetic images, so every stage allocates, optimises and runs once.</summary>
    public void Warm(CancellationToken ct)
    {
        var chain = Chain;
        var r = chain.Manifest.Resolution;
        RgbImage Synthetic(int k)
        {
            var pixels = new byte[r * r * 3];
            for (var i = 0; i < pixels.Length; i++) pixels[i] = (byte)((i * (k + 3) / 7 + 40 * k) & 0xFF);
            return new RgbImage(r, r, pixels);
        }
        var watch = Stopwatch.StartNew();
        var result = Transfer(chain, Synthetic(0), Synthetic(1), Synthetic(2), ct);
        Interlocked.Add(ref _imagesEmbedded, -3);
        logger.LogInformation("Warmed up hair chain {Model} on {Provider} in {Seconds:F2} s ({Steps})", chain.Manifest.Id, chain.Provider,
            watch.Elapsed.TotalSeconds, string.Join(", ", result.Timings.Select(t => $"{t.Step} {t.Seconds:F3} s")));
    }

    /// <summary>HairFastGAN's modes, and the checks a request must pass (clear messages for the stage's failure reason).</summary>
    internal static (RgbImage Face, RgbImage Shape, RgbImage Color) Resolve(HairTransferRequest request, int resolution)
    {
        if (!HairModes.All.Contains(request.Mode))
            throw new ArgumentException($"hair mode '{request.Mode}' is not one of {string.Join(", ", HairModes.All)}", nameof(request));
        ArgumentNullException.ThrowIfNull(request.Face);
        var shape = request.Mode == HairModes.Color ? request.Face : request.Shape
            ?? throw new ArgumentException($"hair mode '{request.Mode}' needs a shape reference", nameof(request));
        var color = request.Mode == HairModes.Shape ? shape : request.Color
            ?? throw new ArgumentException($"hair mode '{request.Mode}' needs a color reference", nameof(request));
        foreach (var (image, role) in new[] { (request.Face, "face"), (shape, "shape reference"), (color, "color reference") })
        {
            if (image.Width != resolution || image.Height != resolution)
                throw new ArgumentException($"the {role} image is {image.Width}x{image.Height}; the hair chain takes FFHQ-aligned {resolution}x{resolution} images", nameof(request));
        }
        return (request.Face, shape, color);
    }

    private sealed record Embedded(StageTensor Image, StageTensor Labels, StageTensor HairMask, StageTensor W, StageTensor S, StageTensor F);

    private HairTransferResult Transfer(HairChain chain, RgbImage face, RgbImage shape, RgbImage color, CancellationToken ct)
    {
        var m = chain.Manifest;
        var distinct = new List<RgbImage>(3);
        int IndexOf(RgbImage image)
        {
            var i = distinct.FindIndex(d => SameContent(d, image));
            if (i >= 0) return i;
            distinct.Add(image);
            return distinct.Count - 1;
        }
        int fi = IndexOf(face), si = IndexOf(shape), ci = IndexOf(color);
        var mixing = distinct.Count > 1 ? (float)m.Mixing : 0f;
        var timings = new List<StepTiming>(4);
        var watch = Stopwatch.StartNew();

        var embedded = distinct.Select(image => Embed(chain, image, mixing, ct)).ToArray();
        Interlocked.Add(ref _imagesEmbedded, distinct.Count);
        timings.Add(new StepTiming(Steps.HairEmbedding, Lap(watch)));

        var (ef, es, ec) = (embedded[fi], embedded[si], embedded[ci]);
        StageTensor fAlign, hairShape, hairTarget;
        if (si == fi)
        {
            (fAlign, hairShape) = (ef.F, ef.HairMask);
        }
        else
        {
            var aligned = AlignTo(chain, ef, es, ct);
            (fAlign, hairShape) = (aligned["latent_f_align"], aligned["target_hair_mask"]);
        }
        hairTarget = ci == si ? hairShape : ci == fi ? ef.HairMask : AlignTo(chain, ef, ec, ct)["target_hair_mask"];
        timings.Add(new StepTiming(Steps.HairShape, Lap(watch)));

        var latents = fi == si && fi == ci ? ef.S : chain.Run(Blend, new Dictionary<string, StageTensor>
        {
            ["face_image"] = ef.Image, ["color_image"] = ec.Image, ["face_latent_s"] = ef.S, ["color_latent_s"] = ec.S,
            ["face_labels"] = ef.Labels, ["color_labels"] = ec.Labels, ["target_hair_mask"] = hairTarget,
        }, ct)["latent_s_blend"];
        timings.Add(new StepTiming(Steps.HairBlend, Lap(watch)));

        var synthesis = WithNoise(chain, Synthesis, new Dictionary<string, StageTensor> { ["latent_s"] = latents, ["latent_f"] = fAlign });
        var image = chain.Run(Synthesis, synthesis, ct)["image"];
        timings.Add(new StepTiming(Steps.HairSynthesis, Lap(watch)));

        return new HairTransferResult(ToImage(image, m.Resolution), HairMask(ef.HairMask, hairShape, m.MaskSize, m.Resolution), timings, chain.Provider, m.Id);
    }

    private Embedded Embed(HairChain chain, RgbImage rgb, float mixing, CancellationToken ct)
    {
        var image = ToTensor(rgb);
        var parsed = chain.Run(Parsing, new Dictionary<string, StageTensor> { ["image"] = image }, ct);
        var inputs = WithNoise(chain, Embedding, new Dictionary<string, StageTensor>
        {
            ["image"] = image, ["hair_mask"] = parsed["hair_mask"], ["mixing"] = StageTensor.Float([mixing], 1),
        });
        var e = chain.Run(Embedding, inputs, ct);
        return new Embedded(image, parsed["labels"], parsed["hair_mask"], e["latent_w"], e["latent_s"], e["latent_f"]);
    }

    private static IReadOnlyDictionary<string, StageTensor> AlignTo(HairChain chain, Embedded face, Embedded reference, CancellationToken ct) =>
        chain.Run(Shape, new Dictionary<string, StageTensor>
        {
            ["face_labels"] = face.Labels, ["face_latent_f"] = face.F, ["shape_labels"] = reference.Labels, ["shape_latent_f"] = reference.F,
        }, ct);

    /// <summary>Adds the stage's <c>noise_k</c> inputs (the k-th map of the seeded noise) to its other inputs.</summary>
    private Dictionary<string, StageTensor> WithNoise(HairChain chain, string stage, Dictionary<string, StageTensor> inputs)
    {
        var noise = _noise!;
        foreach (var spec in chain.Manifest.Stage(stage).Inputs.Where(i => i.Name.StartsWith("noise_", StringComparison.Ordinal)))
        {
            var k = int.Parse(spec.Name.AsSpan("noise_".Length), System.Globalization.CultureInfo.InvariantCulture);
            var r = chain.Manifest.Noise.Sizes[k];
            inputs[spec.Name] = StageTensor.Float(noise[k], 1, 1, r, r);
        }
        return inputs;
    }

    internal static bool SameContent(RgbImage a, RgbImage b) =>
        ReferenceEquals(a, b) || (a.Width == b.Width && a.Height == b.Height && a.Pixels.AsSpan().SequenceEqual(b.Pixels));

    /// <summary>Interleaved RGB bytes -> [1, 3, H, W] float32 in [0, 1] (x / 255, as torchvision's to_tensor).</summary>
    internal static StageTensor ToTensor(RgbImage image)
    {
        var plane = image.Width * image.Height;
        var data = new float[3 * plane];
        var px = image.Pixels;
        for (var i = 0; i < plane; i++)
        {
            data[i] = px[3 * i] / 255f;
            data[plane + i] = px[3 * i + 1] / 255f;
            data[2 * plane + i] = px[3 * i + 2] / 255f;
        }
        return StageTensor.Float(data, 1, 3, image.Height, image.Width);
    }

    private static RgbImage ToImage(StageTensor image, int size)
    {
        var plane = size * size;
        var data = image.Floats!;
        var pixels = new byte[3 * plane];
        for (var i = 0; i < plane; i++)
            for (var c = 0; c < 3; c++)
                pixels[3 * i + c] = (byte)Math.Clamp(MathF.Round(data[c * plane + i] * 255f), 0f, 255f);
        return new RgbImage(size, size, pixels);
    }

    /// <summary>
    /// Where the hair changes: the union of the face's own hair and the target hair (as HairFastGAN's Poisson
    /// post-blend masks both), nearest-upsampled from the mask size to the image size, 0 or 1.
    /// </summary>
    private static float[] HairMask(StageTensor faceHair, StageTensor targetHair, int maskSize, int size)
    {
        var step = size / maskSize;
        var a = faceHair.Floats!;
        var b = targetHair.Floats!;
        var mask = new float[size * size];
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
            {
                var j = y / step * maskSize + x / step;
                mask[y * size + x] = Math.Max(a[j], b[j]) > 0.5f ? 1f : 0f;
            }
        return mask;
    }

    private static double Lap(Stopwatch watch)
    {
        var seconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        return seconds;
    }

    public void Dispose() => _chain?.Dispose();
}
