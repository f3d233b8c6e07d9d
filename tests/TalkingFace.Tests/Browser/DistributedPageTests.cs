using Microsoft.Playwright;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Browser;

/// <summary>
/// The page against a distributed gateway, where every job route needs an API key: the page sends its key on fetches
/// and, since EventSource, media and download links cannot send headers, gives them the job's read token.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class DistributedPageTests(BrowserFixture browser, DistributedServices services) : IClassFixture<DistributedServices>
{
    [Fact]
    public async Task The_page_with_an_api_key_follows_a_job_live_and_its_links_open_with_the_jobs_read_token()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        using var api = pipeline.GatewayOnSocket();
        await pipeline.StartAudioWorkerAsync("browser-probe-worker"); // serves probe jobs
        var key = api.DefaultRequestHeaders.Authorization!.Parameter!;
        // The gateway's model store is empty, so the audio stage fails the job: a terminal state with its input listed.
        using var submitted = await api.SubmitTalkingFaceAsync(await File.ReadAllBytesAsync(Path.Combine(TestPaths.RepoRoot, "samples", "hello.wav")), "hello.wav");
        var job = await submitted.ReadJobAsync(System.Net.HttpStatusCode.Accepted);

        var (context, page, errors) = await browser.OpenAsync(api.BaseAddress!);
        await using var _ = context;
        await context.AddInitScriptAsync($"localStorage.setItem('talkingface.apiKey', '{key}');");
        var streams = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Url.Contains("/events", StringComparison.Ordinal)) lock (streams) streams.Add(request.Url);
        };
        await page.GotoAsync($"/#job={job.Id}");

        var panel = page.Locator("#job-panel");
        await Assertions.Expect(panel.Locator("[data-badge] .badge")).ToHaveTextAsync("failed", new() { Timeout = 120_000 });
        lock (streams)
        {
            Assert.NotEmpty(streams);
            Assert.All(streams, url => Assert.Contains($"/api/jobs/{job.Id}/events?access_token=tfs_", url));
            Assert.All(streams, url => Assert.DoesNotContain(key, url)); // the key itself never travels in a URL
        }
        // The job's links carry its read token and open without the key: the input's download and the JSON record.
        var download = await panel.Locator($"[data-artifacts] a[download='{TalkingFace.Contracts.ArtifactNames.InputAudio}']").First.GetAttributeAsync("href");
        Assert.Contains("access_token=tfs_", download);
        Assert.Equal(200, await page.EvaluateAsync<int>("url => fetch(url + '&redirect=false', { credentials: 'omit' }).then(r => r.status)", download));
        var record = await panel.Locator("[data-json]").GetAttributeAsync("href");
        Assert.Equal(200, await page.EvaluateAsync<int>("url => fetch(url, { credentials: 'omit' }).then(r => r.status)", record));
        lock (errors) Assert.Empty(errors);
    }
}
