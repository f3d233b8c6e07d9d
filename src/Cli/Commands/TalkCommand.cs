using System.CommandLine;
using System.Text.Json;
using TalkingFace.Gateway.Jobs;

namespace TalkingFace.Cli.Commands;

/// <summary><c>talkingface talk AUDIO --out DIR</c>: one talking-face job in-process, no servers needed.</summary>
public static class TalkCommand
{
    public static Command Create()
    {
        var audio = new Argument<FileInfo>("audio") { Description = "Speech audio (WAV; other formats need ffmpeg)" };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder for the artifacts and job.json", Required = true };
        var data = new Option<DirectoryInfo?>("--data") { Description = "Keep the standalone database and store here (default: a temporary folder)" };
        var models = new Option<DirectoryInfo>("--models") { Description = "Model store folder", DefaultValueFactory = _ => new DirectoryInfo("models") };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Show the gateway's and workers' logs" };
        var json = CommonOptions.Json();
        var featureModel = CommonOptions.FeatureModel();
        var seed = CommonOptions.Seed();
        var temperature = CommonOptions.Temperature();
        var command = new Command("talk", "Run a talking-face job on the embedded standalone pipeline and write its artifacts and job.json")
        {
            audio, output, data, models, featureModel, seed, temperature, json, verbose,
        };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            var input = r.GetValue(audio)!;
            if (!input.Exists) throw new IOException($"no such file: {input.FullName}");
            var outDir = r.GetValue(output)!;
            var dataDir = r.GetValue(data)?.FullName ?? Path.Combine(Path.GetTempPath(), "talkingface-" + Guid.NewGuid().ToString("N"));
            var keepData = r.GetValue(data) is not null;
            var log = r.GetValue(json) ? Console.Error : Console.Out;
            try
            {
                await using var gateway = await StandaloneGateway.StartAsync(dataDir, r.GetValue(models)!.FullName, r.GetValue(verbose), ct);
                using var client = new GatewayClient(new HttpClient { BaseAddress = gateway.Address });
                var job = await client.SubmitTalkingFaceAsync(input, CommonOptions.TalkingFaceForm(r, featureModel, seed, temperature), null, ct);
                log.WriteLine($"submitted job {job.Id} ({input.Name})");
                job = await client.WaitAsync(job.Id, j => JobPrinter.Progress(j, log), TimeSpan.FromMilliseconds(200), ct);
                await WriteResultsAsync(client, job, outDir, ct);
                JobPrinter.Print(job, r.GetValue(json), Console.Out);
                log.WriteLine($"wrote {outDir.FullName}");
                return job.State == "succeeded" ? 0 : 2;
            }
            finally
            {
                if (!keepData && Directory.Exists(dataDir)) Directory.Delete(dataDir, recursive: true);
            }
        }));
        return command;
    }

    /// <summary>Every artifact the stages produced (inputs are the user's own files) and job.json.</summary>
    public static async Task WriteResultsAsync(GatewayClient client, JobView job, DirectoryInfo outDir, CancellationToken ct)
    {
        outDir.Create();
        foreach (var artifact in job.Artifacts.Where(a => a.Stage != "input"))
            await client.DownloadAsync(artifact, Path.Combine(outDir.FullName, Path.GetFileName(artifact.Name)), ct);
        await File.WriteAllTextAsync(Path.Combine(outDir.FullName, "job.json"), JsonSerializer.Serialize(job, GatewayClient.Json), ct);
    }
}
