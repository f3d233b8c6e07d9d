using System.CommandLine;

namespace TalkingFace.Cli.Commands;

/// <summary><c>submit</c>, <c>probe</c>, <c>status</c>, <c>watch</c> and <c>cancel</c> against a running gateway.</summary>
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
        var key = new Option<string?>("--idempotency-key") { Description = "Submitting again with the same key returns the same job (default: a new key per run, so the CLI's own retries never duplicate the job)" };
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
            var o = r.InvocationConfiguration.Output;
            var job = await client.SubmitTalkingFaceAsync(input, form, r.GetValue(key), ct);
            if (!r.GetValue(wait))
            {
                JobPrinter.Print(job, r.GetValue(json), o);
                return 0;
            }
            var log = r.GetValue(json) ? r.InvocationConfiguration.Error : o;
            job = await client.WaitAsync(job.Id, j => JobPrinter.Progress(j, log), TimeSpan.FromSeconds(1), ct);
            if (r.GetValue(output) is { } outDir) await TalkCommand.WriteResultsAsync(client, job, outDir, ct);
            JobPrinter.Print(job, r.GetValue(json), o);
            return job.State == "succeeded" ? 0 : 2;
        }));
        return command;
    }

    /// <summary>A deployment check for scripts and on-call: one probe job through the whole pipeline, waited for.</summary>
    public static Command Probe()
    {
        var server = CommonOptions.Server();
        var json = CommonOptions.Json();
        var deviceClass = new Option<string>("--device-class") { Description = "cpu | rtx | jetson | apple | auto: which class's workers to check", DefaultValueFactory = _ => "auto" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the probe to finish (exit 2 after)", DefaultValueFactory = _ => 60 };
        var command = new Command("probe", "Run a probe job (no input, a no-op stage) through the gateway, queue and a worker; exit 0 if it succeeded, 2 if not")
        {
            server, deviceClass, timeout, json,
        };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            var o = r.InvocationConfiguration.Output;
            using var client = CommonOptions.Client(r, server);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var job = await client.SubmitProbeAsync(r.GetValue(deviceClass)!, ct);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(TimeSpan.FromSeconds(r.GetValue(timeout)));
            try
            {
                job = await client.WaitAsync(job.Id, _ => { }, TimeSpan.FromMilliseconds(200), limit.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                job = await client.GetJobAsync(job.Id, ct);
                r.InvocationConfiguration.Error.WriteLine($"probe job {job.Id} did not finish within {r.GetValue(timeout):0} s: it is {job.State}{(job.Reason is null ? "" : " (" + job.Reason + ")")}");
                JobPrinter.Print(job, r.GetValue(json), o);
                return 2;
            }
            if (!r.GetValue(json))
            {
                var stage = job.Stages.FirstOrDefault();
                o.WriteLine(FormattableString.Invariant(
                    $"probe {job.State} in {watch.Elapsed.TotalMilliseconds:F0} ms: worker {stage?.WorkerId ?? "none"} ({stage?.DeviceClass ?? "?"}), queue wait {(stage?.QueueWaitSeconds ?? 0) * 1000:F0} ms"));
            }
            else
            {
                JobPrinter.Print(job, true, o);
            }
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
            var output = r.InvocationConfiguration.Output; // the console, unless the caller (a test) gives another writer
            var log = r.GetValue(json) ? r.InvocationConfiguration.Error : output;
            var job = await client.WaitAsync(r.GetValue(id), j => JobPrinter.Progress(j, log), TimeSpan.FromSeconds(1), ct);
            JobPrinter.Print(job, r.GetValue(json), output);
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
