#!/usr/bin/python3
"""Report of bench/audio: reads the JSON lines the PyTorch (bench/audio_torch.py) and ONNX Runtime (bench/AudioBench)
runs wrote, prints the Markdown report and, as its very last line, RESULT name=value ...

Only figures that were measured in this run are printed; anything that failed is named under "Left out"."""
import argparse
import datetime
import glob
import json
import os
import platform
import subprocess

import numpy as np

PAPER_M4 = {"hubert": 1.57, "hubert_onnx": 1.76, "fast": 0.66, "fast_onnx": 0.28}


def sh(*cmd):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    except Exception:  # noqa: BLE001 - informational only
        return ""


def machine():
    cpu = "unknown CPU"
    flags = ""
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
    cores = len(os.sched_getaffinity(0))
    os_name = ""
    if os.path.exists("/etc/os-release"):
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    return {
        "cpu": cpu, "isa": isa, "cores": cores, "mem": mem, "os": os_name, "kernel": platform.release(),
        "openblas": sh("dpkg-query", "-W", "-f=${Version}", "libopenblas0-pthread"),
        "libblas": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"),
        "dotnet": sh("dotnet", "--version"),
        "espeak": sh("espeak-ng", "--version").split(" Data")[0].strip(),
        "load": open("/proc/loadavg").read().split()[:3],
    }


def fmt(x, digits=3):
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def num(x):
    return f"{x:.4g}"


