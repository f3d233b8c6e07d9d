using System.Net;
using System.Text.Json;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Hair;

/// <summary>The gallery API contract the page codes against, and gallery ids on hair submit.</summary>
public sealed class GalleryApiTests : IAsyncLifetime
{
    private readonly StandaloneGatewayFactory _factory = new();
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task Gallery_lists_the_seeded_demo_items_with_their_urls()
    {
        using var response = await _client.GetAsync("/api/gallery");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var items = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(JsonValueKind.Array, items.ValueKind);
        Assert.True(items.GetArrayLength() >= 6);
        foreach (var item in items.EnumerateArray())
        {
            var id = item.GetProperty("id").GetString()!;
            Assert.StartsWith("Demo", item.GetProperty("name").GetString());
            Assert.All(item.GetProperty("uses").EnumerateArray(), u => Assert.Contains(u.GetString(), new[] { "shape", "color" }));
            Assert.Equal($"/api/gallery/{id}/thumbnail", item.GetProperty("thumbnailUrl").GetString());
            Assert.Equal($"/api/gallery/{id}/image", item.GetProperty("imageUrl").GetString());
            Assert.Equal(5, item.EnumerateObject().Count()); // exactly the contract's fields
        }
        var uses = items.EnumerateArray().SelectMany(i => i.GetProperty("uses").EnumerateArray().Select(u => u.GetString())).ToHashSet();
        Assert.Equal(["color", "shape"], uses.Order());
    }

    [Fact]
    public async Task Image_and_thumbnail_are_png_and_unknown_ids_are_404_problems()
    {
        foreach (var (path, side) in new[] { ("/api/gallery/bob-black/image", 256), ("/api/gallery/bob-black/thumbnail", 128) })
        {
            using var response = await _client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
            using var image = HairApi.DecodePng(await response.Content.ReadAsByteArrayAsync());
            Assert.Equal((side, side), (image.Width, image.Height));
        }
        foreach (var path in new[] { "/api/gallery/no-such-item/image", "/api/gallery/no-such-item/thumbnail", "/api/gallery/..%2Findex.json/image" })
        {
            using var response = await _client.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task Hair_submit_refuses_unknown_and_wrong_use_gallery_ids_naming_them()
    {
        var face = await File.ReadAllBytesAsync(HairTestKit.OneFace);
        using (var form = GatewayApi.Form([("face", "a.jpg", face)], ("mode", "both"), ("shapeId", "no-such-cut"), ("colorId", "pixie-brown")))
        using (var response = await _client.PostAsync("/api/jobs/hair", form))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
            Assert.Contains("no-such-cut", errors.GetProperty("shapeId")[0].GetString());
            Assert.Contains("not a color reference", errors.GetProperty("colorId")[0].GetString()); // pixie-brown is shape-only
        }
        var before = await _client.CountJobsAsync();
        Assert.Equal(0, before);
    }
}
