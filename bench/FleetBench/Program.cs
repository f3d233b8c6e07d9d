using System.Globalization;
using TalkingFace.Contracts;
using TalkingFace.Gateway.Scheduling;

// bench/fleet: a 500-clip batch on a mixed fleet, simulated event by event. Every clip is placed when the batch is
// submitted (as the gateway does: a stage goes to a class queue at dispatch), then each class's workers take clips
// from their queue in order, each as soon as it is free. "ours" calls the gateway's FleetScheduler, in the order the
// batch endpoint submits (longest first); the baselines place by turns or by queue length.
// Usage: FleetBench <durations file: one clip length in seconds per line> [copies=10] [seed=7]

var invariant = CultureInfo.InvariantCulture;
if (args.Length < 1) { Console.Error.WriteLine("usage: FleetBench DURATIONS_FILE [COPIES] [SEED]"); return 2; }
var baseSet = File.ReadAllLines(args[0]).Where(l => l.Trim().Length > 0).Select(l => double.Parse(l, invariant)).ToArray();
var copies = args.Length > 1 ? int.Parse(args[1], invariant) : 10;
var seed = args.Length > 2 ? int.Parse(args[2], invariant) : 7;
var random = new Random(seed);
var clips = Enumerable.Range(0, copies).SelectMany(_ => baseSet).OrderBy(_ => random.Next()).ToArray();

// Table 3, Fast-HuBERT ONNX: feature extraction time of the paper's 50-clip set (232 s of audio) per device, as
// seconds of work per second of audio. The CPU row is this repository's own bench/audio (fast-hubert fp32, 2 cores).
const double SetSeconds = 232.0;
Device[] fleet =
[
    new("jetson-1", "Jetson Nano", DeviceClasses.Jetson, 32.30 / SetSeconds),
    new("jetson-2", "Jetson Nano", DeviceClasses.Jetson, 32.30 / SetSeconds),
    new("rtx-4060", "RTX 4060", DeviceClasses.Rtx, 0.19 / SetSeconds),
    new("rtx-a5000", "RTX A5000", DeviceClasses.Rtx, 0.18 / SetSeconds),
    new("m4", "Apple M4", DeviceClasses.Apple, 0.28 / SetSeconds),
    new("cpu-1", "CPU (2 cores, bench/audio)", DeviceClasses.Cpu, 7.39 / SetSeconds),
    new("cpu-2", "CPU (2 cores, bench/audio)", DeviceClasses.Cpu, 7.39 / SetSeconds),
];
var classes = fleet.Select(d => d.Class).Distinct().ToArray();
var totalWork = clips.Sum();
var bound = totalWork / fleet.Sum(d => 1 / d.SecondsPerUnit);

// The scheduler sees what the gateway's registry would: per class, live workers, slots and the measured seconds per
// unit (here the true speeds, as after the moving averages have settled), plus the work already placed there.
// "Cold": no worker has measured its speed yet, so every class gets the gateway's default assumption (Fleet:DefaultSecondsPerUnit).
List<ClassCapacity> Capacities(Dictionary<string, double> queued, bool measured) =>
    [.. classes.Select(c =>
    {
        var members = fleet.Where(d => d.Class == c).ToList();
        var spu = measured ? FleetScheduler.CombinedSecondsPerUnit(members.Select(d => (1, d.SecondsPerUnit))) : 0.05;
        return ClassCapacity.Empty(c, members.Count, members.Count, spu, measured).WithQueued(queued[c], 0);
    })];

Dictionary<string, List<double>> Ours(IReadOnlyList<int> order, bool measured = true)
{
    var queues = classes.ToDictionary(c => c, _ => new List<double>());
    var queued = classes.ToDictionary(c => c, _ => 0.0);
    foreach (var i in order)
    {
        var placement = FleetScheduler.Place(Capacities(queued, measured), new WorkItem(Stages.Audio, clips[i], 0, null), pinned: null, DeviceClasses.Cpu);
        queues[placement.DeviceClass].Add(clips[i]);
        queued[placement.DeviceClass] += clips[i];
    }
    return queues;
}

Dictionary<string, List<double>> RoundRobin()
{
    var queues = classes.ToDictionary(c => c, _ => new List<double>());
    for (var i = 0; i < clips.Length; i++) queues[classes[i % classes.Length]].Add(clips[i]);
    return queues;
}

