using System.CommandLine;

namespace TalkingFace.Cli.Commands;

/// <summary>
/// <c>talkingface hair FACE --shape ID|FILE --color ID|FILE --mode both --out DIR</c>: one hair job, on the embedded
/// standalone pipeline by default or on a gateway with <c>--server</c>. A reference that names an existing file is
/// uploaded (and detected and aligned by the worker); anything else is a gallery id.
/// Writes detections.json, aligned.png, result.png, pasted.png and job.json; exits 2 when the job fails (a refused
/// photo: its reason is printed), 1 on a usage or connection error.
/// </summary>
public static class HairCommand
{
    public static Command Create()
    {
        var face = new Argument<FileInfo>("face") { Description = "Photo with exactly one face (JPEG, PNG, WebP)" };
        var shape = new Option<string?>("--shape") { Description = "Hair shape reference: a gallery id (see GET /api/gallery) or an image file" };
        var color = new Option<string?>("--color") { Description = "Hair color reference: a gallery id or an image file" };
        var mode = new Option<string>("--mode") { Description = "shape | color | both", DefaultValueFactory = _ => "both" };
        mode.AcceptOnlyFromAmong("shape", "color", "both");
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder for the images, detections.json and job.json", Required = true };
        var server = new Option<string?>("--server", "-s") { Description = "Gateway URL; without it the job runs on the embedded standalone pipeline" };
        var data = new Option<DirectoryInfo?>("--data") { Description = "Standalone: keep the database and store here (default: a temporary folder)" };
        var models = new Option<DirectoryInfo>("--models") { Description = "Standalone: model store folder", DefaultValueFactory = _ => new DirectoryInfo("models") };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Standalone: show the gateway's and workers' logs" };
        var json = CommonOptions.Json();
        var command = new Command("hair", "Restyle the hair in a photo (shape and/or color from the gallery or your own reference images)")
        {
            face, shape, color, mode, output, server, data, models, verbose, json,
        };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            var photo = r.GetValue(face)!;
            if (!photo.Exists) throw new IOException($"no such file: {photo.FullName}");
            var fields = new Dictionary<string, string?> { ["mode"] = r.GetValue(mode) };
            var uploads = new List<(string, FileInfo)>();
            foreach (var (value, field) in new[] { (r.GetValue(shape), "shape"), (r.GetValue(color), "color") })
            {
                if (value is null) continue;
                if (File.Exists(value)) uploads.Add((field, new FileInfo(value)));
                else if (value.Contains('/') || value.Contains('\\') || value.Contains('.')) throw new IOException($"--{field} '{value}': no such file (and not a gallery id)");
                else fields[field + "Id"] = value;
            }
            var log = r.GetValue(json) ? Console.Error : Console.Out;
            if (r.GetValue(server) is { } url)
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    throw new IOException($"--server '{url}' is not an http(s) URL, e.g. http://127.0.0.1:5000");
                using var remote = GatewayClient.For(uri, new GatewayRetry { Log = r.InvocationConfiguration.Error });
                return await RunAsync(remote, photo, fields, uploads, r.GetValue(output)!, r.GetValue(json), log, TimeSpan.FromSeconds(1), ct);
            }
            var dataDir = r.GetValue(data)?.FullName ?? Path.Combine(Path.GetTempPath(), "talkingface-" + Guid.NewGuid().ToString("N"));
            try
            {
                await using var gateway = await StandaloneGateway.StartAsync(dataDir, r.GetValue(models)!.FullName, r.GetValue(verbose), ct);
                using var client = new GatewayClient(new HttpClient { BaseAddress = gateway.Address });
                return await RunAsync(client, photo, fields, uploads, r.GetValue(output)!, r.GetValue(json), log, TimeSpan.FromMilliseconds(200), ct);
            }
            finally
            {
                if (r.GetValue(data) is null && Directory.Exists(dataDir)) Directory.Delete(dataDir, recursive: true);
            }
        }));
        return command;
    }

    private static async Task<int> RunAsync(GatewayClient client, FileInfo photo, Dictionary<string, string?> fields, List<(string, FileInfo)> uploads,
        DirectoryInfo outDir, bool json, TextWriter log, TimeSpan poll, CancellationToken ct)
    {
        var job = await client.SubmitHairAsync(photo, fields, uploads, ct);
        log.WriteLine($"submitted job {job.Id} ({photo.Name})");
        job = await client.WaitAsync(job.Id, j => JobPrinter.Progress(j, log), poll, ct);
        await TalkCommand.WriteResultsAsync(client, job, outDir, ct);
        JobPrinter.Print(job, json, Console.Out);
        log.WriteLine($"wrote {outDir.FullName}");
        if (job.State == "succeeded") return 0;
        await Console.Error.WriteLineAsync($"refused: {job.Reason}");
        return 2;
    }
}
