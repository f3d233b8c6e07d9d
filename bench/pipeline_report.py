#!/usr/bin/python3
"""Report of bench/pipeline: reads the JSON objects bench/PipelineBench (ours-*.json) and bench/pipeline_torch.py
(torch-*.json) wrote, prints the Markdown report and, as its very last line, RESULT name=value ...

Only figures measured in this run are printed; a run that failed is named under "Left out"."""
import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess

# The paper's Table 2 (Jetson Nano, mean of 50 clips): share of the total, %
PAPER = {"audio_conversion": 0.30, "feature_extraction": 68.99, "f0_extraction": 2.73, "batch_preparation": 25.29,
         "audio_to_motion": 2.69}
PAPER_TOTAL_S = 787.7
GOAL_SPEEDUP = 20.0

OURS_ROWS = [
    ("audio_conversion", "audio conversion (decode, resample to 16 kHz)"),
    ("feature_extraction", "feature extraction"),
    ("f0_extraction", "F0 extraction"),
    ("batch_preparation", "batch preparation (incl. reading features + F0 from the store)"),
    ("audio_to_motion", "audio to motion"),
    ("landmarks", "landmarks (exp → 68 points, 2-D projection)"),
    ("preview", "preview rendering (MP4, ffmpeg)"),
    ("queue_wait", "queue waits (both stages)"),
    ("artifact_io", "artifact I/O (store reads/writes, feature-cache probe)"),
    ("untimed", "stage code outside the timed steps (WAV/.npy encoding, progress)"),
    ("gateway", "gateway orchestration (record, dispatch, events; total − stages)"),
]
TORCH_ROWS = [
    ("audio_conversion", "audio conversion (torchaudio load + resample)"),
    ("feature_extraction", "feature extraction (HuBERT-large, 20 s chunks)"),
    ("f0_extraction", "F0 extraction (`praat --run`, incl. process start-up)"),
    ("batch_preparation", "batch preparation (numpy)"),
    ("audio_to_motion", "audio to motion (torch)"),
    ("landmarks", "landmarks (exp → 68 points)"),
    ("other", "loop overhead (total − steps)"),
]


def sh(*cmd):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    except Exception:  # noqa: BLE001 - informational only
        return ""


def machine():
    cpu, flags = "unknown CPU", ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and cpu == "unknown CPU":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1]
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma") if f" {f} " in f" {flags} "]
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    os_name = ""
    if os.path.exists("/etc/os-release"):
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    return {"cpu": cpu, "isa": isa, "cores": len(os.sched_getaffinity(0)), "mem": mem, "os": os_name,
            "kernel": platform.release(), "dotnet": sh("dotnet", "--version"),
            "openblas": sh("dpkg-query", "-W", "-f=${Version}", "libopenblas0-pthread")}


def fmt(x, digits=3):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.1f}"
    if abs(x) >= 10:
        return f"{x:.2f}"
    return f"{x:.{digits}f}"


def pct(x):
    return "-" if x is None else f"{x:.2f}"


def threads_name(t):
    return "0 (ONNX Runtime's default)" if not t else str(t)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def ours_steps(job):
    """One job's seconds per row; the rows add up to the job's total (created -> finished)."""
    stages = {s["name"]: s for s in job["stages"]}
    audio, motion = stages.get("audio", {}), stages.get("motion", {})
    at, mt = audio.get("timings", {}), motion.get("timings", {})
    r = {
        "audio_conversion": at.get("audio_conversion", 0.0),
        "feature_extraction": at.get("feature_extraction", 0.0),
        "f0_extraction": at.get("f0_extraction", 0.0),
        "batch_preparation": mt.get("batch_preparation", 0.0),
        "audio_to_motion": mt.get("audio_to_motion", 0.0),
        "landmarks": mt.get("landmarks", 0.0),
        "preview": mt.get("preview", 0.0),
        "artifact_io": at.get("artifact_io", 0.0) + mt.get("artifact_io", 0.0) + at.get("feature_cache", 0.0),
        "queue_wait": sum(s.get("queue_wait_s") or 0.0 for s in stages.values()),
    }
    run = sum(s.get("run_s") or 0.0 for s in stages.values())
    timed = sum(sum(s.get("timings", {}).values()) for s in stages.values())
    r["untimed"] = run - timed
    r["gateway"] = job["total_s"] - r["queue_wait"] - run
    r["total"] = job["total_s"]
    return r


def mean_rows(per_job, keys):
    return {k: statistics.fmean(j[k] for j in per_job) for k in keys}


