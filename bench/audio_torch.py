#!/usr/bin/python3
"""PyTorch side of bench/audio: feature-extraction time per clip for one model at one thread setting.

The torch module is tools/models' own (archs.py via build.seeded_model) with the seed recorded in the ONNX model's
manifest, so torch and ONNX Runtime run the same weights. Per clip, outside the timing: read the WAV and resample it
to 16 kHz with torchaudio's default resampler (the audio conversion stage). Timed, as the worker's feature step:
  hubert-large  per-utterance normalisation (x - mean) / sqrt(var + 1e-7), then the model
  fast-hubert   torchaudio.compliance.kaldi.fbank (80 bins, 25/10 ms, dither 0), then the model
under torch.inference_mode(). One warm-up pass on the first clip is not timed.

BLAS threads come from the environment (OPENBLAS_NUM_THREADS must be set before torch loads); --threads sets
torch.set_num_threads (ATen/OpenMP). Prints one JSON line.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/audio_torch.py --models-root DIR --clips DIR \\
           --model hubert-large|fast-hubert --threads 1 [--dump clip0-features.f32]
"""
import argparse
import glob
import json
import os
import sys
import time
import wave
from pathlib import Path

import numpy as np
import torch
import torchaudio

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools" / "models"))
import build  # noqa: E402  (tools/models/build.py: seeded_model)


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2, path
        rate, channels = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return data.reshape(-1, channels).mean(axis=1), rate


def mapped_blas():
    """The BLAS / LAPACK shared objects this process has mapped (which libblas.so.3 Debian's alternatives picked)."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in path or "lapack" in path:
                libs.add(os.path.realpath(path))
    return sorted(libs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models-root", required=True)
    p.add_argument("--clips", required=True)
    p.add_argument("--model", required=True, choices=("hubert-large", "fast-hubert"))
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--dump", help="write the first clip's features here (raw float32, [frames, dim])")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    folder = sorted(Path(a.models_root, a.model).glob("*/manifest.json"))[-1].parent
    manifest = json.loads((folder / "manifest.json").read_text())
    seed = manifest["config"]["seed"]
    if seed is None:
        sys.exit(f"{folder}: not fixed-seed weights; the torch side can only rebuild seeded models")
    t0 = time.perf_counter()
    model, _ = build.seeded_model(a.model, manifest["config"]["size"], seed)
    build_s = time.perf_counter() - t0

    clips = sorted(glob.glob(os.path.join(a.clips, "clip*.wav")))
    inputs = []
    for path in clips:
        x, rate = read_wav(path)
        x16 = torchaudio.functional.resample(torch.from_numpy(x), rate, 16000)
        inputs.append(x16.contiguous())

    # fbank of samples scaled by the manifest's waveformScale (32768 for Fast-HuBERT graphs, as upstream; 1 when absent)
    # as the C# FeatureExtractor does
    fbank_scale = float(((manifest.get("input") or {}).get("fbank") or {}).get("waveformScale", 1.0))

    def features(x16):
        if a.model == "fast-hubert":
            fb = torchaudio.compliance.kaldi.fbank(x16.unsqueeze(0) * fbank_scale, num_mel_bins=80, frame_length=25.0,
                                                   frame_shift=10.0, dither=0.0, sample_frequency=16000.0)
            return model(fb.unsqueeze(0))
        mean = x16.mean()
        var = ((x16 - mean) ** 2).mean()
        return model(((x16 - mean) / torch.sqrt(var + 1e-7)).unsqueeze(0))

    with torch.inference_mode():
        t0 = time.perf_counter()
        first = features(inputs[0])
        warmup_s = time.perf_counter() - t0
        if a.dump:
            first[0].numpy().astype("<f4").tofile(a.dump)
        times = []
        for x16 in inputs:
            t0 = time.perf_counter()
            y = features(x16)
            times.append(time.perf_counter() - t0)
            assert y.shape[0] == 1 and y.shape[2] == manifest["output"]["featureDim"]

    print(json.dumps({
        "side": "torch", "model": a.model, "manifest": f"{manifest['name']}/{manifest['version']}",
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "torch_threads": torch.get_num_threads(),
        "clips": len(times), "audio_s": sum(len(x) for x in inputs) / 16000.0,
        "mean_s": sum(times) / len(times), "min_s": min(times), "max_s": max(times), "total_s": sum(times),
        "warmup_s": warmup_s, "build_s": build_s, "first_shape": list(first.shape),
        "blas": mapped_blas(), "torch": torch.__version__, "torchaudio": torchaudio.__version__,
    }))


if __name__ == "__main__":
    main()
