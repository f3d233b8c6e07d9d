#!/usr/bin/python3
"""The sequential GeneFace++-style PyTorch path of bench/pipeline: its audio-to-motion front half, one clip at a time,
models loaded once (outside the timing), every step timed per clip:

  audio_conversion    torchaudio.load (the WAV from disk), downmix, torchaudio.functional.resample to 16 kHz
                      (GeneFace++ shells out to ffmpeg here; in-process torchaudio is the cheaper choice)
  feature_extraction  GeneFace++'s get_hubert_from_16k_speech: HF Wav2Vec2FeatureExtractor normalisation
                      ((x - mean) / sqrt(var + 1e-7) over the clip) then HuBERT-large in 20 s chunks
                      (320,000 samples + 80 of overlap, the remainder run when >= 400 samples), frames cut or padded
                      to (samples - 80) // 320, then .numpy(). The torch module is tools/models/archs.py's, rebuilt
                      with the seed in the ONNX model's manifest: the same weights ONNX Runtime runs.
  f0_extraction       Praat itself, `praat --run tests/reference/f0.praat` (To Pitch (ac) at GeneFace++'s settings:
                      0.02 s, 80-750 Hz, voicing 0.6) on the clip right-padded to (len // 320 + 1) * 320 samples,
                      written as a float WAV to a temporary folder (tools/models/build_a2m.py praat_f0_50hz, which
                      also cuts/pads the track to the HuBERT frames). A new Praat process per clip: GeneFace++ calls
                      parselmouth in-process, which Debian does not package, so the process start-up (measured on an
                      empty script, reported) is inside this step's time.
  batch_preparation   GeneFace++'s prepare_batch_from_inp in numpy, as the C# BatchPreparation does it
                      (build_a2m.prepare_inputs): T = ceil(frames / 2) motion frames, padded to a multiple of 8 with
                      a mask, F0 halved every other value, z = seeded N(0, 1) * 0.2; then torch.from_numpy.
  audio_to_motion     GeneFace++'s PitchContourVAEModel at inference (tools/models/a2m.py, full width, manifest seed),
                      the whole clip in one pass, under torch.inference_mode(), result to numpy.
  landmarks           68 x 3 points per frame from the 64 expression coefficients: mean + sum_k exp[t, k] basis[k]
                      (the manifest's landmark assets), as the C# motion stage does (its 2-D projection is left out).

One untimed warm-up of every step on --warmup (not one of the clips). BLAS threads come from the environment
(OPENBLAS_NUM_THREADS must be set before torch loads); --threads sets torch.set_num_threads. Prints one JSON line.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/pipeline_torch.py --models-root .models-full \\
           --clips bench/.work/clips --threads 1 [--warmup samples/hello.wav] [--limit N] [--praat-runs 10]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchaudio

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True  # keep tools/models free of __pycache__
sys.path.insert(0, str(REPO / "tools" / "models"))
import a2m  # noqa: E402  (tools/models/a2m.py: seeded_model)
import build  # noqa: E402  (tools/models/build.py: seeded_model)
import build_a2m  # noqa: E402  (praat_f0_50hz, prepare_inputs)

SAMPLE_RATE = 16000
KERNEL, STRIDE = 400, 320           # HuBERT's conv front end as one Conv1d: 400-sample kernel, 320-sample hop
CHUNK = STRIDE * 1000               # GeneFace++'s 20 s chunks
STEPS = ("audio_conversion", "feature_extraction", "f0_extraction", "batch_preparation", "audio_to_motion", "landmarks")


def newest(models_root, name):
    folders = sorted(Path(models_root, name).glob("*/manifest.json"))
    if not folders:
        sys.exit(f"{models_root}/{name}: no manifest (build it: tools/models/build.py / build_a2m.py --size full)")
    folder = folders[-1].parent
    return folder, json.loads((folder / "manifest.json").read_text())


def hubert_genefacepp(model, speech):
    """GeneFace++ data_gen/utils/process_audio/extract_hubert.py get_hubert_from_16k_speech, on CPU."""
    x = speech.numpy().astype(np.float32)
    input_values_all = torch.from_numpy(((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)).unsqueeze(0)
    num_iter = input_values_all.shape[1] // CHUNK
    expected_t = (input_values_all.shape[1] - (KERNEL - STRIDE)) // STRIDE
    res = []
    for i in range(num_iter):
        start = CHUNK * i
        end = start + (CHUNK - STRIDE + KERNEL)
        res.append(model(input_values_all[:, start:end])[0])
    rest = input_values_all[:, CHUNK * num_iter:] if num_iter > 0 else input_values_all
    if rest.shape[1] >= KERNEL:  # GeneFace++ skips a remainder shorter than the kernel
        res.append(model(rest)[0])
    ret = torch.cat(res, dim=0)
    assert abs(ret.shape[0] - expected_t) <= 1, (ret.shape, expected_t)
    if ret.shape[0] < expected_t:
        ret = torch.nn.functional.pad(ret, (0, 0, 0, expected_t - ret.shape[0]))
    else:
        ret = ret[:expected_t]
    return ret.numpy()


def praat_startup(runs):
    """Seconds `praat --run` takes on a script that does nothing (one untimed run first)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "empty.praat"
        script.write_text("a = 1\n")
        times = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            subprocess.run(["praat", "--run", str(script)], check=True, capture_output=True)
            if i:
                times.append(time.perf_counter() - t0)
    return times