def gib(b):
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def main():
    p = argparse.ArgumentParser()
    for a in ("results", "notes", "run", "clips", "models", "elapsed", "stage-threads"):
        p.add_argument("--" + a, required=True)
    a = p.parse_args()
    rows = [json.loads(line) for line in open(a.results) if line.strip()]
    notes = [line.rstrip() for line in open(a.notes) if line.strip()]
    m = machine()

    def best(side, model):
        c = [r for r in rows if r["side"] == side and r["model"] == model]
        return min(c, key=lambda r: r["mean_s"]) if c else None

    ht, ft = best("torch", "hubert-large"), best("torch", "fast-hubert")
    ho, fo, fq = best("onnx", "hubert-large"), best("onnx", "fast-hubert"), best("onnx", "fast-hubert-int8")
    stages = {r["model"]: r for r in rows if r["side"] == "stage"}
    base = ht["mean_s"] if ht else None

    def cell(r):
        if r is None:
            return "not measured"
        s = fmt(r["mean_s"])
        if base and r is not ht:
            s += f" ({base / r['mean_s']:.2f}x)"
        return s

    def peaks(name):
        return [r for r in rows if r["side"] in ("onnx", "stage") and r["model"] == name and "vmhwm_bytes" in r]

    def rss_ratio(name):
        return max(r["vmhwm_bytes"] for r in peaks(name)) / peaks(name)[0]["file_bytes"]

    def others(r):
        v = r.get("others_cores")
        return "?" if v is None else f"{v:.2f} cores"

    def setting(r):
        if r is None:
            return "-"
        if r["side"] == "torch":
            return f"OpenBLAS {r['openblas_threads']}, torch {r['torch_threads']} thr"
        return f"ORT {r['threads']} thr"

    secs = []
    for line in open(os.path.join(a.clips, "clips.tsv")).read().splitlines()[1:]:
        secs.append(float(line.split("\t")[1]))
    torch_v = next((r["torch"] for r in rows if r["side"] == "torch"), "?")
    ta_v = next((r["torchaudio"] for r in rows if r["side"] == "torch"), "?")
    ort_v = next((r["ort"] for r in rows if r["side"] in ("onnx", "stage")), "?")
    blas_used = sorted({b for r in rows if r["side"] == "torch" for b in r.get("blas", [])})
    label = f"{m['cpu']}, {m['cores']} cores"

    out = []
    w = out.append
    w("## bench/audio: feature extraction on this CPU (the paper's Table 3)")
    w("")
    w(f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; whole run {int(a.elapsed)} s")
    w(f"- Machine: {m['cpu']} ({', '.join(m['isa']) or 'no AVX2'}), {m['cores']} cores, {m['mem']}, {m['os']}, "
      f"kernel {m['kernel']}; load average at the end {' '.join(m['load'])}")
    w(f"- PyTorch {torch_v} / torchaudio {ta_v} (Debian), BLAS mapped by torch: {', '.join(blas_used) or '?'} "
      f"(libopenblas0-pthread {m['openblas'] or 'not installed'})")
    w(f"- ONNX Runtime {ort_v} (C#, CPUExecutionProvider, graph optimisation ALL), .NET SDK {m['dotnet']}")
    w(f"- Clips: {len(secs)} espeak-ng clips ({m['espeak']}), {min(secs):.2f}-{max(secs):.2f} s, mean "
      f"{sum(secs) / len(secs):.2f} s, total {sum(secs):.1f} s, 22.05 kHz mono 16-bit (bench/make_clips.py)")
    sizes = {}
    for name in ("hubert-large", "fast-hubert", "fast-hubert-int8"):
        mf = sorted(glob.glob(os.path.join(a.models, name, "*", "manifest.json")))
        if mf:
            j = json.load(open(mf[-1]))
            sizes[name] = j["sizeBytes"]
    w("- Models: full-size architectures with fixed-seed (untrained) weights from tools/models/build.py; the PyTorch "
      "runs rebuild the same seeded modules from tools/models/archs.py. ONNX files: "
      + ", ".join(f"{k} {gib(v)}" for k, v in sizes.items()))
    w("- Timed: per clip, input preparation (normalised waveform for HuBERT, 80-bin Kaldi fbank for Fast-HuBERT) + "
      "model, on 16 kHz audio resampled beforehand; session/model loaded once; one warm-up clip not timed; "
      "mean over the 50 clips. Each model at its best thread setting of those tried.")
    w("")
    w("Mean seconds per clip and speed-up over PyTorch HuBERT-large:")
    w("")
    w("| device | HuBERT | HuBERT ONNX | Fast-HuBERT | Fast-HuBERT ONNX | Fast-HuBERT ONNX INT8 |")
    w("|---|---|---|---|---|---|")
    w(f"| {label} | {cell(ht)} | {cell(ho)} | {cell(ft)} | {cell(fo)} | {cell(fq)} |")
    w(f"| (best threads) | {setting(ht)} | {setting(ho)} | {setting(ft)} | {setting(fo)} | {setting(fq)} |")
    w(f"| Apple M4 (paper) | {PAPER_M4['hubert']} | {PAPER_M4['hubert_onnx']} (0.89x) | {PAPER_M4['fast']} (2.36x) "
      f"| {PAPER_M4['fast_onnx']} (5.45x) | - |")
    chosen = [r for r in (ht, ho, ft, fo, fq) if r] + list(stages.values())
    busy = max((r.get("others_cores", 0) for r in chosen), default=0)
    w("")
    w(f"Other processes on this shared machine used up to {busy:.2f} cores (of {m['cores']}) during the runs reported "
      "above (measured from /proc/stat minus this benchmark's own CPU time); figures taken while others were busy are "
      "slower than this CPU can do." if busy >= 0.1 else
      f"Other processes used at most {busy:.2f} cores during the runs reported above (from /proc/stat).")
    w("")
    w("Every thread setting tried (mean s per clip):")
    w("")
    w("| model | runtime | threads | mean s | min s | max s | other processes' CPU meanwhile |")
    w("|---|---|---|---|---|---|---|")
    for r in rows:
        if r["side"] in ("torch", "onnx"):
            w(f"| {r['model']} | {'PyTorch' if r['side'] == 'torch' else 'ONNX Runtime'} | {setting(r)} | "
              f"{fmt(r['mean_s'])} | {fmt(r['min_s'])} | {fmt(r['max_s'])} | {others(r)} |")
    w("")

    # parity: first clip's features, torch vs ONNX Runtime (same weights)
    parity = []
    for torch_name, onnx_name in (("hubert-large", "hubert-large"), ("fast-hubert", "fast-hubert"),
                                  ("fast-hubert", "fast-hubert-int8")):
        tp, op = os.path.join(a.run, f"torch-{torch_name}.f32"), os.path.join(a.run, f"onnx-{onnx_name}.f32")
        if os.path.exists(tp) and os.path.exists(op):
            t, o = np.fromfile(tp, dtype="<f4"), np.fromfile(op, dtype="<f4")
            if t.size == o.size:
                d = np.abs(t.astype(np.float64) - o)
                parity.append(f"{onnx_name} vs PyTorch {torch_name}: max abs diff {d.max():.3g}, mean abs diff "
                              f"{d.mean():.3g} (features' mean abs {np.abs(t).mean():.3g}, mean {t.mean():.3g} vs {o.mean():.3g})")
            else:
                parity.append(f"{onnx_name} vs PyTorch {torch_name}: different sizes {o.size} vs {t.size}")
    if parity:
        w("Same weights on both sides (first clip's features):")
        w("")
        for s in parity:
            w(f"- {s}")
        w("")

    if stages:
        st = a.stage_threads
        w(f"Audio stage as the worker runs it, one process per model (decode WAV + resample to 16 kHz + fbank or "
          f"normalisation + model + GeneFace++ F0), ORT intra-op threads {st if st != '0' else 'default (0)'}, model "
          f"preloaded and warmed, one warm-up clip not timed; RTF = audio seconds / wall seconds over the 50 clips; "
          f"peak RSS = VmHWM of that process (server GC, as the worker):")
        w("")
        w("| model | audio s | wall s | decode+resample s | features s | F0 s | RTF | other processes' CPU | model file | peak RSS (stage) | peak RSS, every process | RSS / file (highest) |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name in ("fast-hubert-int8", "fast-hubert", "hubert-large"):
            r = stages.get(name)
            if r:
                procs = peaks(name)
                w(f"| {name} | {r['audio_s']:.1f} | {r['wall_s']:.2f} | {r['conversion_s']:.2f} | {r['features_s']:.2f} | "
                  f"{r['f0_s']:.2f} | {r['rtf']:.1f} | {others(r)} | {gib(r['file_bytes'])} | {gib(r['vmhwm_bytes'])} | "
                  f"{' / '.join(gib(p['vmhwm_bytes']) for p in procs)} | {rss_ratio(name):.2f}x |")
        w("")
        w("Peak RSS is VmHWM of each process that loaded the model (ONNX timing runs at each thread setting, then the "
          "stage run); the ratio uses the highest, since peak memory varies between otherwise identical runs.")
        split = [r for r in rows if "rss_anon_bytes" in r]
        if split:
            w("Anonymous / file-backed RSS at the end of each process: "
              + "; ".join(f"{r['label']} {gib(r['rss_anon_bytes'])} / {gib(r['rss_file_bytes'])}" for r in split) + ".")
        w("")

    result = {}
    if ht:
        result["hubert_torch_s"] = ht["mean_s"]
    if ho:
        result["hubert_onnx_s"] = ho["mean_s"]
        if base:
            result["hubert_onnx_speedup"] = base / ho["mean_s"]
    if ft:
        result["fast_torch_s"] = ft["mean_s"]
        if base:
            result["fast_torch_speedup"] = base / ft["mean_s"]
    if fo:
        result["fast_onnx_s"] = fo["mean_s"]
        if base:
            result["fast_onnx_speedup"] = base / fo["mean_s"]
    if fq:
        result["fast_int8_s"] = fq["mean_s"]
        if base:
            result["fast_int8_speedup"] = base / fq["mean_s"]
    if "fast-hubert-int8" in stages:
        result["rtf"] = stages["fast-hubert-int8"]["rtf"]
    # rss_ratio is the largest model's (HuBERT-large, 1.2 GB): the case where the ratio measures the model's
    # footprint rather than the fixed .NET + ONNX Runtime overhead; the other two are reported beside it. Each is
    # the highest peak over every process that loaded the model.
    for name, key in (("hubert-large", "rss_ratio"), ("fast-hubert", "rss_ratio_fast_onnx"),
                      ("fast-hubert-int8", "rss_ratio_fast_int8")):
        if peaks(name):
            result[key] = rss_ratio(name)

    goals = [
        ("Fast-HuBERT ONNX INT8 speed-up over PyTorch HuBERT-large", "fast_int8_speedup", ">=", 50, "x"),
        ("HuBERT-large ONNX speed-up over PyTorch HuBERT-large", "hubert_onnx_speedup", ">=", 3.5, "x"),
        (f"audio stage real-time factor (Fast-HuBERT INT8, {m['cores']} cores)", "rtf", ">=", 100, ""),
        ("peak RSS / model file, HuBERT-large ONNX worker", "rss_ratio", "<=", 1.3, "x"),
        ("peak RSS / model file, Fast-HuBERT ONNX worker", "rss_ratio_fast_onnx", "<=", 1.3, "x"),
        ("peak RSS / model file, Fast-HuBERT INT8 worker", "rss_ratio_fast_int8", "<=", 1.3, "x"),
    ]
    w("Goals:")
    w("")
    w("| goal | target | measured | met |")
    w("|---|---|---|---|")
    for text, key, op, target, unit in goals:
        if key in result:
            v = result[key]
            ok = v >= target if op == ">=" else v <= target
            w(f"| {text} | {op} {target}{unit} | {v:.2f}{unit} | {'yes' if ok else '**no**'} |")
        else:
            w(f"| {text} | {op} {target}{unit} | not measured | - |")
    w("")
    if notes:
        w("Notes and anything left out:")
        w("")
        for n in notes:
            w(f"- {n}")
        w("")
    w("RESULT " + " ".join(f"{k}={num(v)}" for k, v in result.items()))
    print("\n".join(out))


if __name__ == "__main__":
    main()
