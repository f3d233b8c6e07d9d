using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.EntityFrameworkCore;
using Minio.DataModel.Args;
using System.Net.Sockets;

namespace TalkingFace.Tests.Faults;

/// <summary>Small process helpers for the fault tests: run a command, find a free port.</summary>
internal static class FaultTools
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs a program to its end; throws with its output when it fails.</summary>
    public static async Task<string> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        if (environment is not null) foreach (var (k, v) in environment) start.Environment[k] = v;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish");
        }
        var output = await stdout + await stderr;
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {output}");
        return output;
    }

    public static async Task<bool> PortOpenAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(1));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
        }
    }
}

/// <summary>
/// The figures of a fault run as a small Markdown table, written to the file named by <c>FAULT_SUMMARY</c> (the
/// scripts/faults/* scripts print it at the end) and to the console, before the test asserts on them.
/// </summary>
internal static class FaultSummary
{
    public static void Write(string title, IReadOnlyList<(string Name, string Value)> rows)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"### {title} ({DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)})").AppendLine();
        text.AppendLine("| figure | value |").AppendLine("|---|---:|");
        foreach (var (name, value) in rows) text.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {value} |");
        var path = Environment.GetEnvironmentVariable("FAULT_SUMMARY");
        if (!string.IsNullOrEmpty(path)) File.WriteAllText(path, text.ToString());
        Console.WriteLine(text.ToString());
    }
}

/// <summary>What the database and the store hold for finished fault-test jobs: records counted twice, stray objects, attempts.</summary>
internal static class FaultChecks
{
    public sealed record Result(int DuplicateStages, int DuplicateArtifacts, int StrayObjects, int ExtraAttempts, IReadOnlyList<string> Problems);

    /// <summary>
    /// Per job: one stage record per stage name, one artifact record per stage and name (and per key), every object under
    /// the job's prefix in the store recorded as an artifact, and each recorded object at its recorded size.
    /// </summary>
    public static async Task<Result> InspectAsync(Distributed.DistributedPipeline pipeline, IEnumerable<Guid> jobIds)
    {
        int duplicateStages = 0, duplicateArtifacts = 0, stray = 0, extraAttempts = 0;
        var problems = new List<string>();
        await using var db = pipeline.Db();
        using var store = pipeline.Store();
        foreach (var id in jobIds)
        {
            // One listing per job (sizes included), not a request per object: s3rver answers a few requests a second when
            // the machine is loaded. (One listing of the whole 1,200-object bucket got an internal error from s3rver.)
            var prefix = $"jobs/{id:N}/";
            var stored = new Dictionary<string, long>();
            await foreach (var item in store.ListObjectsEnumAsync(new ListObjectsArgs().WithBucket(pipeline.Bucket).WithPrefix(prefix).WithRecursive(true)))
                stored[item.Key] = (long)item.Size;
            var record = await db.Jobs.AsNoTracking().Include(j => j.Stages).Include(j => j.Artifacts).SingleOrDefaultAsync(j => j.Id == id);
            if (record is null)
            {
                problems.Add($"job {id}: no record");
                continue;
            }
            var stageDup = record.Stages.Count - record.Stages.Select(s => s.Name).Distinct().Count();
            if (stageDup > 0)
            {
                duplicateStages += stageDup;
                problems.Add($"job {id}: stage records {string.Join(",", record.Stages.Select(s => s.Name))}");
            }
            extraAttempts += record.Stages.Sum(s => Math.Max(0, s.Attempt - 1));
            var artifactDup = record.Artifacts.GroupBy(a => (a.Stage, a.Name)).Sum(g => g.Count() - 1)
                              + (record.Artifacts.Count - record.Artifacts.Select(a => a.Key).Distinct().Count());
            if (artifactDup > 0)
            {
                duplicateArtifacts += artifactDup;
                problems.Add($"job {id}: {artifactDup} duplicate artifact records");
            }
            var strayHere = stored.Keys.Except(record.Artifacts.Select(a => a.Key)).ToList();
            if (strayHere.Count > 0)
            {
                stray += strayHere.Count;
                problems.Add($"job {id}: objects with no artifact record: {string.Join(", ", strayHere)}");
            }
            foreach (var artifact in record.Artifacts)
            {
                if (!stored.TryGetValue(artifact.Key, out var size)) problems.Add($"job {id}: {artifact.Key} is recorded but not stored");
                else if (size != artifact.Size) problems.Add($"job {id}: {artifact.Key} is {size} bytes, recorded {artifact.Size}");
            }
        }
        return new Result(duplicateStages, duplicateArtifacts, stray, extraAttempts, problems);
    }
}

/// <summary>
/// A PostgreSQL 15 instance of the test's own (initdb into a temporary folder, a free port, trust auth on 127.0.0.1),
/// so that a test can stop and start it without touching the shared one. Needs root (runs it as the postgres user).
/// </summary>
internal sealed class PrivatePostgres : IAsyncDisposable
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private readonly string _dir;

    private PrivatePostgres(string dir, int port)
    {
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=3;Command Timeout=10";

    public static bool Available => File.Exists(Path.Combine(Bin, "initdb")) && Environment.UserName == "root";

    public static async Task<PrivatePostgres> StartAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "tf-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        await FaultTools.RunAsync("chown", ["postgres", dir]);
        var pg = new PrivatePostgres(dir, FaultTools.FreePort());
        await pg.AsPostgres("initdb", "-D", Path.Combine(dir, "data"), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--auth=trust");
        await pg.StartAgainAsync();
        return pg;
    }

    public Task StartAgainAsync() => AsPostgres("pg_ctl", "-D", Path.Combine(_dir, "data"), "-l", Path.Combine(_dir, "log"), "-w", "-t", "60",
        "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={_dir} -c fsync=off", "start");

    /// <summary>Stops the server the hard way (immediate: like a crash, no clean checkpoint).</summary>
    public Task StopAsync() => AsPostgres("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "-t", "60", "stop");

    private Task<string> AsPostgres(string program, params string[] args) =>
        FaultTools.RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(Bin, program), .. args]);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await AsPostgres("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop");
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }
        Directory.Delete(_dir, recursive: true);
    }
}
