using System.Text.Json;
using TalkingFace.Models;

namespace TalkingFace.Workers.Motion.AudioToMotion;

/// <summary>A file beside the model, with the sha256 the manifest promises for it.</summary>
public sealed record ModelAsset(string File, string Sha256);

/// <summary>How a 50 Hz F0 track becomes the model's 25 Hz one.</summary>
public enum F0Downsampling
{
    /// <summary>Keep every other value (frame 2i), as a stride-2 slice does.</summary>
    EveryOther,

    /// <summary>The mean of the voiced values of each pair (2i, 2i+1); 0 when neither is voiced.</summary>
    MeanOfVoicedPairs,
}

/// <summary>
/// What an audio-to-motion manifest says beyond <see cref="ModelManifest"/>: which GeneFace++ class the weights are,
/// the features it accepts, its latent, how F0 is brought to its rate (when it takes F0), the frame multiple it needs,
/// and the landmark assets. Written by <c>tools/models</c>:
/// <code>
/// "variant": "PitchContourVAEModel" | "VAEModel",
/// "accepts": {"featureModels": [...], "featureDim": 1024, "featureRate": 50},
/// "latent": {"channels": 16, "downsample": 4, "temperature": 0.2},
/// "f0": {"rate": 25, "fromRate": 50, "method": "..."},   (null for VAEModel, which has no f0 input)
/// "frameMultiple": 8,
/// "assets": {"landmarkMean": {"file", "sha256"}, "landmarkBasis": {"file", "sha256"}}
/// </code>
/// </summary>
public sealed record MotionModelSpec
{
    public const string Task = "audio-to-motion";

    /// <summary>GeneFace++'s PitchContourVAEModel: F0 is an input (the default for manifests without a variant).</summary>
    public const string PitchVariant = "PitchContourVAEModel";
    /// <summary>GeneFace++'s VAEModel (use_pitch false): features, mask and latent only.</summary>
    public const string PlainVariant = "VAEModel";

    /// <summary>The ONNX names of the contract.</summary>
    public const string FeaturesInput = "features";
    public const string F0Input = "f0";
    public const string MaskInput = "mask";
    public const string LatentInput = "z";
    public const string ExpOutput = "exp";

    /// <summary><see cref="PitchVariant"/> or <see cref="PlainVariant"/>.</summary>
    public string Variant { get; init; } = PitchVariant;
    /// <summary>Whether the graph takes the <c>f0</c> input (PitchContourVAEModel) or not (VAEModel).</summary>
    public bool UsesF0 => Variant == PitchVariant;
    /// <summary>The ONNX inputs the model is fed, in order.</summary>
    public IReadOnlyList<string> InputNames => UsesF0 ? [FeaturesInput, F0Input, MaskInput, LatentInput] : [FeaturesInput, MaskInput, LatentInput];

    public IReadOnlyList<string> FeatureModels { get; init; } = [];
    public required int FeatureDim { get; init; }
    /// <summary>Feature frames per second: 50 (HuBERT) or 25 (Fast-HuBERT).</summary>
    public required int FeatureRate { get; init; }
    /// <summary>Motion frames per second (the rate of <c>f0</c>, <c>mask</c> and <c>exp</c>).</summary>
    public int FrameRate { get; init; } = 25;
    public int LatentChannels { get; init; } = 16;
    /// <summary>Motion frames per latent step.</summary>
    public int LatentDownsample { get; init; } = 4;
    public double DefaultTemperature { get; init; } = 0.2;
    /// <summary>Rate of the F0 the audio stage stores.</summary>
    public int F0FromRate { get; init; } = 50;
    public F0Downsampling F0Method { get; init; } = F0Downsampling.EveryOther;
    /// <summary>The model's frame count must be a multiple of this (its down- and up-sampling).</summary>
    public int FrameMultiple { get; init; } = 8;
    /// <summary>Expression coefficients per frame.</summary>
    public int ExpDim { get; init; } = 64;
    public required ModelAsset LandmarkMean { get; init; }
    public required ModelAsset LandmarkBasis { get; init; }

    /// <summary>Feature frames per motion frame: 2 for 50 Hz features, 1 for 25 Hz.</summary>
    public int FeatureFramesPerFrame => FeatureRate / FrameRate;

