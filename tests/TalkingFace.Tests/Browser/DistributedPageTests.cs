using Microsoft.Playwright;
using TalkingFace.Tests.Distributed;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Browser;

/// <summary>
/// The page against a distributed gateway, where every job route needs an API key: the page sends its key on fetches
/// and, since EventSource cannot send headers, follows a job over the stream URL a job-scoped stream token opens.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class DistributedPageTests(BrowserFixture browser, DistributedServices services) : IClassFixture<DistributedServices>
{
    [Fact]
    public async Task The_page_with_an_api_key_follows_a_job_live_over_a_stream_token()
    {
        await using var pipeline = await DistributedPipeline.CreateAsync(services);
        using var api = pipeline.GatewayOnSocket();
        await pipeline.StartAudioWorkerAsync("browser-probe-worker"); // serves probe jobs
        var key = api.DefaultRequestHeaders.Authorization!.Parameter!;
        using var submitted = await api.PostAsync("/api/jobs/probe", null);
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
        await Assertions.Expect(panel.Locator("[data-badge] .badge")).ToHaveTextAsync("succeeded", new() { Timeout = 120_000 });
        lock (streams)
        {
            Assert.NotEmpty(streams);
            Assert.All(streams, url => Assert.Contains($"/api/jobs/{job.Id}/events?access_token=tfs_", url));
            Assert.All(streams, url => Assert.DoesNotContain(key, url)); // the key itself never travels in a URL
        }
        lock (errors) Assert.Empty(errors);
    }
}
