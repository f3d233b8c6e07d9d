#!/usr/bin/env python3
"""bench/gpu's measuring side: the paper's Table 3 GPU columns on whatever NVIDIA GPU this machine has.

Runs where a GPU machine usually is: Python with torch (CUDA) and its own onnx / onnxruntime, no .NET SDK, no network.
Everything it needs travels in the bundle `bench/gpu --bundle` makes (this file, tools/models' architecture code and
fp16 converter, the 50 speech clips); the models are built here with the same fixed seeds as tools/models/build.py.

Rows (each on its own; a row that cannot run is listed under "left out" with the reason, never faked):
  PyTorch HuBERT-large fp32 on CUDA, batch 1                     (the paper's baseline, GeneFace++'s feature model)
  PyTorch Fast-HuBERT fp32 and fp16 on CUDA, batch 1
  ONNX Runtime Fast-HuBERT fp32 and fp16 on CUDAExecutionProvider and TensorrtExecutionProvider, batch 1
                                                                 (only where this onnxruntime has those providers:
                                                                  the PyPI `onnxruntime` wheel is CPU-only;
                                                                  `onnxruntime-gpu` has them)
  batching gain: N clips cut to the same length, one at a time vs one batch of N, for the fastest Fast-HuBERT row
Timing: per clip, after one warm-up clip, torch.cuda.synchronize() around each; fbank / normalisation of the waveform
are inside the timing (the worker's feature step), resampling is not (the conversion step). Prints a Markdown table and
a last line RESULT name=value ...

    python3 bench/gpu_run.py [--device cuda|cpu] [--size full|demo] [--clips DIR] [--limit N] [--batch 8]
"""
import argparse
import glob
import inspect
import json
import os
import platform
import sys
import tempfile
import time
import traceback
import wave
from pathlib import Path

import numpy as np
import torch
import torchaudio

HERE = Path(__file__).resolve().parent
for candidate in (HERE / "models", HERE.parent / "tools" / "models"):  # the bundle's layout, then the repository's
    if (candidate / "archs.py").exists():
        sys.path.insert(0, str(candidate))
        break
import archs  # noqa: E402

FBANK_SCALE = archs.FAST_HUBERT_WAVEFORM_SCALE
SEED = 0


def log(*a):
    print("[gpu_run]", *a, file=sys.stderr, flush=True)


def read_wav(path):
    with wave.open(path, "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return data.reshape(-1, channels).mean(axis=1), rate


def seeded(architecture, size):
    torch.manual_seed(SEED)
    model, config = archs.build(architecture, size)
    if architecture == "fast-hubert":
        mean, std = archs.demo_cmvn(waveform_scale=FBANK_SCALE)
        model.set_cmvn(mean, std)
    return model.eval(), config


def fbank(x16):
    return torchaudio.compliance.kaldi.fbank(x16.unsqueeze(0) * FBANK_SCALE, num_mel_bins=80, frame_length=25.0,
                                             frame_shift=10.0, dither=0.0, sample_frequency=16000.0)


def normalised(x16):
    mean = x16.mean()
    return (x16 - mean) / torch.sqrt(((x16 - mean) ** 2).mean() + 1e-7)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_clips(run, inputs, device):
    """Mean seconds per clip over inputs after one warm-up (the first clip)."""
    run(inputs[0])
    sync(device)
    times = []
    for x in inputs:
        sync(device)
        t0 = time.perf_counter()
        run(x)
        sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.mean(times))


