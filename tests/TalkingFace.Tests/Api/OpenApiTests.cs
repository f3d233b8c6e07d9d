using System.Net;
using System.Text.Json;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Api;

/// <summary>The OpenAPI document describes the endpoints the page and the CLI use, and its browsable UI is served.</summary>
public sealed class OpenApiTests
{
    [Fact]
    public async Task The_document_lists_the_page_and_cli_endpoints_and_the_reference_ui_is_served()
    {
        await using var factory = new StandaloneGatewayFactory();
        using var client = factory.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var paths = document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        foreach (var path in new[] { "/api/jobs/talking-face", "/api/jobs/{id}/events", "/api/batches", "/api/batches/{id}", "/api/models", "/api/fleet/workers" })
            Assert.Contains(path, paths);
        var events = document.RootElement.GetProperty("paths").GetProperty("/api/jobs/{id}/events").GetProperty("get");
        Assert.True(events.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("text/event-stream", out _));

        using var ui = await client.GetAsync("/scalar/v1");
        Assert.Equal(HttpStatusCode.OK, ui.StatusCode);
        Assert.Contains("text/html", ui.Content.Headers.ContentType?.ToString());
    }
}