Dictionary<string, List<double>> LeastQueue()
{
    var queues = classes.ToDictionary(c => c, _ => new List<double>());
    foreach (var clip in clips)
    {
        var target = classes.OrderBy(c => queues[c].Count / (double)fleet.Count(d => d.Class == c)).ThenBy(c => Array.IndexOf(classes, c)).First();
        queues[target].Add(clip);
    }
    return queues;
}

// Discrete-event execution: each class's workers take the next clip of their queue whenever one of them is free.
(double Makespan, Dictionary<string, int> Jobs) Run(Dictionary<string, List<double>> queues)
{
    double makespan = 0;
    var jobs = fleet.ToDictionary(d => d.Id, _ => 0);
    foreach (var c in classes)
    {
        var members = fleet.Where(d => d.Class == c).ToArray();
        var events = new PriorityQueue<Device, (double, int)>();
        for (var k = 0; k < members.Length; k++) events.Enqueue(members[k], (0.0, k));
        foreach (var clip in queues[c])
        {
            events.TryDequeue(out var device, out var at);
            var end = at.Item1 + clip * device!.SecondsPerUnit;
            jobs[device.Id]++;
            makespan = Math.Max(makespan, end);
            events.Enqueue(device, (end, at.Item2));
        }
    }
    return (makespan, jobs);
}

var arrival = Enumerable.Range(0, clips.Length).ToArray();
var results = new (string Name, string Key, (double Makespan, Dictionary<string, int> Jobs) Outcome)[]
{
    ("round-robin over classes", "round_robin", Run(RoundRobin())),
    ("least queue (fewest clips per worker)", "least_queue", Run(LeastQueue())),
    ("ours before any speed is measured (every class assumed equal)", "ours_cold", Run(Ours(FleetScheduler.SubmissionOrder(clips), measured: false))),
    ("ours, clips in arrival order", "ours_arrival", Run(Ours(arrival))),
    ("ours (FleetScheduler, batch longest first)", "ours", Run(Ours(FleetScheduler.SubmissionOrder(clips)))),
};

Console.WriteLine("## bench/fleet: a batch on a mixed fleet (discrete-event simulation, the gateway's own scheduler)");
Console.WriteLine();
Console.WriteLine($"Clips: {clips.Length} ({copies} x the paper's 50-clip set from bench/make_clips.py, shuffled with seed {seed}): " +
    $"{clips.Min():F2}-{clips.Max():F2} s, mean {clips.Average():F2} s, {totalWork:F1} s of audio in all.");
Console.WriteLine();
Console.WriteLine("| device | class | s of work per s of audio | source |");
Console.WriteLine("|---|---|---:|---|");
foreach (var d in fleet)
    Console.WriteLine($"| {d.Id} ({d.Name}) | {d.Class} | {d.SecondsPerUnit:G4} | {(d.Class == DeviceClasses.Cpu ? "bench/audio on this CPU" : "Table 3, Fast-HuBERT ONNX / 232 s")} |");
Console.WriteLine();
Console.WriteLine($"Lower bound (total work / total speed): {bound:F4} s.");
Console.WriteLine();
Console.WriteLine("| policy | makespan s | / lower bound | clips per device (" + string.Join(", ", fleet.Select(d => d.Id)) + ") |");
Console.WriteLine("|---|---:|---:|---|");
foreach (var (name, _, outcome) in results)
    Console.WriteLine($"| {name} | {outcome.Makespan:F4} | {outcome.Makespan / bound:F3} | {string.Join(" / ", fleet.Select(d => outcome.Jobs[d.Id]))} |");
Console.WriteLine();
var ours = results.Single(r => r.Key == "ours").Outcome.Makespan / bound;
Console.WriteLine($"Goal: ours <= 1.10 x the lower bound: {(ours <= 1.10 ? "met" : "NOT met")} ({ours:F3}).");
Console.WriteLine();
Console.WriteLine("RESULT " + string.Join(" ", results.Select(r => $"{r.Key}_ratio={(r.Outcome.Makespan / bound).ToString("0.####", invariant)}"))
    + $" ours_s={results.Single(r => r.Key == "ours").Outcome.Makespan.ToString("0.#####", invariant)} bound_s={bound.ToString("0.#####", invariant)} clips={clips.Length} goal_met={(ours <= 1.10 ? 1 : 0)}");
return 0;

internal sealed record Device(string Id, string Name, string Class, double SecondsPerUnit);
