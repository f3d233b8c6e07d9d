using System.Net;
using Microsoft.EntityFrameworkCore;
using Minio.DataModel.Args;
using Minio.Exceptions;
using TalkingFace.Tests.Infrastructure;

namespace TalkingFace.Tests.Distributed;

/// <summary>Finished jobs past Retention:JobTimeToLive disappear with their objects (real PostgreSQL and S3); unfinished ones stay.</summary>
[Collection(DistributedCollection.Name)]
public sealed class RetentionTests(DistributedServices services)
{
    [Fact]
    public async Task Expired_jobs_lose_their_objects_and_records_together_and_unfinished_jobs_stay()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services, new Dictionary<string, string?>
        {
            ["Retention:JobTimeToLive"] = "00:00:02",
            ["Retention:SweepInterval"] = "00:00:00.500",
        });
        var client = pipeline.Gateway();
        await pipeline.StartAudioWorkerAsync("retention-audio");
        var finished = await DistributedPipeline.SubmitTalkingFaceAsync(client, TestPaths.MacronSpeech);
        var done = await DistributedPipeline.WaitForAsync(client, finished.Id, DistributedPipeline.IsTerminal);
        Assert.NotEmpty(done.Artifacts);
        await using (var db = pipeline.Db())
            Assert.True(await db.Artifacts.CountAsync(a => a.JobId == done.Id) >= 2);
        var keys = await KeysAsync(pipeline, done.Id);

        // A job no worker takes (hair: no hair worker here) never finishes, so it is never expired.
        using var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent(await File.ReadAllBytesAsync(TestPaths.TestData("faces", "one-face-a.jpg"))), "face", "f.jpg");
        form.Add(new ByteArrayContent(await File.ReadAllBytesAsync(TestPaths.TestData("faces", "one-face-a.jpg"))), "shape", "s.jpg");
        form.Add(new StringContent("shape"), "mode");
        using var hair = await client.PostAsync("/api/jobs/hair", form);
        Assert.Equal(HttpStatusCode.Accepted, hair.StatusCode);
        var waiting = (await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<TalkingFace.Gateway.Jobs.JobView>(hair.Content, DistributedPipeline.Json))!;

        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode status;
        do
        {
            await Task.Delay(300);
            using var response = await client.GetAsync($"/api/jobs/{done.Id}");
            status = response.StatusCode;
        }
        while (status != HttpStatusCode.NotFound && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.NotFound, status);

        await using (var db = pipeline.Db())
        {
            Assert.Equal(0, await db.Stages.CountAsync(s => s.JobId == done.Id));
            Assert.Equal(0, await db.Artifacts.CountAsync(a => a.JobId == done.Id));
        }
        using var store = pipeline.Store();
        foreach (var key in keys)
            await Assert.ThrowsAnyAsync<MinioException>(() => store.StatObjectAsync(new StatObjectArgs().WithBucket(pipeline.Bucket).WithObject(key)));
        Assert.Equal("queued", (await DistributedPipeline.WaitForAsync(client, waiting.Id, _ => true)).State);
    }

    private static async Task<List<string>> KeysAsync(DistributedPipeline pipeline, Guid job)
    {
        await using var db = pipeline.Db();
        return await db.Artifacts.Where(a => a.JobId == job).Select(a => a.Key).ToListAsync();
    }
}
