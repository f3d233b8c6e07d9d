using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace TalkingFace.Cli.Commands;

/// <summary><c>fleet</c> (workers and queues) and <c>models</c> (the model catalog) of a running gateway.</summary>
public static class CatalogCommands
{
    public static Command Fleet()
    {
        var server = CommonOptions.Server();
        var json = CommonOptions.Json();
        var command = new Command("fleet", "Show the workers the gateway has heard from, and its per-stage, per-class queue summary when it has one") { server, json };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            var o = r.InvocationConfiguration.Output;
            using var client = CommonOptions.Client(r, server);
            var workers = await client.GetWorkersAsync(ct);
            var summary = await client.GetFleetSummaryAsync(ct);
            if (r.GetValue(json))
            {
                o.WriteLine(JsonSerializer.Serialize(new { summary, workers }, GatewayClient.Json));
                return 0;
            }
            if (summary is { } s) PrintSummary(s, o);
            o.WriteLine(workers.Count == 0 ? "no worker has reported yet" : $"{workers.Count(w => w.Alive)} of {workers.Count} workers alive");
            if (workers.Count > 0)
            {
                o.WriteLine($"  {"stage",-8} {"class",-7} {"worker",-28} {"busy",-6} {"last heard",-11} providers");
                foreach (var w in workers)
                {
                    var ago = DateTimeOffset.UtcNow - w.LastSeenAt;
                    o.WriteLine($"  {w.Stage,-8} {w.DeviceClass,-7} {w.WorkerId,-28} {$"{w.InFlight}/{w.Concurrency}",-6} " +
                                      $"{(w.Alive ? "" : "LOST ") + ago.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s ago",-11} {string.Join(", ", w.Providers)}");
                }
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The summary's rows, whatever fields they carry (it comes from another part of the project).</summary>
    private static void PrintSummary(JsonElement summary, TextWriter o)
    {
        var rows = summary.ValueKind == JsonValueKind.Array ? summary
            : summary.ValueKind == JsonValueKind.Object ? summary.EnumerateObject().Select(p => p.Value).FirstOrDefault(v => v.ValueKind == JsonValueKind.Array)
            : default;
        if (rows.ValueKind != JsonValueKind.Array) return;
        o.WriteLine("queues");
        foreach (var row in rows.EnumerateArray().Where(r => r.ValueKind == JsonValueKind.Object))
        {
            var fields = row.EnumerateObject().Where(p => p.Value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array)).ToList();
            string? Take(Func<string, bool> match) => fields.FirstOrDefault(p => match(p.Name)) is { Name: not null } f && f.Value.ValueKind != JsonValueKind.Undefined ? f.Value.ToString() : null;
            var stage = Take(n => n.Equals("stage", StringComparison.OrdinalIgnoreCase));
            var klass = Take(n => n is "deviceClass" or "class" or "device");
            var rest = fields.Where(p => !p.Name.Equals("stage", StringComparison.OrdinalIgnoreCase) && p.Name is not ("deviceClass" or "class" or "device"))
                .Select(p => $"{p.Name} {p.Value}");
            o.WriteLine($"  {stage,-8} {klass,-7} {string.Join("  ", rest)}");
        }
    }

    public static Command Models()
    {
        var server = CommonOptions.Server();
        var json = CommonOptions.Json();
        var command = new Command("models", "List the model catalog of the gateway's model store") { server, json };
        command.SetAction((r, ct) => CommonOptions.Guard(async () =>
        {
            var o = r.InvocationConfiguration.Output;
            using var client = CommonOptions.Client(r, server);
            var models = await client.GetModelsAsync(ct);
            if (r.GetValue(json))
            {
                o.WriteLine(JsonSerializer.Serialize(models, GatewayClient.Json));
                return 0;
            }
            if (models.Count == 0)
            {
                o.WriteLine("the gateway's model store is empty");
                return 0;
            }
            o.WriteLine($"{"name",-20} {"version",-9} {"task",-16} {"precision",-9} {"size",9}  {"output",-14} notes");
            foreach (var m in models)
            {
                var outputText = m.FeatureDim is { } dim ? $"{dim}-d @ {m.FrameRate?.ToString("0.##", CultureInfo.InvariantCulture)} Hz" : "";
                var notes = new List<string>();
                if (m.Demo) notes.Add("demo weights");
                if (m.ReadBy.Count > 0) notes.Add("read by " + string.Join(", ", m.ReadBy));
                if (m.Accepts.Count > 0) notes.Add("reads " + string.Join(", ", m.Accepts));
                if (m.Problem is not null) notes.Add(m.Problem);
                o.WriteLine($"{m.Name,-20} {m.Version,-9} {m.Task,-16} {m.Precision,-9} {Size(m.SizeBytes),9}  {outputText,-14} {string.Join("; ", notes)}");
            }
            return 0;
        }));
        return command;
    }

    private static string Size(long? bytes) => bytes is not { } b ? "" : b >= 1 << 20
        ? (b / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB"
        : (b / 1024.0).ToString("0", CultureInfo.InvariantCulture) + " KiB";
}
