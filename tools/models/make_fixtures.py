#!/usr/bin/python3
"""Parity fixtures for the C# ONNX Runtime tests: for each fixed-seed model in the store, the exact model input
made from samples/hello.wav and the PyTorch model's output on it; plus one Kaldi fbank reference.

apt packages: python3-torch python3-torchaudio python3-onnx python3-numpy. Run with Debian's interpreter:
    /usr/bin/python3 tools/models/make_fixtures.py [--store models] [--out tests/fixtures/models] [--seconds 2.0]

The audio: samples/hello.wav (22,050 Hz mono 16-bit) read like torchaudio.load (int / 2**15), resampled to
16 kHz with torchaudio.functional.resample defaults (sinc_interp_hann, lowpass_filter_width 6, rolloff 0.99),
then the first `--seconds` (default 2.0 s = 32,000 samples) go to the models (batch of 1):
  * HuBERT (hubert-large, hubert-base): input = that waveform normalised per utterance in float32,
    (x - mean) / sqrt(var + 1e-7) (HF Wav2Vec2FeatureExtractor, do_normalize=True), shape [1, 32000]
  * Fast-HuBERT: input = torchaudio.compliance.kaldi.fbank(x * s, num_mel_bins=80, dither=0.0) of the [-1, 1]
    waveform x times the manifest's input.fbank.waveformScale s (32768, Fast-HuBERT's recipe; other options at
    their defaults: 25 ms / 10 ms, povey window, snip_edges), shape [1, 198, 80]
  * INT8 models: same input as their fp32 parent; output = int8_sim.py's PyTorch mirror of the int8 graph
  * audio-to-motion models (task "audio-to-motion", geneface-a2m*): build_a2m.write_fixtures writes features.npy,
    f0.npy, mask.npy, z.npy, exp.npy and meta.json (demo HuBERT-large / Fast-HuBERT features of the clip, Praat F0)
Each model's fixture folder {out}/{name}/ gets input.npy, output.npy (float32) and meta.json. {out}/fbank/ gets
waveform.npy (the whole resampled clip, [-1, 1], 16 kHz, including the digitally silent tail) and
fbank_reference.npy (its fbank as above, [frames, 80]).

Before writing, every model is rebuilt from its manifest (architecture, size, seed), re-exported and its sha256
compared with the manifest's, so a fixture can only be written for exactly the committed model file.
"""
import argparse
import json
import sys
import tempfile
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep tools/models free of __pycache__
sys.path.insert(0, str(HERE))
REPO = HERE.parent.parent

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torchaudio  # noqa: E402

import build  # noqa: E402
import int8_sim  # noqa: E402
import quantize  # noqa: E402

SAMPLE = REPO / "samples" / "hello.wav"
KALDI = {"num_mel_bins": 80, "dither": 0.0, "sample_frequency": 16000.0}


def read_wav(path):
    """PCM 16-bit WAV -> float32 mono in [-1, 1] (channel average) and its rate, scaled like torchaudio.load."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        rate = w.getframerate()
    return (frames.astype(np.float32) / np.float32(32768.0)).mean(axis=1, dtype=np.float32), rate


def clip_16k(path=SAMPLE):
    mono, rate = read_wav(path)
    x = torch.from_numpy(mono).unsqueeze(0)
    if rate != 16000:
        x = torchaudio.functional.resample(x, rate, 16000)
    return x.squeeze(0).contiguous()


def normalize(x):
    """HF Wav2Vec2FeatureExtractor zero_mean_unit_var_norm on float32 data."""
    x = np.asarray(x, dtype=np.float32)
    return ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)


def fbank(x, scale=1.0):
    """torchaudio's Kaldi fbank of the samples times `scale` (Fast-HuBERT: 32768)."""
    return torchaudio.compliance.kaldi.fbank(torch.as_tensor(x).unsqueeze(0) * float(scale), **KALDI)


def fbank_scale(manifest):
    return float(((manifest.get("input") or {}).get("fbank") or {}).get("waveformScale", 1.0))


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.ascontiguousarray(array, dtype="<f4")
    np.save(path, array)
    return {"file": path.name, "shape": list(array.shape), "dtype": "float32"}


