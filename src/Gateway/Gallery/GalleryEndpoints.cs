using TalkingFace.Contracts;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Storage;

namespace TalkingFace.Gateway.Gallery;

public static class GalleryEndpoints
{
    public static IHostApplicationBuilder AddGallery(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<GalleryCatalog>();
        builder.Services.AddHostedService<GallerySeeder>();
        return builder;
    }

    public static IEndpointRouteBuilder MapGallery(this IEndpointRouteBuilder app)
    {
        var gallery = app.MapGroup("/gallery").WithTags("Gallery");
        gallery.MapGet("/", List).WithSummary("Pre-aligned hair references (shape and/or color) to pick by id in a hair job");
        gallery.MapGet("/{id}/thumbnail", (string id, GalleryCatalog catalog, CancellationToken ct) => Image(id, thumbnail: true, catalog, ct))
            .WithSummary("A gallery item's thumbnail (PNG)");
        gallery.MapGet("/{id}/image", (string id, GalleryCatalog catalog, CancellationToken ct) => Image(id, thumbnail: false, catalog, ct))
            .WithSummary("A gallery item's pre-aligned image (PNG)");
        return app;
    }

    private static async Task<IResult> List(GalleryCatalog catalog, CancellationToken ct)
    {
        var items = await catalog.ListAsync(ct);
        return TypedResults.Ok(items.Select(e => new GalleryItemView(e.Id, e.Name, e.Uses, $"/api/gallery/{e.Id}/thumbnail", $"/api/gallery/{e.Id}/image")).ToList());
    }

    private static async Task<IResult> Image(string id, bool thumbnail, GalleryCatalog catalog, CancellationToken ct)
    {
        if (!GalleryKeys.IsValidId(id) || await catalog.FindAsync(id, ct) is null)
            return Problems.NotFound($"There is no gallery item '{id}'.");
        try
        {
            var stream = await catalog.OpenAsync(thumbnail ? GalleryKeys.Thumbnail(id) : GalleryKeys.Image(id), ct);
            return TypedResults.Stream(stream, "image/png");
        }
        catch (ArtifactNotFoundException)
        {
            return Problems.NotFound($"Gallery item '{id}' is listed but its {(thumbnail ? "thumbnail" : "image")} is not in the store.");
        }
    }
}