def export_onnx(model, path):
    x = torch.randn(1, 203, 80, generator=torch.Generator().manual_seed(1234)) + 12.0
    kwargs = dict(input_names=["fbank"], output_names=["features"], opset_version=17, do_constant_folding=True,
                  dynamic_axes={"fbank": {0: "batch", 1: "time"}, "features": {0: "batch", 1: "frames"}})
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter, as tools/models/build.py uses under torch 1.13
    torch.onnx.export(model.cpu(), (x,), str(path), **kwargs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--size", default="full", choices=("full", "demo"))
    p.add_argument("--clips", default=str(HERE / "clips"))
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--batch", type=int, default=8)
    a = p.parse_args()
    started = time.time()
    device = a.device
    left_out, rows, result = [], [], {}

    clips = sorted(glob.glob(os.path.join(a.clips, "clip*.wav")))[: a.limit or None]
    if not clips:
        sys.exit(f"gpu_run: no clip*.wav in {a.clips}")
    inputs = []
    for path in clips:
        x, rate = read_wav(path)
        inputs.append(torchaudio.functional.resample(torch.from_numpy(x), rate, 16000).contiguous())
    audio_s = sum(len(x) for x in inputs) / 16000.0
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "CPU"
    log(f"{len(inputs)} clips, {audio_s:.1f} s of audio; device {device} ({gpu}); models {a.size}")

    def row(label, fn):
        try:
            log(label)
            seconds = fn()
            rows.append((label, seconds))
            return seconds
        except Exception as e:  # noqa: BLE001 - reported as left out, with the reason
            left_out.append(f"{label}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            log(traceback.format_exc())
            return None

    # --- PyTorch
    hubert, _ = seeded("hubert-large", a.size)
    hubert = hubert.to(device)
    with torch.inference_mode():
        t_hubert = row("PyTorch HuBERT-large fp32, batch 1",
                       lambda: time_clips(lambda x: hubert(normalised(x.to(device)).unsqueeze(0)), inputs, device))
    del hubert
    if device == "cuda":
        torch.cuda.empty_cache()

    fast, _ = seeded("fast-hubert", a.size)
    fast_dev = fast.to(device)
    with torch.inference_mode():
        t_fast32 = row("PyTorch Fast-HuBERT fp32, batch 1",
                       lambda: time_clips(lambda x: fast_dev(fbank(x).to(device).unsqueeze(0)), inputs, device))
        if device == "cuda":
            fast16 = seeded("fast-hubert", a.size)[0].to(device).half()
            t_fast16 = row("PyTorch Fast-HuBERT fp16, batch 1",
                           lambda: time_clips(lambda x: fast16(fbank(x).to(device).half().unsqueeze(0)), inputs, device))
        else:
            t_fast16 = None
            left_out.append("PyTorch Fast-HuBERT fp16: no CUDA device (PyTorch's CPU kernels do not all take fp16)")

    # --- ONNX Runtime
    ort_times = {}
    work = Path(tempfile.mkdtemp(prefix="tf-gpu-"))
    exported = False
    try:  # the ONNX files, as tools/models makes them: export, then fp16 by tools/models/fp16.py
        import onnx
        import fp16 as fp16_tool
        export_onnx(seeded("fast-hubert", a.size)[0], work / "fast-hubert.onnx")
        m16, report = fp16_tool.convert(onnx.load(str(work / "fast-hubert.onnx")))
        onnx.save(m16, str(work / "fast-hubert-fp16.onnx"))
        log(f"exported Fast-HuBERT to ONNX, fp16 variant: {report['fp16Initializers']} fp16 initializers, "
            f"{report['nodesKeptFp32']} nodes kept fp32")
        exported = True
    except Exception as e:  # noqa: BLE001
        left_out.append(f"every ONNX Runtime row: the ONNX export failed: {type(e).__name__}: {e}")
    try:
        if not exported:
            raise ImportError("no ONNX files")
        import onnxruntime as ort
        providers = ort.get_available_providers()
        log(f"onnxruntime {ort.__version__}: {providers}")
        longest = max(fbank(x).shape[0] for x in inputs)
        for ep, ort_name in (("CUDA", "CUDAExecutionProvider"), ("TensorRT", "TensorrtExecutionProvider")):
            if ort_name not in providers:
                left_out.append(f"ONNX Runtime Fast-HuBERT on {ep}: this onnxruntime ({ort.__version__}) has {', '.join(providers)} "
                                f"(the PyPI 'onnxruntime' wheel is CPU-only; 'onnxruntime-gpu' has CUDA and TensorRT)")
                continue
            for precision in ("fp32", "fp16"):
                path = work / ("fast-hubert.onnx" if precision == "fp32" else "fast-hubert-fp16.onnx")
                if ep == "TensorRT":
                    cache = work / f"trt-{precision}"
                    cache.mkdir(exist_ok=True)
                    options = {"trt_fp16_enable": precision == "fp16", "trt_engine_cache_enable": True,
                               "trt_engine_cache_path": str(cache), "trt_max_workspace_size": 1 << 30,
                               "trt_profile_min_shapes": "fbank:1x100x80",
                               "trt_profile_opt_shapes": f"fbank:1x{longest}x80",
                               "trt_profile_max_shapes": f"fbank:{a.batch}x{longest}x80"}
                    chosen = [(ort_name, options), "CUDAExecutionProvider"]
                else:
                    chosen = [(ort_name, {"cudnn_conv_algo_search": "EXHAUSTIVE"})]
                label = f"ONNX Runtime {ep} Fast-HuBERT {precision}, batch 1"

                def run_ort(path=path, chosen=chosen):
                    session = ort.InferenceSession(str(path), providers=chosen)
                    used = session.get_providers()[0]
                    if used != chosen[0][0]:
                        raise RuntimeError(f"session runs on {used}, not {chosen[0][0]}")
                    return time_clips(lambda x: session.run(None, {"fbank": fbank(x).unsqueeze(0).numpy()}), inputs, "cpu")

                ort_times[(ep, precision)] = row(label, run_ort)
        if not any(k[0] in ("CUDA", "TensorRT") for k in ort_times):
            cpu_label = "ONNX Runtime CPU Fast-HuBERT fp32, batch 1 (no GPU provider here)"
            session = ort.InferenceSession(str(work / "fast-hubert.onnx"), providers=["CPUExecutionProvider"])
            ort_times[("CPU", "fp32")] = row(cpu_label, lambda: time_clips(
                lambda x: session.run(None, {"fbank": fbank(x).unsqueeze(0).numpy()}), inputs, "cpu"))
    except ImportError as e:
        if exported:
            left_out.append(f"every ONNX Runtime row: {e} (this Python has no onnxruntime; the ONNX export and fp16 conversion ran)")

    # --- batching gain: N clips cut to the shortest, fastest torch Fast-HuBERT precision on this device
    n = min(a.batch, len(inputs))
    if n >= 2:
        cut = min(len(x) for x in inputs[:n])
        same = [x[:cut] for x in inputs[:n]]
        model, dtype = (fast16, torch.float16) if t_fast16 is not None and (t_fast32 is None or t_fast16 < t_fast32) else (fast_dev, torch.float32)
        with torch.inference_mode():
            def one_by_one():
                sync(device)
                t0 = time.perf_counter()
                for x in same:
                    model(fbank(x).to(device, dtype).unsqueeze(0))
                sync(device)
                return (time.perf_counter() - t0) / n

            def batched():
                sync(device)
                t0 = time.perf_counter()
                model(torch.stack([fbank(x) for x in same]).to(device, dtype))
                sync(device)
                return (time.perf_counter() - t0) / n
            try:
                one_by_one(), batched()  # warm-up of both shapes
                single = min(one_by_one() for _ in range(5))
                together = min(batched() for _ in range(5))
                label = f"PyTorch Fast-HuBERT {'fp16' if dtype == torch.float16 else 'fp32'}, {n} clips of {cut / 16000:.2f} s"
                rows.append((label + ", one at a time", single))
                rows.append((label + f", one batch of {n}", together))
                result["batch_gain"] = single / together
            except Exception as e:  # noqa: BLE001
                left_out.append(f"batching gain: {type(e).__name__}: {e}")

    # --- report
    print(f"# bench/gpu - {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print(f"Device: {device} ({gpu}); torch {torch.__version__}, torchaudio {torchaudio.__version__}; "
          f"{len(inputs)} clips, {audio_s:.1f} s of speech; {a.size}-size architectures with fixed-seed (untrained) "
          f"weights: the timings are real, the features mean nothing.")
    print()
    print("| row | s per clip | real-time factor | speed-up over PyTorch HuBERT-large |")
    print("|---|---|---|---|")
    per_clip_audio = audio_s / len(inputs)
    for label, seconds in rows:
        speedup = f"{t_hubert / seconds:.2f}x" if t_hubert and label.endswith("batch 1") and "HuBERT-large" not in label else ""
        print(f"| {label} | {seconds:.5f} | {per_clip_audio / seconds:.1f}x | {speedup} |")
    print()
    if left_out:
        print("Left out:")
        for line in left_out:
            print(f"- {line}")
        print()
    print(f"Took {time.time() - started:.0f} s.")
    result.update({"device": device, "clips": len(inputs)})
    if t_hubert:
        result["hubert_torch_s"] = t_hubert
    if t_fast32:
        result["fast_torch_fp32_s"] = t_fast32
    if t_fast16:
        result["fast_torch_fp16_s"] = t_fast16
    for (ep, precision), seconds in ort_times.items():
        if seconds:
            result[f"fast_ort_{ep.lower()}_{precision}_s"] = seconds
            if t_hubert:
                result[f"fast_ort_{ep.lower()}_{precision}_speedup"] = t_hubert / seconds
    result["left_out"] = len(left_out)
    print("RESULT " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