def rebuild(manifest, store):
    """The torch model (fp32, or the int8 mirror) behind a fixed-seed manifest, checked against the file's sha256."""
    cfg = manifest["config"]
    if not manifest.get("demo") or cfg.get("seed") is None:
        raise ValueError(f"{manifest['name']}: only fixed-seed models can be rebuilt here")
    arch, size, seed = manifest["architecture"], cfg["size"], cfg["seed"]
    model, _ = build.seeded_model(arch, size, seed, fbank_scale=fbank_scale(manifest))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        build.export_onnx(model, arch, path, manifest["opset"])
        if manifest["precision"] == "int8":
            q = cfg["quantization"]
            qmodel, _ = quantize.quantize_dynamic(onnx.load(str(path)), q["minWeightElements"], q["weightType"],
                                                  q["perChannel"])
            onnx.save(qmodel, str(path))
        digest = build.sha256_of(path)
    if digest != manifest["sha256"]:
        raise ValueError(f"{manifest['name']}/{manifest['version']}: rebuilding gives sha256 {digest}, the store has "
                         f"{manifest['sha256']}: rebuild the store with tools/models/build.py first")
    if manifest["precision"] == "int8":
        q = cfg["quantization"]
        fresh, _ = build.seeded_model(arch, size, seed, fbank_scale=fbank_scale(manifest))  # the same weights again (export leaves weight-norm state)
        sim, count = int8_sim.simulate(fresh, q["minWeightElements"], q["weightType"], q["perChannel"])
        if count != q["quantizedMatMuls"]:
            raise ValueError(f"{manifest['name']}: the int8 mirror replaced {count} Linear layers, the graph has "
                             f"{q['quantizedMatMuls']} quantised MatMuls")
        return sim, model
    return model, None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", default=str(REPO / "models"))
    p.add_argument("--out", default=str(REPO / "tests" / "fixtures" / "models"))
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--models", help="comma list of store names (default: every model in the store)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    store, out = Path(a.store), Path(a.out)

    waveform = clip_16k()
    fb_full = fbank(waveform)
    meta = {"clip": "samples/hello.wav resampled 22050 -> 16000 Hz with torchaudio.functional.resample defaults",
            "waveform": save(out / "fbank" / "waveform.npy", waveform.numpy()),
            "fbankReference": save(out / "fbank" / "fbank_reference.npy", fb_full.numpy()),
            "fbankOptions": "torchaudio.compliance.kaldi.fbank(waveform * 1.0, num_mel_bins=80, dither=0.0), other "
                            "options default (frame 25 ms, shift 10 ms, povey window, preemphasis 0.97, remove DC, "
                            "round to power of two, snip_edges, low 20 Hz, high Nyquist, power, log floor "
                            "float32 eps)",
            "torchaudio": torchaudio.__version__}
    (out / "fbank" / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"fbank: waveform {tuple(waveform.shape)}, fbank {tuple(fb_full.shape)}")

    clip = waveform[: int(round(a.seconds * 16000))]
    names = a.models.split(",") if a.models else sorted(d.name for d in store.iterdir() if d.is_dir())
    for name in names:
        versions = sorted(v for v in (store / name).iterdir() if (v / "manifest.json").exists())
        manifest = json.loads((versions[-1] / "manifest.json").read_text())
        if manifest.get("task") == "hair-transfer":  # the hair chain: build_hair.py rebuilds, checks and writes its own set
            import build_hair
            build_hair.rebuild_fixtures(manifest, out / name)
            continue
        if manifest.get("task") == "audio-to-motion":  # GeneFace++ audio-to-motion: build_a2m.py writes its own set
            import build_a2m
            model, fp32_model = build_a2m.rebuild(manifest)
            build_a2m.write_fixtures(manifest, model, out, clip, fp32_model)
            continue
        model, fp32_model = rebuild(manifest, store)
        arch = manifest["architecture"]
        if manifest["input"]["kind"] == "fbank":
            x = fbank(clip, fbank_scale(manifest)).unsqueeze(0)
        else:
            x = torch.from_numpy(normalize(clip.numpy())).unsqueeze(0)
        with torch.no_grad():
            y = model(x)
            y_fp32 = fp32_model(x) if fp32_model is not None else None
        folder = out / name
        info = {
            "model": f"{name}/{manifest['version']}", "modelSha256": manifest["sha256"], "architecture": arch,
            "precision": manifest["precision"],
            "clip": f"samples/hello.wav -> 16 kHz (torchaudio resample defaults), first {clip.shape[0]} samples",
            "input": {"name": manifest["input"]["name"], **save(folder / "input.npy", x.numpy())},
            "output": {"name": "features", **save(folder / "output.npy", y.numpy())},
            "inputPreparation": ("normalised waveform, float32 (x - mean) / sqrt(var + 1e-7)" if arch != "fast-hubert"
                                 else f"raw Kaldi fbank of the [-1, 1] waveform times {fbank_scale(manifest):g} "
                                      "(input.fbank.waveformScale; CMVN is inside the graph)"),
            "outputMaxAbs": float(y.abs().max()), "outputMean": float(y.mean()), "outputStd": float(y.std()),
            "reference": ("PyTorch mirror of the int8 graph (tools/models/int8_sim.py)" if fp32_model is not None
                          else "PyTorch fp32 model (torch " + torch.__version__ + ")"),
        }
        if y_fp32 is None:
            info["suggestedTolerance"] = {"maxAbsDiff": 1e-4, "why": "fp32 ONNX Runtime vs PyTorch: float rounding "
                                          "only (measured ~3e-6 with ORT 1.31.1 CPU on the demo models)"}
        else:
            info["suggestedTolerance"] = {
                "maxAbsDiff": 0.05, "meanAbsDiff": 0.005,
                "why": "the activation scale of each DynamicQuantizeLinear depends on the tensor's extremes and any "
                       "float difference upstream can move a value across a rounding step; through attention one "
                       "step reaches every frame (measured ORT 1.31.1 CPU vs this mirror: max 0.014, mean 0.0011; "
                       "vs the fp32 output: max 0.024, mean 0.0045)"}
            info["int8VsFp32MaxAbsDiff"] = float((y - y_fp32).abs().max())
            info["int8VsFp32MeanAbsDiff"] = float((y - y_fp32).abs().mean())
        (folder / "meta.json").write_text(json.dumps(info, indent=2) + "\n")
        print(f"{name}: input {tuple(x.shape)} -> output {tuple(y.shape)}, max|y| {info['outputMaxAbs']:.3f}"
              + (f", int8 vs fp32 max diff {info['int8VsFp32MaxAbsDiff']:.3g}" if y_fp32 is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
