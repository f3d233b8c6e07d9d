using Microsoft.Extensions.Options;

namespace TalkingFace.Models;

/// <summary>Bound from the <c>Models</c> configuration section.</summary>
public sealed class ModelStoreOptions
{
    public const string Section = "Models";

    /// <summary>Folder holding <c>{name}/{version}/manifest.json</c> and the ONNX files.</summary>
    public string Root { get; set; } = "models";
}

/// <summary>A model found in the store: where its manifest is.</summary>
public sealed record ModelLocation(string Name, string Version, string Directory, string ManifestPath);

/// <summary>Finds models in the model store folder. A name with no manifest is "not configured".</summary>
public sealed class ModelCatalog(IOptions<ModelStoreOptions> options)
{
    public string Root { get; } = Path.GetFullPath(options.Value.Root);

    /// <summary>The newest version of <paramref name="name"/> that has a manifest, or null.</summary>
    public ModelLocation? Find(string name)
    {
        if (name.Contains("..", StringComparison.Ordinal) || name.Contains('/') || name.Contains('\\')) return null;
        var folder = Path.Combine(Root, name);
        if (!Directory.Exists(folder)) return null;
        return Directory.EnumerateDirectories(folder)
            .Select(d => new ModelLocation(name, Path.GetFileName(d), d, Path.Combine(d, "manifest.json")))
            .Where(m => File.Exists(m.ManifestPath))
            .OrderByDescending(m => m.Version, StringComparer.Ordinal)
            .FirstOrDefault();
    }

    /// <summary>The newest version of every model in the store.</summary>
    public IEnumerable<ModelLocation> All() =>
        Directory.Exists(Root)
            ? Directory.EnumerateDirectories(Root).Select(d => Find(Path.GetFileName(d))).OfType<ModelLocation>()
            : [];

    public string NotConfigured(string name, string task) =>
        $"{task} model '{name}' is not configured: the model store ({Root}) has no {name}/<version>/manifest.json";
}
