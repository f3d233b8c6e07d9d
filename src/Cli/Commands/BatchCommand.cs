using System.CommandLine;
using System.Globalization;
using TalkingFace.Cli.Batch;

namespace TalkingFace.Cli.Commands;

/// <summary><c>talkingface batch FOLDER --server URL</c>: every clip (or image) of a folder as a job, results into a folder.</summary>
public static class BatchCommand
{
    public static Command Create()
    {
        var folder = new Argument<DirectoryInfo>("folder") { Description = "Folder of audio clips (talking face) or face photos (hair)" };
        var server = CommonOptions.Server();
        var json = CommonOptions.Json();
        var output = new Option<DirectoryInfo?>("--out", "-o") { Description = "Results folder: one sub-folder per input and manifest.json (default: FOLDER-results beside FOLDER)" };
        var kind = new Option<string>("--kind") { Description = "auto (audio → talking face, images → hair when a hair reference is given) | talking-face | hair", DefaultValueFactory = _ => "auto" };
        kind.AcceptOnlyFromAmong("auto", "talking-face", "hair");
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Include sub-folders" };
        var featureModel = CommonOptions.FeatureModel();
        var seed = CommonOptions.Seed();
        var temperature = CommonOptions.Temperature();
        var deviceClass = new Option<string>("--device-class") { Description = "cpu | rtx | jetson | apple | auto", DefaultValueFactory = _ => "auto" };
        var priority = new Option<int>("--priority") { Description = "0 (default) to 9", DefaultValueFactory = _ => 0 };
        var mode = new Option<string>("--mode") { Description = "Hair: shape | color | both", DefaultValueFactory = _ => "both" };
        var shapeId = new Option<string?>("--shape-id") { Description = "Hair: gallery item for the shape" };
        var colorId = new Option<string?>("--color-id") { Description = "Hair: gallery item for the color" };
        var shape = new Option<FileInfo?>("--shape") { Description = "Hair: reference image for the shape" };
        var color = new Option<FileInfo?>("--color") { Description = "Hair: reference image for the color" };
        var parallel = new Option<int>("--parallel") { Description = "Uploads and status requests at once", DefaultValueFactory = _ => 4 };
        var noDownload = new Option<bool>("--no-download") { Description = "Only job.json per item, not the result files" };
        var command = new Command("batch",
            "Submit every clip (or image) in a folder, show progress, download the results with a manifest. " +
            "Safe to interrupt: run it again to resume without duplicate jobs. Exit 0: all succeeded; 2: some failed; 1: error; 130: interrupted")
        {
            folder, server, output, kind, recursive, featureModel, seed, temperature, deviceClass, priority,
            mode, shapeId, colorId, shape, color, parallel, noDownload, json,
        };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            var input = r.GetValue(folder)!;
            var outDir = r.GetValue(output) ?? new DirectoryInfo(Path.Combine(input.Parent?.FullName ?? ".", input.Name + "-results"));
            if (r.GetValue(parallel) is < 1 or > 64) throw new IOException("--parallel must be from 1 to 64");
            var fields = CommonOptions.TalkingFaceForm(r, featureModel, seed, temperature);
            fields["deviceClass"] = r.GetValue(deviceClass);
            fields["priority"] = r.GetValue(priority).ToString(CultureInfo.InvariantCulture);
            var hairFields = new Dictionary<string, string?>
            {
                ["mode"] = r.GetValue(mode),
                ["shapeId"] = r.GetValue(shapeId),
                ["colorId"] = r.GetValue(colorId),
                ["deviceClass"] = r.GetValue(deviceClass),
                ["priority"] = r.GetValue(priority).ToString(CultureInfo.InvariantCulture),
            };
            var references = new List<(string, FileInfo)>();
            foreach (var (field, option) in new[] { ("shape", shape), ("color", color) })
            {
                if (r.GetValue(option) is not { } file) continue;
                if (!file.Exists) throw new IOException($"no such file: {file.FullName}");
                references.Add((field, file));
            }
            using var client = CommonOptions.Client(r, server);
            var settings = new BatchSettings(input, outDir, r.GetValue(kind)!, r.GetValue(recursive), fields, hairFields, references,
                r.GetValue(parallel), !r.GetValue(noDownload), TimeSpan.FromSeconds(1));
            var error = r.InvocationConfiguration.Error;
            var runner = new BatchRunner(client, settings, r.InvocationConfiguration.Output, error,
                ReferenceEquals(error, Console.Error) && BatchProgress.IsTerminal());
            return await runner.RunAsync(r.GetValue(json), ct);
        }));
        return command;
    }
}
