using System.Reflection;
using System.Text.Json;
using TalkingFace.Contracts;
using TalkingFace.Storage;

namespace TalkingFace.Gateway.Gallery;

/// <summary>What a gallery item can be used for.</summary>
public static class GalleryUses
{
    public const string Shape = "shape";
    public const string Color = "color";
}

/// <summary>One entry of the gallery's index (<c>gallery/index.json</c> in the artifact store).</summary>
public sealed record GalleryEntry(string Id, string Name, IReadOnlyList<string> Uses, bool Demo = false, string? Description = null);

/// <summary>An item as the API lists it.</summary>
public sealed record GalleryItemView(string Id, string Name, IReadOnlyList<string> Uses, string ThumbnailUrl, string ImageUrl);

/// <summary>
/// The hair gallery: pre-aligned shape and color references kept in the artifact store with a JSON index (no
/// database table). The demo items shipped in this assembly (drawn by <c>tools/gallery/make_gallery.py</c>) are
/// written to the store when missing; items others put in the index are kept. The index is cached briefly.
/// </summary>
public sealed class GalleryCatalog(IArtifactStore store, ILogger<GalleryCatalog> logger)
{
    private const string ResourcePrefix = "gallery/";
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly SemaphoreSlim _seedGate = new(1, 1);
    private volatile bool _seeded;
    private volatile IReadOnlyList<GalleryEntry>? _cached;
    private DateTimeOffset _cachedAt;

    /// <summary>Writes the shipped demo items and their index entries to the store where they are missing.</summary>
    public async Task EnsureSeededAsync(CancellationToken ct)
    {
        if (_seeded) return;
        await _seedGate.WaitAsync(ct);
        try
        {
            if (_seeded) return;
            await store.EnsureReadyAsync(ct);
            var shipped = ReadShippedIndex();
            foreach (var entry in shipped)
            {
                await PutIfMissingAsync(GalleryKeys.Image(entry.Id), $"{entry.Id}.png", ct);
                await PutIfMissingAsync(GalleryKeys.Thumbnail(entry.Id), $"{entry.Id}.thumb.png", ct);
            }
            var current = await ReadStoredIndexAsync(ct) ?? [];
            var missing = shipped.Where(s => current.All(c => c.Id != s.Id)).ToList();
            if (missing.Count > 0 || current.Count == 0)
            {
                var merged = current.Concat(missing).ToList();
                await store.PutAsync(GalleryKeys.Index, "index.json", new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(merged, Json)), "application/json", ct);
                logger.LogInformation("Gallery: seeded {Count} demo item(s) into the artifact store", missing.Count);
            }
            _cached = null;
            _seeded = true;
        }
        finally
        {
            _seedGate.Release();
        }
    }

    /// <summary>Every item in the index.</summary>
    public async Task<IReadOnlyList<GalleryEntry>> ListAsync(CancellationToken ct)
    {
        if (_cached is { } cached && DateTimeOffset.UtcNow - _cachedAt < CacheLifetime) return cached;
        await EnsureSeededAsync(ct);
        var entries = await ReadStoredIndexAsync(ct) ?? [];
        _cached = entries;
        _cachedAt = DateTimeOffset.UtcNow;
        return entries;
    }

    public async Task<GalleryEntry?> FindAsync(string id, CancellationToken ct) =>
        (await ListAsync(ct)).FirstOrDefault(e => e.Id == id);

    public Task<Stream> OpenAsync(string key, CancellationToken ct) => store.OpenReadAsync(key, ct);

    private async Task<List<GalleryEntry>?> ReadStoredIndexAsync(CancellationToken ct)
    {
        if (!await store.ExistsAsync(GalleryKeys.Index, ct)) return null;
        await using var stream = await store.OpenReadAsync(GalleryKeys.Index, ct);
        try
        {
            var entries = await JsonSerializer.DeserializeAsync<List<GalleryEntry>>(stream, Json, ct) ?? [];
            return [.. entries.Where(e => GalleryKeys.IsValidId(e.Id))];
        }
        catch (JsonException e)
        {
            logger.LogError("Gallery index {Key} is not valid JSON: {Reason}", GalleryKeys.Index, e.Message);
            return [];
        }
    }

    private async Task PutIfMissingAsync(string key, string resource, CancellationToken ct)
    {
        if (await store.ExistsAsync(key, ct)) return;
        await using var content = OpenResource(resource);
        await store.PutAsync(key, Path.GetFileName(key), content, "image/png", ct);
    }

    internal static IReadOnlyList<GalleryEntry> ReadShippedIndex()
    {
        using var stream = OpenResource("gallery.json");
        return JsonSerializer.Deserialize<List<GalleryEntry>>(stream, Json) ?? [];
    }

    private static Stream OpenResource(string name) =>
        Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourcePrefix + name)
        ?? throw new InvalidOperationException($"the gateway assembly has no embedded gallery resource '{name}'");
}

/// <summary>Seeds the gallery at gateway start; a store that is not reachable yet is retried on the first gallery request.</summary>
internal sealed class GallerySeeder(GalleryCatalog catalog, ILogger<GallerySeeder> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken ct)
    {
        try
        {
            await catalog.EnsureSeededAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Gallery could not be seeded at start; the first gallery request tries again");
        }
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