def ours_summary(d):
    ok = [j for j in d["jobs"] if j.get("state") == "succeeded" and j.get("total_s") is not None]
    per = [ours_steps(j) for j in ok]
    keys = [k for k, _ in OURS_ROWS] + ["total"]
    m = mean_rows(per, keys) if per else {}
    models = sorted({s["model"] for j in ok for s in j["stages"] if s.get("model")})
    providers = sorted({s["provider"] for j in ok for s in j["stages"] if s.get("provider")})
    return {"ok": ok, "failed": [j for j in d["jobs"] if j not in ok], "mean": m, "models": models,
            "providers": providers, "per": per}


def torch_summary(d):
    per = []
    for j in d["jobs"]:
        r = dict(j["timings"])
        r["other"] = j["total_s"] - sum(j["timings"].values())
        r["total"] = j["total_s"]
        per.append(r)
    return {"mean": mean_rows(per, [k for k, _ in TORCH_ROWS] + ["total"]), "per": per}


def table(rows, mean, paper=False, total_name="total (job created → finished)"):
    total = mean["total"]
    out = ["| step | mean s per clip | share % |" + (" paper, Jetson Nano % |" if paper else ""),
           "|---|---:|---:|" + ("---:|" if paper else "")]
    for key, name in rows:
        v = mean.get(key)
        if v is None:
            continue
        p = f" {pct(PAPER[key])} |" if paper and key in PAPER else (" - |" if paper else "")
        out.append(f"| {name} | {fmt(v, 4)} | {pct(100 * v / total)} |{p}")
    out.append(f"| **{total_name}** | **{fmt(total, 4)}** | 100 |"
               + (f" 100 ({PAPER_TOTAL_S} s) |" if paper else ""))
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--clips", required=True)
    p.add_argument("--notes", required=True)
    p.add_argument("--contention", required=True)
    p.add_argument("--elapsed", type=int, required=True)
    p.add_argument("--limit", type=int, default=0)
    a = p.parse_args()

    clip_s = {}
    with open(os.path.join(a.clips, "clips.tsv")) as f:
        next(f)
        for line in f:
            name, secs = line.split("\t")[:2]
            clip_s[name] = float(secs)
    contention = {}
    if os.path.exists(a.contention):
        for line in open(a.contention):
            label, others, wall, tries = line.rstrip("\n").split("\t")
            contention[label] = (float(others), float(wall), int(tries))
    notes = [n for n in open(a.notes).read().splitlines() if n.strip()] if os.path.exists(a.notes) else []
    notes = list(dict.fromkeys(notes))  # the same note from several runs once
    left_out = [n for n in notes if n.startswith("left out")]
    notes = [n for n in notes if not n.startswith("left out")]

    ours, ours_settings = {}, {}
    for label in ("large", "int8", "int8-preview"):
        runs = {}
        for path in sorted(glob.glob(os.path.join(a.run, f"ours-{label}-t*.json"))):
            if ".try" in path:
                continue
            d = load(path)
            run_label = os.path.basename(path)[:-5]
            if d is None:
                continue
            s = ours_summary(d)
            s["raw"], s["label"] = d, run_label
            if s["failed"]:
                left_out.append(f"left out: {run_label}: {len(s['failed'])} job(s) did not succeed, e.g. "
                                f"{s['failed'][0].get('clip')}: {s['failed'][0].get('reason')}")
            if s["ok"]:
                runs[run_label] = s
        if not runs:
            if not any(f"ours-{label}-t" in n for n in left_out):
                left_out.append(f"left out: ours-{label}: no result")
            continue
        ours_settings[label] = runs
        ours[label] = min(runs.values(), key=lambda r: r["mean"]["total"])
    torch_runs = {}
    for path in sorted(glob.glob(os.path.join(a.run, "torch-*.json"))):
        if ".try" in path:
            continue
        d = load(path)
        if d and d.get("jobs"):
            label = os.path.basename(path)[:-5]
            torch_runs[label] = {"raw": d, **torch_summary(d)}
    best_label = min(torch_runs, key=lambda k: torch_runs[k]["mean"]["total"]) if torch_runs else None
    torch = torch_runs.get(best_label)

    m = machine()
    n_clips = len(next(iter(ours.values()))["ok"]) if ours else (len(torch["per"]) if torch else 0)
    audio_mean = statistics.fmean(clip_s.values()) if not a.limit else statistics.fmean(
        clip_s[k] for k in sorted(clip_s)[:a.limit])
    print("# bench/pipeline: the paper's Table 2 on this CPU")
    print()
    print(f"Machine: {m['cpu']} ({', '.join(m['isa'])}), {m['cores']} cores, {m['mem']} RAM, {m['os']}, "
          f"kernel {m['kernel']}, .NET SDK {m['dotnet']}"
          + (f", ONNX Runtime {next(iter(ours.values()))['raw'].get('ort')}" if ours else "")
          + (f", torch {torch['raw']['torch']} / torchaudio {torch['raw']['torchaudio']} on OpenBLAS {m['openblas']}"
             if torch else "")
          + f". Date {datetime.date.today().isoformat()}; whole run {a.elapsed // 60} min {a.elapsed % 60} s.")
    print()
    print(f"Clips: {n_clips} (bench/make_clips.py; mean {audio_mean:.2f} s of speech at 22.05 kHz), each a whole job, "
          "one at a time. Weights are fixed-seed random (full-size architectures): timings are real, outputs mean "
          "nothing. Start-up (model load and warm-up) is excluded everywhere and reported below.")
    if a.limit:
        print()
        print(f"**Smoke test: only the first {a.limit} clips (BENCH_LIMIT) - not the benchmark.**")
    print()

    titles = {"large": "Ours: HuBERT-large (fp32) + geneface-a2m, standalone gateway, preview off",
              "int8": "Ours: Fast-HuBERT INT8 + geneface-a2m-fast, standalone gateway, preview off",
              "int8-preview": "Ours: Fast-HuBERT INT8 + geneface-a2m-fast, preview ON (its cost, reported separately)"}
    for label, s in ours.items():
        raw = s["raw"]
        rows = OURS_ROWS if label == "int8-preview" else [r for r in OURS_ROWS if r[0] != "preview"]
        print(f"## {titles[label]}")
        print()
        print(table(rows, s["mean"], paper=label != "int8-preview"))
        print()
        others = contention.get(s["label"])
        settings = ", ".join(f"{threads_name(r['raw']['ort_threads'])}: {fmt(r['mean']['total'], 4)} s"
                             for r in sorted(ours_settings[label].values(), key=lambda r: r["raw"]["ort_threads"]))
        print(f"Models {', '.join(s['models'])} on {', '.join(s['providers'])}, ORT intra-op threads "
              f"{threads_name(raw['ort_threads'])}"
              + (f" (best of {settings})" if len(ours_settings[label]) > 1 else "")
              + f"; {len(s['ok'])} jobs succeeded; real-time factor "
              f"{audio_mean / s['mean']['total']:.1f}x; start-up (load + warm every model, excluded) "
              f"{raw['startup_s']:.1f} s, warm-up job {raw.get('warmup_s', 0):.2f} s; peak RSS "
              f"{(raw.get('peak_rss_bytes') or 0) / 2**30:.2f} GiB"
              + (f"; other processes used {others[0]:.2f} cores meanwhile" if others else "")
              + (f" (attempt {others[2]})" if others and others[2] > 1 else "") + ".")
        print()

    if torch:
        raw = torch["raw"]
        startup = statistics.median(raw["praat_startup_s"]) if raw.get("praat_startup_s") else None
        print("## GeneFace++-style PyTorch path (sequential, models loaded once)")
        print()
        print(table(TORCH_ROWS, torch["mean"], total_name="total per clip"))
        print()
        others = contention.get(best_label)
        settings = ", ".join(f"{k.replace('torch-', '')}: {fmt(v['mean']['total'])} s" for k, v in torch_runs.items())
        print(f"Best of the thread settings (OPENBLAS_NUM_THREADS b, torch threads t): "
              f"b{raw['openblas_threads']}-t{raw['torch_threads']}; all: {settings}. "
              f"Model build/load {raw['load_s']:.1f} s (excluded). {raw['praat']}: an empty `praat --run` takes "
              f"{fmt(startup)} s (median of {len(raw['praat_startup_s'])}), paid once per clip inside F0 here; "
              "GeneFace++ calls parselmouth in-process and would not pay it (nothing is subtracted above)."
              + (f" Other processes used {others[0]:.2f} cores meanwhile." if others else ""))
        print()
    else:
        startup = None

    results = {}
    print("## Speed-up and goals")
    print()
    if torch:
        tt = torch["mean"]["total"]
        results["torch_path_s"] = tt
        print("| configuration | mean s per clip | speed-up over the PyTorch path | feature extraction share % |")
        print("|---|---:|---:|---:|")
        print(f"| PyTorch path (HuBERT-large + Praat + torch a2m) | {fmt(tt, 4)} | 1.00 | "
              f"{pct(100 * torch['mean']['feature_extraction'] / tt)} |")
        for label, key in (("large", ""), ("int8", "_int8")):
            if label in ours:
                s = ours[label]["mean"]
                results[f"ours{key}_s"] = s["total"]
                results[f"speedup{key}"] = tt / s["total"]
                results[f"feature_share{key}"] = 100 * s["feature_extraction"] / s["total"]
                print(f"| {titles[label].split(', standalone')[0].replace('Ours: ', 'ours: ')} | {fmt(s['total'], 4)} | "
                      f"{results[f'speedup{key}']:.1f}x | {pct(results[f'feature_share{key}'])} |")
        print()
        if "int8" in ours:
            s = ours["int8"]["mean"]
            print(f"Feature extraction alone: {fmt(torch['mean']['feature_extraction'], 4)} s (torch HuBERT-large) → "
                  + (f"{fmt(ours['large']['mean']['feature_extraction'], 4)} s (ORT HuBERT-large, "
                     f"{torch['mean']['feature_extraction'] / ours['large']['mean']['feature_extraction']:.1f}x) → "
                     if "large" in ours else "")
                  + f"{fmt(s['feature_extraction'], 4)} s (ORT Fast-HuBERT INT8, "
                  f"{torch['mean']['feature_extraction'] / s['feature_extraction']:.0f}x). "
                  f"F0: {fmt(torch['mean']['f0_extraction'], 4)} s (Praat process) → {fmt(s['f0_extraction'], 4)} s "
                  "(C# port of Praat's algorithm).")
            if startup is not None:
                est = (tt - startup) / s["total"]
                print()
                print(f"If the PyTorch path ran Praat in-process (parselmouth) instead, taking off the measured "
                      f"{fmt(startup)} s start-up per clip would leave {fmt(tt - startup, 4)} s per clip and a "
                      f"speed-up of about {est:.1f}x — an estimate, not a measurement.")
                results["speedup_int8_no_praat_startup"] = est
            print()
            goal1 = results["speedup_int8"] >= GOAL_SPEEDUP
            goal2 = results["feature_share_int8"] < 50
            print(f"- Goal ≥ {GOAL_SPEEDUP:.0f}x faster end to end with Fast-HuBERT INT8: "
                  f"**{'met' if goal1 else 'NOT met'}** ({results['speedup_int8']:.1f}x).")
            print(f"- Goal feature extraction no longer the majority of the time: **{'met' if goal2 else 'NOT met'}** "
                  f"({pct(results['feature_share_int8'])} % of the INT8 job; the PyTorch path: "
                  f"{pct(100 * torch['mean']['feature_extraction'] / tt)} %; the paper's Jetson Nano: 68.99 %).")
            print()
    if "int8-preview" in ours:
        s = ours["int8-preview"]["mean"]
        results["ours_int8_preview_s"] = s["total"]
        results["preview_s"] = s["preview"]
        base = ours["int8"]["mean"]["total"] if "int8" in ours else None
        print(f"Preview rendering (not in the paper's table): {fmt(s['preview'], 4)} s per clip, "
              f"{pct(100 * s['preview'] / s['total'])} % of a job with the preview on ({fmt(s['total'], 4)} s per clip"
              + (f" vs {fmt(base, 4)} s with it off" if base else "") + ").")
        print()
    if startup is not None:
        results["praat_startup_s"] = startup
    if "int8" in ours:
        results["ort_threads_int8"] = ours["int8"]["raw"]["ort_threads"]
    if "large" in ours:
        results["ort_threads"] = ours["large"]["raw"]["ort_threads"]
    if torch:
        results["torch_blas_threads"] = int(raw["openblas_threads"] or 0)
        results["torch_threads"] = raw["torch_threads"]
    results["clips"] = n_clips

    if notes:
        print("Notes: " + "; ".join(notes) + ".")
        print()
    if left_out:
        print("## Left out")
        print()
        for n in left_out:
            print(f"- {n[len('left out: '):] if n.startswith('left out: ') else n}")
        print()
    order = ["ours_s", "ours_int8_s", "torch_path_s", "speedup", "speedup_int8", "feature_share", "feature_share_int8",
             "ours_int8_preview_s", "preview_s", "praat_startup_s", "speedup_int8_no_praat_startup",
             "ort_threads", "ort_threads_int8", "torch_blas_threads", "torch_threads", "clips"]
    parts = []
    for k in order:
        if k in results:
            v = results[k]
            parts.append(f"{k}={v}" if isinstance(v, int) else f"{k}={v:.4g}")
    print("RESULT " + " ".join(parts))


if __name__ == "__main__":
    main()
