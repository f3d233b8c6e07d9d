using System.Text.Json;
using TalkingFace.Models;

namespace TalkingFace.Gateway.Pipeline;

/// <summary>
/// Which feature models each audio-to-motion model accepts, so a mismatch is refused at submit time rather
/// than failing in a worker. Read from the <c>accepts.featureModels</c> of the audio-to-motion manifests the
/// gateway can see in its model store, over the built-in contracts of the models <c>tools/models</c> makes.
/// </summary>
public sealed class MotionModelContracts(ModelCatalog catalog, ILogger<MotionModelContracts> logger)
{
    /// <summary>GeneFace++'s network reads HuBERT-large (1024-d, 50 Hz); its Fast-HuBERT variant reads 768-d at 25 Hz.</summary>
    private static readonly Dictionary<string, string[]> BuiltIn = new()
    {
        ["geneface-a2m"] = ["hubert-large", "hubert-large-int8"],
        ["geneface-a2m-fast"] = ["fast-hubert", "fast-hubert-int8"],
    };

    private readonly Lazy<IReadOnlyDictionary<string, string[]>> _accepts = new(() => Load(catalog, logger));

    public IReadOnlyDictionary<string, string[]> Accepts => _accepts.Value;

    /// <summary>The first motion model that accepts the feature model, or null when none does.</summary>
    public string? DefaultFor(string featureModel) =>
        Accepts.Where(a => a.Value.Contains(featureModel, StringComparer.Ordinal)).Select(a => a.Key).Order(StringComparer.Ordinal).FirstOrDefault();

    public bool Fits(string motionModel, string featureModel) =>
        Accepts.TryGetValue(motionModel, out var accepted) && accepted.Contains(featureModel, StringComparer.Ordinal);

    /// <summary>"geneface-a2m takes hubert-large, hubert-large-int8; ..." for error messages.</summary>
    public string Describe() => string.Join("; ", Accepts.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key} takes {string.Join(", ", a.Value)}"));

    private static IReadOnlyDictionary<string, string[]> Load(ModelCatalog catalog, ILogger logger)
    {
        var accepts = new Dictionary<string, string[]>(BuiltIn, StringComparer.Ordinal);
        foreach (var location in catalog.All())
        {
            try
            {
                using var manifest = JsonDocument.Parse(File.ReadAllText(location.ManifestPath));
                var root = manifest.RootElement;
                if (root.TryGetProperty("task", out var task) && task.GetString() == "audio-to-motion"
                    && root.TryGetProperty("accepts", out var a) && a.TryGetProperty("featureModels", out var models))
                {
                    accepts[location.Name] = [.. models.EnumerateArray().Select(m => m.GetString()!).Where(m => m is not null)];
                }
            }
            catch (Exception e) when (e is JsonException or IOException or InvalidOperationException)
            {
                logger.LogWarning("Ignoring the manifest {Path}: {Reason}", location.ManifestPath, e.Message);
            }
        }
        return accepts;
    }
}
