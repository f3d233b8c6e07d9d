using System.Text.Json;
using TalkingFace.Models;

namespace TalkingFace.Workers.Hair.Transfer;

/// <summary>
/// <c>manifest.json</c> of a hair transfer chain (task <c>hair-transfer</c>, written by <c>tools/models/build_hair.py</c>):
/// the usual model fields (its <c>file</c> is the last stage, for tools that read one file per manifest) plus every
/// stage's file, sha256, size and tensors, the image and mask sizes, the latent layout and the noise maps.
/// </summary>
public sealed record HairChainManifest
{
    public const string TaskName = "hair-transfer";
    public static readonly IReadOnlyList<string> StageNames = [Parsing, Embedding, Shape, Blend, Synthesis];
    public const string Parsing = "parsing";
    public const string Embedding = "embedding";
    public const string Shape = "shape";
    public const string Blend = "blend";
    public const string Synthesis = "synthesis";

    public required string Name { get; init; }
    public required string Version { get; init; }
    public required string Task { get; init; }
    public bool Demo { get; init; }
    public string? Licence { get; init; }
    public string? Source { get; init; }
    public int Resolution { get; init; }
    public int MaskSize { get; init; }
    public required HairLatentLayout Latents { get; init; }
    public required HairFeatureSpace FSpace { get; init; }
    public double Mixing { get; init; }
    public int HairLabel { get; init; } = 13;
    public required HairNoiseSpec Noise { get; init; }
    public IReadOnlyList<HairStageSpec> Stages { get; init; } = [];

    public string Id => $"{Name}@{Version}";

    public HairStageSpec Stage(string name) =>
        Stages.FirstOrDefault(s => s.Name == name) ?? throw new ModelStoreException($"{Id}: the manifest has no '{name}' stage");

    public static HairChainManifest Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<HairChainManifest>(File.ReadAllText(path), ModelManifest.Json)
                ?? throw new ModelStoreException($"{path} is empty");
        }
        catch (JsonException e)
        {
            throw new ModelStoreException($"{path} is not a valid hair chain manifest: {e.Message}");
        }
    }
}

/// <param name="Count">W+ / S latents (18 at 1024).</param>
/// <param name="BlendFrom">Blending keeps the face's latents below this index.</param>
public sealed record HairLatentLayout(int Count, int Dim, int BlendFrom);

/// <summary>HairFastGAN's F space: the generator's output after layer <paramref name="Layer"/> (Channels x Size x Size).</summary>
public sealed record HairFeatureSpace(int Channels, int Size, int Layer);

public sealed record HairNoiseSpec(string Algorithm, ulong Seed, IReadOnlyList<int> Sizes);

public sealed record HairStageSpec(string Name, string File, string Sha256, long SizeBytes, IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs);
