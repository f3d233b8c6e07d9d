using System.Text.Json;
using TalkingFace.Gateway.Pipeline;
using TalkingFace.Models;

namespace TalkingFace.Gateway.Catalog;

/// <summary>One model in the store, as <c>GET /api/models</c> lists it.</summary>
/// <param name="Accepts">For an audio-to-motion model: the feature models it reads.</param>
/// <param name="ReadBy">For a feature model: the audio-to-motion models that read its features (the first is the default).</param>
/// <param name="Demo">True for fixed-seed weights: real architecture, meaningless numbers.</param>
/// <param name="Problem">Why the manifest could not be read, when it could not; the other fields are then what the folder says.</param>
public sealed record ModelView(
    string Name,
    string Version,
    string? Task,
    string? Architecture,
    string? Precision,
    long? SizeBytes,
    bool Demo,
    int? FeatureDim,
    double? FrameRate,
    IReadOnlyList<string> Accepts,
    IReadOnlyList<string> ReadBy,
    string? Licence,
    string? Source,
    string? Problem);

/// <summary><c>GET /api/models</c>: the model catalog of the gateway's model store (<c>Models:Root</c>).</summary>
public static class ModelEndpoints
{
    public static IEndpointRouteBuilder MapModels(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/models").WithTags("Models")
            .MapGet("/", (ModelCatalog catalog, MotionModelContracts motion) => List(catalog, motion))
            .WithSummary("The models in the gateway's model store: task, precision, size, demo or not, and which feature model each motion model reads")
            .WithDescription("Workers have their own model stores; a job asking for a model its worker lacks fails with 'not configured'. " +
                             "This lists what the gateway sees, which in the usual deployment is the same store.");
        return app;
    }

    public static List<ModelView> List(ModelCatalog catalog, MotionModelContracts motion)
    {
        var models = new List<ModelView>();
        foreach (var location in catalog.All().OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            try
            {
                var manifest = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(location.ManifestPath), ModelManifest.Json)
                               ?? throw new JsonException("empty manifest");
                var accepts = motion.Accepts.TryGetValue(location.Name, out var a) && manifest.Task == "audio-to-motion" ? a : [];
                var readBy = motion.Accepts.Where(m => m.Value.Contains(location.Name, StringComparer.Ordinal))
                    .Select(m => m.Key).Order(StringComparer.Ordinal).ToList();
                models.Add(new ModelView(location.Name, manifest.Version, manifest.Task, manifest.Architecture, manifest.Precision,
                    manifest.SizeBytes, manifest.Demo, manifest.Output?.FeatureDim, manifest.Output?.FrameRate, accepts, readBy,
                    manifest.Licence, manifest.Source, null));
            }
            catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
            {
                models.Add(new ModelView(location.Name, location.Version, null, null, null, null, false, null, null, [], [], null, null,
                    $"the manifest cannot be read: {e.Message}"));
            }
        }
        return models;
    }
}
