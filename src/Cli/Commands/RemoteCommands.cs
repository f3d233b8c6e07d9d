using System.CommandLine;

namespace TalkingFace.Cli.Commands;

/// <summary><c>submit</c>, <c>status</c>, <c>watch</c> and <c>cancel</c> against a running gateway.</summary>
public static class RemoteCommands
{
    public static Command Submit()
    {
        var audio = new Argument<FileInfo>("audio") { Description = "Speech audio to animate" };
        var server = CommonOptions.Server();
        var json = CommonOptions.Json();
        var featureModel = CommonOptions.FeatureModel();
        var seed = CommonOptions.Seed();
        var temperature = CommonOptions.Temperature();
        var deviceClass = new Option<string>("--device-class") { Description = "cpu | rtx | jetson | apple | auto", DefaultValueFactory = _ => "auto" };
        var priority = new Option<int>("--priority") { Description = "0 (default) to 9", DefaultValueFactory = _ => 0 };
        var key = new Option<string?>("--idempotency-key") { Description = "Submitting again with the same key returns the same job" };
        var wait = new Option<bool>("--wait") { Description = "Watch the job until it finishes" };
        var output = new Option<DirectoryInfo?>("--out", "-o") { Description = "With --wait: download the artifacts and job.json here" };
        var command = new Command("submit", "Submit a talking-face job to a gateway")
        {
            audio, server, featureModel, seed, temperature, deviceClass, priority, key, wait, output, json,
        };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            var input = r.GetValue(audio)!;
            if (!input.Exists) throw new IOException($"no such file: {input.FullName}");
            using var client = CommonOptions.Client(r, server);
            var form = CommonOptions.TalkingFaceForm(r, featureModel, seed, temperature);
            form["deviceClass"] = r.GetValue(deviceClass);
            form["priority"] = r.GetValue(priority).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var job = await client.SubmitTalkingFaceAsync(input, form, r.GetValue(key), ct);
            if (!r.GetValue(wait))
            {
                JobPrinter.Print(job, r.GetValue(json), Console.Out);
                return 0;
            }
            var log = r.GetValue(json) ? Console.Error : Console.Out;
            job = await client.WaitAsync(job.Id, j => JobPrinter.Progress(j, log), TimeSpan.FromSeconds(1), ct);
            if (r.GetValue(output) is { } outDir) await TalkCommand.WriteResultsAsync(client, job, outDir, ct);
            JobPrinter.Print(job, r.GetValue(json), Console.Out);
            return job.State == "succeeded" ? 0 : 2;
        }));
        return command;
    }

    public static Command Status()
    {
        var id = CommonOptions.JobId();
        var server = CommonOptions.Server();
        var json = CommonOptions.Json();
        var command = new Command("status", "Show a job's state, stages, timings and artifacts") { id, server, json };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            using var client = CommonOptions.Client(r, server);
            JobPrinter.Print(await client.GetJobAsync(r.GetValue(id), ct), r.GetValue(json), Console.Out);
            return 0;
        }));
        return command;
    }

    public static Command Watch()
    {
        var id = CommonOptions.JobId();
        var server = CommonOptions.Server();
        var json = CommonOptions.Json();
        var command = new Command("watch", "Follow a job until it finishes; exit 0 if it succeeded, 2 if not") { id, server, json };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            using var client = CommonOptions.Client(r, server);
            var log = r.GetValue(json) ? Console.Error : Console.Out;
            var job = await client.WaitAsync(r.GetValue(id), j => JobPrinter.Progress(j, log), TimeSpan.FromSeconds(1), ct);
            JobPrinter.Print(job, r.GetValue(json), Console.Out);
            return job.State == "succeeded" ? 0 : 2;
        }));
        return command;
    }

    public static Command Cancel()
    {
        var id = CommonOptions.JobId();
        var server = CommonOptions.Server();
        var json = CommonOptions.Json();
        var command = new Command("cancel", "Cancel a job that has not finished") { id, server, json };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            using var client = CommonOptions.Client(r, server);
            JobPrinter.Print(await client.CancelAsync(r.GetValue(id), ct), r.GetValue(json), Console.Out);
            return 0;
        }));
        return command;
    }
}
