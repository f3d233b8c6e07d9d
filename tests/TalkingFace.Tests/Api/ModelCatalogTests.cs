using System.Text.Json;
using TalkingFace.Tests.Browser;

namespace TalkingFace.Tests.Api;

/// <summary>GET /api/models lists the gateway's model store, read from the manifests.</summary>
public sealed class ModelCatalogTests
{
    [Fact]
    public async Task The_catalog_lists_the_repository_models_from_their_manifests()
    {
        await using var factory = new LiveGatewayFactory();
        using var client = factory.CreateClient();

        using var doc = JsonDocument.Parse(await client.GetStringAsync("/api/models"));
        var models = doc.RootElement.EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);

        var repoModels = Directory.GetDirectories(Path.Combine(Infrastructure.TestPaths.RepoRoot, "models")).Select(Path.GetFileName).Order();
        Assert.Equal(repoModels, models.Keys.Order());
        var fast = models["fast-hubert-int8"];
        Assert.Equal("audio-features", fast.GetProperty("task").GetString());
        Assert.Equal("int8", fast.GetProperty("precision").GetString());
        Assert.Equal(768, fast.GetProperty("featureDim").GetInt32());
        Assert.Equal(["geneface-a2m-fast", "geneface-a2m-fast-fp16"], fast.GetProperty("readBy").EnumerateArray().Select(e => e.GetString()).Order()); // the fp16 variant reads the same features
        Assert.Equal("fp16", models["fast-hubert-fp16"].GetProperty("precision").GetString());
        var a2m = models["geneface-a2m"];
        Assert.Equal("audio-to-motion", a2m.GetProperty("task").GetString());
        Assert.Equal(["hubert-large", "hubert-large-int8"], a2m.GetProperty("accepts").EnumerateArray().Select(e => e.GetString()));
        Assert.All(models.Values, m => Assert.True(m.GetProperty("demo").GetBoolean())); // every model in the repository is a demo model
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Directory.GetFiles(
            Path.Combine(Infrastructure.TestPaths.RepoRoot, "models", "fast-hubert-int8"), "manifest.json", SearchOption.AllDirectories).Single()));
        Assert.Equal(manifest.RootElement.GetProperty("sizeBytes").GetInt64(), fast.GetProperty("sizeBytes").GetInt64());
    }
}