    /// <summary>Reads the extra fields from the manifest file of <paramref name="model"/>.</summary>
    /// <exception cref="ModelStoreException">A field is missing or does not make sense.</exception>
    public static MotionModelSpec Read(ModelManifest manifest, string manifestPath)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(manifestPath), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelStoreException($"{manifestPath} is not valid JSON: {e.Message}");
        }
        using (document)
        {
            return Parse(manifest, document.RootElement, manifestPath);
        }
    }

    public static MotionModelSpec Parse(ModelManifest manifest, JsonElement root, string where)
    {
        ModelStoreException Bad(string what) => new($"{manifest.Id} ({where}): {what}");
        if (manifest.Task != Task) throw Bad($"task is '{manifest.Task}', not '{Task}'");

        var variant = root.TryGetProperty("variant", out var v) && v.ValueKind != JsonValueKind.Null
            ? (v.ValueKind == JsonValueKind.String ? v.GetString() : v.ToString())
            : PitchVariant;
        if (variant is not (PitchVariant or PlainVariant)) throw Bad($"variant '{variant}' is not {PitchVariant} or {PlainVariant}");
        var listsF0 = manifest.Inputs.Any(i => i.Name == F0Input);
        if (manifest.Inputs.Count > 0 && listsF0 != (variant == PitchVariant))
            throw Bad(variant == PitchVariant ? $"a {PitchVariant} takes an '{F0Input}' input, but the manifest's inputs do not list one"
                                              : $"a {PlainVariant} has no '{F0Input}' input, but the manifest's inputs list one");

        var accepts = Section(root, "accepts") ?? throw Bad("no 'accepts' section (featureDim, featureRate)");
        var latent = Section(root, "latent");
        var f0 = Section(root, "f0");
        var assets = Section(root, "assets") ?? throw Bad("no 'assets' section (landmarkMean, landmarkBasis)");

        var featureDim = Int(accepts, "featureDim") ?? throw Bad("accepts.featureDim is missing");
        var featureRate = Int(accepts, "featureRate") ?? throw Bad("accepts.featureRate is missing");
        var frameRate = manifest.Output is { FrameRate: > 0 } o ? (int)Math.Round(o.FrameRate) : 25;
        if (featureDim <= 0) throw Bad($"accepts.featureDim {featureDim} must be positive");
        if (featureRate <= 0 || featureRate % frameRate != 0) throw Bad($"accepts.featureRate {featureRate} Hz is not a whole multiple of the {frameRate} fps motion rate");

        var channels = (latent is { } l ? Int(l, "channels") : null) ?? 16;
        var downsample = (latent is { } l2 ? Int(l2, "downsample") : null) ?? 4;
        var temperature = (latent is { } l3 ? Double(l3, "temperature") : null) ?? 0.2;
        if (channels <= 0 || downsample <= 0) throw Bad("latent.channels and latent.downsample must be positive");

        var f0Rate = (f0 is { } a ? Int(a, "rate") : null) ?? frameRate;
        var f0From = (f0 is { } b ? Int(b, "fromRate") : null) ?? 50;
        if (f0Rate != frameRate) throw Bad($"f0.rate {f0Rate} Hz differs from the motion rate {frameRate} fps");
        if (f0From != 2 * f0Rate && f0From != f0Rate) throw Bad($"f0.fromRate {f0From} Hz: only {f0Rate} or {2 * f0Rate} Hz tracks can be brought to {f0Rate} Hz");
        var method = ParseMethod(f0 is { } c && c.TryGetProperty("method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null)
            ?? throw Bad($"f0.method '{(f0 is { } d && d.TryGetProperty("method", out var mm) ? mm.ToString() : "")}' is not known (every other value, or mean of voiced pairs)");

        var multiple = Int(root, "frameMultiple") ?? 8;
        if (multiple <= 0 || multiple % downsample != 0) throw Bad($"frameMultiple {multiple} must be a positive multiple of latent.downsample {downsample}");

        return new MotionModelSpec
        {
            Variant = variant,
            FeatureModels = accepts.TryGetProperty("featureModels", out var models) && models.ValueKind == JsonValueKind.Array
                ? [.. models.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!)]
                : [],
            FeatureDim = featureDim,
            FeatureRate = featureRate,
            FrameRate = frameRate,
            LatentChannels = channels,
            LatentDownsample = downsample,
            DefaultTemperature = temperature,
            F0FromRate = f0From,
            F0Method = method,
            FrameMultiple = multiple,
            ExpDim = manifest.Output is { FeatureDim: > 0 } od ? od.FeatureDim : 64,
            LandmarkMean = Asset(assets, "landmarkMean") ?? throw Bad("assets.landmarkMean {file, sha256} is missing"),
            LandmarkBasis = Asset(assets, "landmarkBasis") ?? throw Bad("assets.landmarkBasis {file, sha256} is missing"),
        };
    }

    /// <summary>The names <c>tools/models</c> and GeneFace++'s code use for the two ways of halving F0's rate.</summary>
    public static F0Downsampling? ParseMethod(string? method)
    {
        if (method is null) return F0Downsampling.EveryOther;
        var text = new string([.. method.ToLowerInvariant().Where(char.IsLetterOrDigit)]);
        if (text.Contains("mean") || text.Contains("average") || text.Contains("avg")) return F0Downsampling.MeanOfVoicedPairs;
        if (text.Contains("everyother") || text.Contains("stride") || text.Contains("decimat") || text.Contains("subsampl")
            || text.Contains("skip") || text.Contains("slice") || text.Contains("nearest") || text == "first" || method.Contains("::2", StringComparison.Ordinal))
            return F0Downsampling.EveryOther;
        return null;
    }

    private static JsonElement? Section(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? value : null;

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d == Math.Floor(d) ? (int)d : null;

    private static double? Double(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static ModelAsset? Asset(JsonElement assets, string name)
    {
        if (!assets.TryGetProperty(name, out var a)) return null;
        if (a.ValueKind != JsonValueKind.Object) return null;
        var file = a.TryGetProperty("file", out var f) ? f.GetString() : null;
        var sha = a.TryGetProperty("sha256", out var s) ? s.GetString() : null;
        return string.IsNullOrEmpty(file) || string.IsNullOrEmpty(sha) ? null : new ModelAsset(file, sha);
    }
}
