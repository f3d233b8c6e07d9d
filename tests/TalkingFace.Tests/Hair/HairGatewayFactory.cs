using System.Net;
using OpenCvSharp;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Hair;

/// <summary>
/// A standalone gateway whose model store holds the shared YOLOv8-face detector (copied to the temporary store,
/// never into the repository) and the repository's demo hair chain (<c>models/hairfast</c>).
/// </summary>
public sealed class HairGatewayFactory : StandaloneGatewayFactory
{
    public HairGatewayFactory()
    {
        HairTestKit.InstallYoloDetector(ModelsRoot);
        CopyFolder(Path.Combine(TestPaths.RepoRoot, "models", "hairfast"), Path.Combine(ModelsRoot, "hairfast"));
    }

    internal static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}

/// <summary>HTTP helpers for hair jobs.</summary>
public static class HairApi
{
    public static async Task<JobView> SubmitHairAsync(this HttpClient client, string facePath, params (string Field, string Value)[] fields)
    {
        using var form = GatewayApi.Form([("face", Path.GetFileName(facePath), await File.ReadAllBytesAsync(facePath))], fields);
        using var response = await client.PostAsync("/api/jobs/hair", form);
        return await response.ReadJobAsync(HttpStatusCode.Accepted);
    }

    public static async Task<byte[]> ArtifactBytesAsync(this HttpClient client, Guid job, string name)
    {
        using var response = await client.GetAsync($"/api/jobs/{job}/artifacts/{name}?redirect=false");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    public static Mat DecodePng(byte[] png)
    {
        var image = Cv2.ImDecode(png, ImreadModes.Color);
        Assert.False(image.Empty(), "not a decodable image");
        return image;
    }
}
