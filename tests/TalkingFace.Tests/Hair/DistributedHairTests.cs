using System.Text.Json;
using TalkingFace.Contracts;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Hair;

/// <summary>
/// Hair jobs on the real services: gateway (PostgreSQL, RabbitMQ, S3) and a hair worker in its own host. The gallery
/// is seeded into the test's bucket by the gateway; only the gallery ids travel to the worker, which reads the
/// references from S3.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class DistributedHairTests(DistributedServices services) : IDisposable
{
    private readonly TempFolder _models = new();

    public void Dispose() => _models.Dispose();

    private async Task<DistributedPipeline> PipelineAsync()
    {
        HairTestKit.InstallYoloDetector(_models.Path);
        HairGatewayFactory.CopyFolder(Path.Combine(TestPaths.RepoRoot, "models", "hairfast"), Path.Combine(_models.Path, "hairfast"));
        return await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Models:Root"] = _models.Path,
            ["Inference:OptimizedModelCache"] = "",
        });
    }

    [Fact]
    public async Task A_hair_job_with_gallery_shape_and_color_ends_with_the_three_images_in_S3()
    {
        await using var pipeline = await PipelineAsync();
        var client = pipeline.Gateway();
        await DistributedPipeline.WaitUntilReadyAsync(client);
        await pipeline.StartHairWorkerAsync("hair-worker-1");

        var submitted = await client.SubmitHairAsync(HairTestKit.OneFace, ("mode", "both"), ("shapeId", "curly-auburn"), ("colorId", "wavy-platinum"));
        var job = await DistributedPipeline.WaitForAsync(client, submitted.Id, DistributedPipeline.IsTerminal);

        Assert.True(job.State == "succeeded", job.Reason);
        var stage = Assert.Single(job.Stages);
        Assert.Equal("hair-worker-1", stage.WorkerId);
        Assert.Contains(stage.Timings, t => t.Step == Steps.FaceDetection);
        Assert.Contains(stage.Timings, t => t.Step == Steps.PasteBack);
        using var aligned = HairApi.DecodePng(await pipeline.ReadObjectAsync(ArtifactNames.Key(job.Id, Stages.Hair, ArtifactNames.AlignedFace)));
        using var result = HairApi.DecodePng(await pipeline.ReadObjectAsync(ArtifactNames.Key(job.Id, Stages.Hair, ArtifactNames.HairResult)));
        using var pasted = HairApi.DecodePng(await pipeline.ReadObjectAsync(ArtifactNames.Key(job.Id, Stages.Hair, ArtifactNames.PastedPhoto)));
        Assert.Equal(aligned.Size(), result.Size());
        Assert.Equal((800, 1066), (pasted.Width, pasted.Height));
        // the gallery lives in the same bucket, seeded by the gateway
        Assert.NotEmpty(await pipeline.ReadObjectAsync(GalleryKeys.Image("curly-auburn")));
    }

    [Fact]
    public async Task Two_faces_and_the_gorilla_fail_with_their_reasons()
    {
        await using var pipeline = await PipelineAsync();
        var client = pipeline.Gateway();
        await DistributedPipeline.WaitUntilReadyAsync(client);
        await pipeline.StartHairWorkerAsync("hair-worker-1");

        var two = await client.SubmitHairAsync(HairTestKit.TwoFaces, ("mode", "shape"), ("shapeId", "bob-black"));
        var gorilla = await client.SubmitHairAsync(HairTestKit.Gorilla, ("mode", "color"), ("colorId", "bun-rose"));
        var twoDone = await DistributedPipeline.WaitForAsync(client, two.Id, DistributedPipeline.IsTerminal);
        var gorillaDone = await DistributedPipeline.WaitForAsync(client, gorilla.Id, DistributedPipeline.IsTerminal);

        Assert.Equal("failed", twoDone.State);
        Assert.Contains("2 faces found in the photo", twoDone.Reason);
        Assert.Equal("failed", gorillaDone.State);
        Assert.Contains("no human face found in the photo", gorillaDone.Reason);
        var report = JsonDocument.Parse(await pipeline.ReadObjectAsync(ArtifactNames.Key(two.Id, Stages.Hair, ArtifactNames.Detections))).RootElement;
        Assert.Equal(2, report.GetProperty("faces").GetArrayLength());
    }
}