def mapped_blas():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and ("blas" in parts[-1] or "lapack" in parts[-1]):
                libs.add(os.path.realpath(parts[-1]))
    return sorted(libs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models-root", required=True)
    p.add_argument("--clips", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", default=str(REPO / "samples" / "hello.wav"))
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--praat-runs", type=int, default=10, help="empty Praat runs for the start-up figure")
    p.add_argument("--feature-model", default="hubert-large")
    p.add_argument("--motion-model", default="geneface-a2m")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    _, hmanifest = newest(a.models_root, a.feature_model)
    mfolder, mmanifest = newest(a.models_root, a.motion_model)
    for m in (hmanifest, mmanifest):
        if m["config"].get("seed") is None:
            sys.exit(f"{m['name']}/{m['version']}: not fixed-seed weights; this path can only rebuild seeded models")
    if a.feature_model not in mmanifest["accepts"]["featureModels"]:
        sys.exit(f"{a.motion_model} does not read {a.feature_model}")
    t0 = time.perf_counter()
    hubert, _ = build.seeded_model(a.feature_model, hmanifest["config"]["size"], hmanifest["config"]["seed"])
    c = mmanifest["config"]
    motion, _ = a2m.seeded_model(a.motion_model, c["size"], c["seed"], c["blink"], c["mouthAmp"], c["eyeAmp"])
    lm_mean = np.load(mfolder / mmanifest["assets"]["landmarkMean"]["file"]).astype(np.float32)
    lm_basis = np.load(mfolder / mmanifest["assets"]["landmarkBasis"]["file"]).astype(np.float32)
    load_s = time.perf_counter() - t0
    contract = a.motion_model if a.motion_model in a2m.CONTRACTS else "geneface-a2m"

    def run(path):
        times = {}
        t = time.perf_counter()
        wav, rate = torchaudio.load(path)
        speech = torchaudio.functional.resample(wav.mean(dim=0), rate, SAMPLE_RATE)
        times["audio_conversion"] = time.perf_counter() - t

        t = time.perf_counter()
        hub = hubert_genefacepp(hubert, speech)
        times["feature_extraction"] = time.perf_counter() - t

        t = time.perf_counter()
        f0_50 = build_a2m.praat_f0_50hz(speech.numpy(), hub.shape[0])
        times["f0_extraction"] = time.perf_counter() - t

        t = time.perf_counter()
        features, f0, mask, z, frames = build_a2m.prepare_inputs(hub, f0_50, contract, seed=0,
                                                                  temperature=mmanifest["latent"]["temperature"])
        batch = [torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for v in (features, f0, mask, z)]
        times["batch_preparation"] = time.perf_counter() - t

        t = time.perf_counter()
        exp = motion(*batch)[0, :frames].numpy()
        times["audio_to_motion"] = time.perf_counter() - t

        t = time.perf_counter()
        points = lm_mean[None] + np.einsum("tk,kpc->tpc", exp, lm_basis, optimize=True)
        times["landmarks"] = time.perf_counter() - t
        return times, {"samples_16k": int(speech.shape[0]), "hubert_frames": int(hub.shape[0]), "frames": int(frames),
                       "exp_shape": list(exp.shape), "landmarks_shape": list(points.shape),
                       "voiced_f0": int((f0_50 > 0).sum())}

    startup = praat_startup(a.praat_runs)
    clips = sorted(glob.glob(os.path.join(a.clips, "clip*.wav")))
    if a.limit:
        clips = clips[:a.limit]
    jobs = []
    with torch.inference_mode():
        t0 = time.perf_counter()
        run(a.warmup)
        warmup_s = time.perf_counter() - t0
        for path in clips:
            t0 = time.perf_counter()
            times, info = run(path)
            total = time.perf_counter() - t0
            jobs.append({"clip": os.path.basename(path), "total_s": total, "timings": times, **info})
            print(f"[pipeline_torch] {os.path.basename(path)} {total:.3f} s "
                  + " ".join(f"{k} {v:.3f}" for k, v in times.items()), file=sys.stderr)

    print(json.dumps({
        "side": "torch", "feature_model": f"{hmanifest['name']}/{hmanifest['version']}",
        "motion_model": f"{mmanifest['name']}/{mmanifest['version']}",
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "torch_threads": torch.get_num_threads(),
        "load_s": load_s, "warmup_s": warmup_s, "praat_startup_s": startup,
        "praat": subprocess.run(["praat", "--version"], capture_output=True, text=True).stdout.strip(),
        "blas": mapped_blas(), "torch": torch.__version__, "torchaudio": torchaudio.__version__, "jobs": jobs,
    }))


if __name__ == "__main__":
    main()
