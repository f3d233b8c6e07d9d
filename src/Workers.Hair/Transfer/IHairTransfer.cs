using TalkingFace.Contracts;
using TalkingFace.Workers.Hair.Imaging;

namespace TalkingFace.Workers.Hair.Transfer;

/// <summary>Hair modes as HairFastGAN defines them: shape-only uses the shape reference for color too; color-only keeps the face's own shape.</summary>
public static class HairModes
{
    public const string Shape = "shape";
    public const string Color = "color";
    public const string Both = "both";

    public static readonly IReadOnlyList<string> All = [Shape, Color, Both];
}

/// <summary>
/// One hair transfer on FFHQ-aligned square images at <see cref="IHairTransfer.Resolution"/>.
/// <paramref name="Shape"/> is required for shape/both, <paramref name="Color"/> for color/both.
/// </summary>
public sealed record HairTransferRequest(RgbImage Face, RgbImage? Shape, RgbImage? Color, string Mode);

/// <summary>
/// The synthesised aligned image, its hair mask (Resolution x Resolution, row-major, 0..1) for
/// the paste-back, per-step timings (<see cref="Steps"/>: embed, shape, blend, synthesis) and what ran it.
/// </summary>
public sealed record HairTransferResult(RgbImage Image, float[] HairMask, IReadOnlyList<StepTiming> Timings, string Provider, string Model);

/// <summary>The HairFastGAN inference chain (encoders, face parsing, shape alignment, color blending, synthesis) behind one call.</summary>
public interface IHairTransfer
{
    /// <summary>Side of the square aligned images the chain takes and returns.</summary>
    int Resolution { get; }

    Task<HairTransferResult> TransferAsync(HairTransferRequest request, CancellationToken ct);
}
