using System.CommandLine;
using System.Text.Json;
using TalkingFace.Cli.Commands;
using TalkingFace.Contracts;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Hair;

/// <summary><c>talkingface hair</c> on the embedded standalone pipeline: a store with the YOLOv8 detector and the demo chain.</summary>
public sealed class CliHairTests : IDisposable
{
    private readonly TempFolder _root = new();

    public CliHairTests()
    {
        HairTestKit.InstallYoloDetector(Models);
        HairGatewayFactory.CopyFolder(Path.Combine(TestPaths.RepoRoot, "models", "hairfast"), Path.Combine(Models, "hairfast"));
    }

    private string Models => Path.Combine(_root.Path, "models");
    private string Out => Path.Combine(_root.Path, "out");

    public void Dispose() => _root.Dispose();

    private static async Task<int> HairAsync(params string[] args)
    {
        // Generous: the command starts a whole gateway and loads the models; on a busy shared machine that takes minutes.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        return await new RootCommand { HairCommand.Create() }.Parse(["hair", .. args]).InvokeAsync(cancellationToken: timeout.Token);
    }

    [Fact]
    public async Task Hair_writes_the_aligned_crop_result_pasted_photo_and_job_json()
    {
        var exit = await HairAsync(HairTestKit.OneFace, "--shape", "curly-auburn", "--color", HairTestKit.OneFace, "--mode", "both", "--out", Out, "--models", Models);

        Assert.Equal(0, exit);
        foreach (var name in new[] { ArtifactNames.AlignedFace, ArtifactNames.HairResult, ArtifactNames.PastedPhoto, ArtifactNames.Detections, "job.json" })
            Assert.True(File.Exists(Path.Combine(Out, name)), $"{name} was not written");
        using var job = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Out, "job.json")));
        Assert.Equal("succeeded", job.RootElement.GetProperty("state").GetString());
        using var pasted = HairApi.DecodePng(await File.ReadAllBytesAsync(Path.Combine(Out, ArtifactNames.PastedPhoto)));
        Assert.Equal((800, 1066), (pasted.Width, pasted.Height));
    }

    [Fact]
    public async Task A_refused_photo_exits_non_zero_with_the_reason_in_job_json()
    {
        var exit = await HairAsync(HairTestKit.TwoFaces, "--shape", "bob-black", "--color", "long-blonde", "--out", Out, "--models", Models);

        Assert.Equal(2, exit);
        using var job = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Out, "job.json")));
        Assert.Equal("failed", job.RootElement.GetProperty("state").GetString());
        Assert.Contains("2 faces found", job.RootElement.GetProperty("reason").GetString());
        Assert.True(File.Exists(Path.Combine(Out, ArtifactNames.Detections)));
        Assert.False(File.Exists(Path.Combine(Out, ArtifactNames.PastedPhoto)));
    }

    [Fact]
    public async Task An_unknown_gallery_id_exits_1_before_any_job()
    {
        var exit = await HairAsync(HairTestKit.OneFace, "--shape", "no-such-cut", "--mode", "shape", "--out", Out, "--models", Models);
        Assert.Equal(1, exit);
        Assert.False(File.Exists(Path.Combine(Out, "job.json")));
    }
}
