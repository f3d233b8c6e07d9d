#!/usr/bin/python3
"""Build GeneFace++'s audio-to-motion network (tools/models/a2m.py), export it to ONNX and write its manifest.json,
landmark assets and (optionally) an INT8 variant, into {out}/{name}/{version}/.

apt packages: python3-torch python3-onnx python3-numpy (python3-torchaudio and praat for the fixtures).
Run with Debian's interpreter: /usr/bin/python3 tools/models/build_a2m.py ...  (installs nothing, downloads nothing)

Three contracts, GeneFace++'s two audio-to-motion classes:
  geneface-a2m       PitchContourVAEModel on HuBERT-large features, 1024-d at 50 Hz (halved inside the graph, as
                     GeneFace++ does), inputs features, f0, mask, z
  geneface-a2m-fast  PitchContourVAEModel on Fast-HuBERT features, 768-d at 25 Hz
  geneface-a2m-vae   VAEModel (GeneFace++ with use_pitch false) on HuBERT-large features: inputs features, mask, z
A --checkpoint's keys decide the variant (pitch_embed.weight present or not); the manifest's `variant` says which.

Examples:
  # the demo models that ship in models/ (fixed-seed weights, seed 0, WaveNets narrowed) + geneface-a2m-int8
  /usr/bin/python3 tools/models/build_a2m.py --model all --int8 geneface-a2m
  # full-width fixed-seed models (untracked, .models-full/)
  /usr/bin/python3 tools/models/build_a2m.py --size full --model all --int8 all
  # a real GeneFace++ checkpoint (checkpoints/audio2motion_vae/model_ckpt_steps_*.ckpt) and a real BFM basis
  /usr/bin/python3 tools/models/build_a2m.py --model geneface-a2m --checkpoint model_ckpt_steps_400000.ckpt \
      --landmark-basis bfm_lm68_exp.npz --version genefacepp-1 --licence "..." --int8 geneface-a2m
Fixtures: /usr/bin/python3 tools/models/make_fixtures.py --models geneface-a2m,geneface-a2m-fast,geneface-a2m-int8
"""
import argparse
import io
import os
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep tools/models free of __pycache__
sys.path.insert(0, str(HERE))
REPO = HERE.parent.parent

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import a2m  # noqa: E402
import build  # noqa: E402  (sha256_of, write_manifest)
import quantize  # noqa: E402

DEFAULT_OUT = {"demo": REPO / "models", "full": REPO / ".models-full"}
DEFAULT_VERSION = {"demo": "demo-1", "full": "full-1"}
ARCHITECTURE = "geneface-a2m"
OUTPUT_NAME = "exp"


def input_names(config):
    return ["features", "f0", "mask", "z"] if a2m.uses_f0(config) else ["features", "mask", "z"]


def contract_of(manifest):
    """The contract a built a2m manifest was made for (features accepted and GeneFace++ variant)."""
    variant = manifest.get("variant", a2m.PITCH_VARIANT)
    if variant == a2m.PLAIN_VARIANT:
        return "geneface-a2m-vae"
    return "geneface-a2m-fast" if manifest["accepts"]["featureRate"] == 25 else "geneface-a2m"


# ------------------------------------------------------------------------------------------------ export
def dummy_inputs(config, frames=24, batch=1):
    g = torch.Generator().manual_seed(1234)
    per = config["feature_rate"] // a2m.FRAME_RATE
    features = torch.randn(batch, frames * per, config["audio_in_dim"], generator=g)
    f0 = 100.0 + 200.0 * torch.rand(batch, frames, generator=g)
    f0[:, ::3] = 0.0
    mask = torch.ones(batch, frames)
    z = a2m.TEMPERATURE * torch.randn(batch, config["latent_channels"], frames // config["latent_stride"], generator=g)
    return (features, f0, mask, z) if a2m.uses_f0(config) else (features, mask, z)


def export_onnx(model, config, path, opset=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {"features": {0: "batch", 1: "featureFrames"}, "f0": {0: "batch", 1: "frames"},
            "mask": {0: "batch", 1: "frames"}, "z": {0: "batch", 2: "latentFrames"},
            OUTPUT_NAME: {0: "batch", 1: "frames"}}
    last_error = None
    for version in ([opset] if opset else [17, 14]):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                names = input_names(config)
                torch.onnx.export(model, dummy_inputs(config), str(path), input_names=names,
                                  output_names=[OUTPUT_NAME], dynamic_axes={k: v for k, v in axes.items()
                                                                             if k in names or k == OUTPUT_NAME},
                                  opset_version=version,
                                  do_constant_folding=True)
            return version
        except Exception as error:  # noqa: BLE001 - fall back to the older opset
            last_error = error
            print(f"  export at opset {version} failed: {error}", file=sys.stderr)
    raise last_error


# ------------------------------------------------------------------------------------------------ verification
def verify(model, config):
    """Checks of the pieces against GeneFace++'s own formulation; prints what it measured, raises on a failure."""
    torch.manual_seed(7)
    # 1. the in-graph halving is F.interpolate(scale_factor=0.5, mode="nearest"), GeneFace++'s downsampler
    x = torch.randn(2, 48, 5)
    ours = x[:, ::2]
    ref = F.interpolate(x.transpose(1, 2), scale_factor=0.5, mode="nearest").transpose(1, 2)
    assert torch.equal(ours, ref), "stride-2 slice != nearest interpolation"
    # VAEModel's downsampler: linear interpolation x0.5 == the mean of each pair of frames
    pair_mean = 0.5 * (x[:, 0::2] + x[:, 1::2])
    linear = F.interpolate(x.transpose(1, 2), scale_factor=0.5, mode="linear").transpose(1, 2)
    linear_err = float((pair_mean - linear).abs().max())
    assert linear_err < 1e-6, linear_err
    assert torch.equal(a2m.halve_50hz(torch.arange(9.0)), torch.tensor([0.0, 2.0, 4.0, 6.0]))
    # 2. f0 -> coarse bins against the float64 restatement of pitch_utils.f0_to_coarse
    sweep = torch.cat([torch.tensor([0.0, 1.0, 49.9, 50.0, 50.1, 80.0, 1099.0, 1100.0, 1200.0, 4000.0]),
                       torch.linspace(0.0, 1200.0, 24001)])
    got = a2m.f0_to_coarse(sweep).numpy()
    want = a2m.f0_to_coarse_reference(sweep.double().numpy())
    mismatch = int((got != want).sum())
    assert got.min() >= 1 and got.max() <= 255 and got[0] == 1
    # float32 vs float64 can only differ where the value sits on a rounding edge
    assert mismatch <= 3, f"{mismatch} f0 bins differ from the float64 reference"
    # 3. the prior flow run forward undoes the reverse run (mean-only couplings are exactly invertible)
    c = config
    z = torch.randn(2, c["latent_channels"], 6)
    g = torch.randn(2, c["feat_dim"], 6)
    with torch.no_grad():
        back = model.vae.prior_flow(model.vae.prior_flow(z, g, reverse=True), g, reverse=False)
    flow_err = float((back - z).abs().max())
    assert flow_err < 1e-4, flow_err
    # 4. shapes, the mask, and frames independent of the batch
    inputs = dummy_inputs(c, frames=32, batch=2)
    mask = inputs[-2]
    mask[1, 20:] = 0
    with torch.no_grad():
        y = model(*inputs)
        y0 = model(*(t[:1] for t in inputs))
    assert tuple(y.shape) == (2, 32, a2m.EXP_DIM), y.shape
    assert float(y[1, 20:].abs().max()) == 0.0
    batch_err = float((y[:1] - y0).abs().max())
    print(f"  verify: stride-2 slice == nearest x0.5 interpolation; pair mean vs linear x0.5 interpolation "
          f"{linear_err:.2g}; f0 bins vs float64 reference: {mismatch} of "
          f"{sweep.numel()} differ (rounding edges); flow reverse->forward max err {flow_err:.2g}; "
          f"batch-of-2 vs batch-of-1 max diff {batch_err:.2g}")


# ------------------------------------------------------------------------------------------------ manifest
def camel(key):
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def save_npy(path, array):
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype="<f4"))
    path.write_bytes(buffer.getvalue())
    return build.sha256_of(path)


def write_assets(folder, mean, basis):
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "landmarkMean": {"file": "landmark-mean.npy", "sha256": save_npy(folder / "landmark-mean.npy", mean),
                         "dtype": "float32", "shape": list(mean.shape)},
        "landmarkBasis": {"file": "landmark-basis.npy", "sha256": save_npy(folder / "landmark-basis.npy", basis),
                          "dtype": "float32", "shape": list(basis.shape)},
    }


def manifest_for(name, version, contract, onnx_path, precision, demo, licence, source, quantized_from, opset,
                 config, assets, assets_note, variant):
    spec = a2m.CONTRACTS[contract]
    d = spec["featureDim"]
    pitch = variant == a2m.PITCH_VARIANT
    f0_input = [{"name": "f0", "dtype": "float32", "shape": ["batch", "frames"]}] if pitch else []
    return {
        "name": name, "version": version, "task": "audio-to-motion", "architecture": ARCHITECTURE,
        "variant": variant,
        "file": onnx_path.name, "sha256": build.sha256_of(onnx_path), "sizeBytes": onnx_path.stat().st_size,
        "precision": precision, "demo": demo, "licence": licence, "source": source, "quantizedFrom": quantized_from,
        "input": {"name": "features", "kind": "features", "sampleRate": 16000, "normalizeWaveform": False,
                  "fbank": None},
        "output": {"name": OUTPUT_NAME, "featureDim": a2m.EXP_DIM, "frameRate": a2m.FRAME_RATE},
        "inputs": [
            {"name": "features", "dtype": "float32", "shape": ["batch", "featureFrames", d]},
            *f0_input,
            {"name": "mask", "dtype": "float32", "shape": ["batch", "frames"]},
            {"name": "z", "dtype": "float32", "shape": ["batch", a2m.LATENT_CHANNELS, "latentFrames"]},
        ],
        "outputs": [{"name": OUTPUT_NAME, "dtype": "float32", "shape": ["batch", "frames", a2m.EXP_DIM]}],
        "accepts": {"featureModels": list(spec["featureModels"]), "featureDim": d, "featureRate": spec["featureRate"]},
        "latent": {"channels": a2m.LATENT_CHANNELS, "downsample": a2m.LATENT_DOWNSAMPLE,
                   "temperature": a2m.TEMPERATURE},
        "f0": {"rate": a2m.FRAME_RATE, "fromRate": 50, "method": "every-other",
               "frames": "f0_25[t] = f0_50[2t]: frames 0, 2, 4, ... (GeneFace++ halves its 50 Hz F0 inside the model "
                         "with F.interpolate(scale_factor=0.5, mode='nearest'), the same as the HuBERT features)"}
              if pitch else None,
        "frameMultiple": a2m.FRAME_MULTIPLE,
        "assets": assets,
        "assetsDemo": assets_note["demo"],
        "opset": opset,
        "config": config,
    }


def config_json(contract, size, cfg, model, weights_note, seed, assets_note, checkpoint_report=None):
    spec = a2m.CONTRACTS[contract]
    per = spec["featureRate"] // a2m.FRAME_RATE
    c = {"size": size, "weights": weights_note, "seed": seed}
    c.update({camel(k): v for k, v in cfg.items()})
    c["shapes"] = {
        "featureFrames": "exactly 2 * frames (50 Hz features, halved in the graph)" if per == 2 else
                         "exactly frames (25 Hz features)",
        "latentFrames": "frames / 4",
        "frames": "a multiple of 4 for the network (g_pre_net stride 4, ConvTranspose x4); the caller pads to "
                  f"frameMultiple {a2m.FRAME_MULTIPLE} and masks",
    }
    if not a2m.uses_f0(cfg):
        c["variantNote"] = (
            "GeneFace++ VAEModel (its genefacepp_infer.py builds it when the checkpoint's config has no use_pitch: "
            "true): no F0 input, no pitch embedding, no cond_proj, no amp embeddings; mel_encoder (64 wide) gives the "
            "FVAE's 64-channel conditioning directly; blink_embed is in the checkpoint but unused by GeneFace++")
        c["featureHalving"] = (
            "in the graph: 0.5 * (features[:, 0::2] + features[:, 1::2]), identical to VAEModel's "
            "F.interpolate(x.transpose(1, 2), scale_factor=0.5, mode='linear') on an even frame count" if per == 2 else
            "none: the features are already 25 Hz")
    else:
        c["variantNote"] = "GeneFace++ PitchContourVAEModel (use_pitch: true): F0 is an input"
        c["featureHalving"] = (
            "in the graph: features[:, ::2] (frames 0, 2, 4, ...), identical to GeneFace++'s "
            "F.interpolate(x.transpose(1, 2), scale_factor=0.5, mode='nearest')" if per == 2 else
            "none: Fast-HuBERT features are already 25 Hz (GeneFace++ itself only has the HuBERT contract)")
        c["f0Halving"] = (
            "the caller keeps every other value of the 50 Hz track: f0_25[t] = f0_50[2t]. GeneFace++ aligns the 50 Hz "
            "Praat F0 to the HuBERT frames and its model halves it with the same nearest interpolation (scale 0.5) as "
            "the features, i.e. frames 0, 2, 4, ...")
        c["f0Coarse"] = (
            "in the graph: mel = 1127 ln(1 + f0/700); where mel > 0: (mel - mel(50)) * 254 / (mel(1100) - mel(50)) + 1; "
            "clamp [1, 255]; floor(x + 0.5). f0 = 0 (unvoiced) and f0 < 50 Hz -> bin 1; f0 >= 1100 Hz -> 255. "
            "Embedding(300, 128) as GeneFace++ sizes it (rows 0 and 256..299 unused)")
        c["blinkNote"] = (f"blink_embed row {cfg['blink']} for every frame (GeneFace++ inference feeds blink = 0); a "
                          "graph constant, rebuild with --blink 1 for the other row")
        c["mouthAmpNote"] = (f"mouth_amp {cfg['mouth_amp']} * mouth_amp_embed, a graph constant (GeneFace++ --mouth_amp "
                             "default 0.4; rebuild with --mouth-amp). use_mouth_amp_embed true / use_eye_amp_embed false "
                             "as in Real3DPortrait's egs/os_avatar/audio2motion_vae.yaml (the same released network; "
                             "GeneFace++'s own checkpoint config.yaml was not available here); a checkpoint decides by "
                             "its keys" if cfg["use_mouth_amp_embed"] else "no mouth_amp_embed in this model")
    c["maskNote"] = ("as GeneFace++ at inference: the flow and the decoder run unmasked (x_mask = 1) and the output "
                     "is multiplied by the mask. Padded frames (zero features, F0 0 / no F0) reach the last real frames "
                     "through the convolutions' receptive fields; GeneFace++ instead cuts the clip to a multiple of "
                     "8 HuBERT frames")
    c["latentNote"] = ("z = N(0, 1) * temperature, [batch, 16, frames / 4], sampled by the caller (GeneFace++ draws "
                       "it inside the model with torch's RNG; here it is an input so a seed reproduces a run)")
    c["output"] = "64 BFM expression coefficients per 25 fps frame (GeneFace++ motion_type exp), masked"
    c["landmarks"] = assets_note
    if size == "demo":
        full = a2m.full_config(contract, cfg["variant"])
        c["demo"] = True
        c["shrunk"] = {camel(k): {"demo": v, "full": full[k]} for k, v in cfg.items() if full.get(k) != v}
        c["shrunkWhy"] = ("the full network is ~4.9 M parameters (~20 MB fp32): the two WaveNets (prior-flow hidden "
                          "and decoder hidden) are narrowed so the committed file stays under 6 MB; the feature and "
                          "pitch encoders, the 128-wide conditioning, g_pre_net, every layer count and kernel are "
                          "as published")
        c["demoInit"] = ("torch default initialisation under torch.manual_seed(seed); the coupling post layers are "
                         "NOT zeroed (GeneFace++ zero-initialises them for training, which would make the demo flow "
                         "an identity); the two BatchNorms get seeded running stats and affine")
    if checkpoint_report is not None:
        c["checkpoint"] = checkpoint_report
    c["parameters"] = a2m.parameter_count(model)
    c["tools"] = {"torch": torch.__version__, "onnx": onnx.__version__}
    return c


def landmark_assets(args, folder):
    if args.landmark_basis:
        mean, basis = a2m.load_landmark_basis(args.landmark_basis)
        note = {"demo": False, "source": f"{os.path.basename(args.landmark_basis)} (sha256 "
                                         f"{build.sha256_of(args.landmark_basis)})",
                "formula": "landmarks[t] = mean + sum_k exp[t, k] * basis[k], [68, 3], iBUG 68 order"}
    else:
        mean, basis = a2m.demo_landmark_basis(args.seed)
        note = {"demo": True,
                "source": f"made up by tools/models/a2m.py demo_landmark_basis(seed {args.seed}): not BFM 2009 "
                          "(which GeneFace++ uses and which cannot be downloaded here)",
                "formula": "landmarks[t] = mean + sum_k exp[t, k] * basis[k], [68, 3], iBUG 68 order (jaw 0-16, "
                           "brows 17-26, nose 27-35, eyes 36-47, mouth 48-67)",
                "axes": "x to the image right, y up, z towards the camera; unit scale: chin y = -1, brows y ~ 0.5, "
                        "jaw 1.9 wide",
                "components": {str(k): v for k, v in a2m.LANDMARK_COMPONENTS.items()},
                "rest": "components 6..63: small smooth seeded random deformations, amplitude 0.03 / sqrt(k - 5)"}
    return write_assets(folder, mean, basis), note


def build_one(args, contract):
    size = args.size
    out_root = Path(args.out) if args.out else DEFAULT_OUT["full" if args.checkpoint else size]
    version = args.version or ("checkpoint-1" if args.checkpoint else DEFAULT_VERSION[size])
    name = args.name if args.name and len(args.models) == 1 else contract
    report = None
    if args.checkpoint:
        model, cfg, report = a2m.load_checkpoint(args.checkpoint, contract, args.blink, args.mouth_amp, args.eye_amp)
        digest = build.sha256_of(args.checkpoint)
        report = {"file": os.path.basename(args.checkpoint), "sha256": digest, **report}
        demo = False
        source = (f"checkpoint {os.path.basename(args.checkpoint)} (sha256 {digest}) converted by "
                  f"tools/models/build_a2m.py --model {contract}")
        weights_note = source
        licence = args.licence
        seed = None
        size = "checkpoint"
    else:
        model, cfg = a2m.seeded_model(contract, size, args.seed, args.blink, args.mouth_amp, args.eye_amp)
        demo = True
        seed = args.seed
        source = (f"fixed-seed weights (seed {args.seed}) made by tools/models/build_a2m.py --model {contract} "
                  f"--size {size} (torch {torch.__version__}); torch default initialisation, no training")
        weights_note = f"demo: fixed-seed random weights (torch.manual_seed({args.seed})), untrained; outputs mean nothing"
        licence = args.licence or ("none needed: random fixed-seed weights generated by this repository's "
                                   "tools/models/build_a2m.py; no third-party weights")
    model.eval()
    if args.verify:
        verify(model, cfg)

    folder = out_root / name / version
    onnx_path = folder / "model.onnx"
    t0 = time.perf_counter()
    opset = export_onnx(model, cfg, onnx_path, args.opset)
    export_s = time.perf_counter() - t0
    onnx.checker.check_model(str(onnx_path))
    assets, assets_note = landmark_assets(args, folder)
    cj = config_json(contract, size, cfg, model, weights_note, seed, assets_note, report)
    if size == "checkpoint":
        cj["size"] = "full (from checkpoint)"
    manifest = manifest_for(name, version, contract, onnx_path, "fp32", demo, licence, source, None, opset, cj,
                            assets, assets_note, cfg["variant"])
    build.write_manifest(folder, manifest)
    print(f"{name}/{version}: {onnx_path} {onnx_path.stat().st_size:,} bytes, opset {opset}, "
          f"{cj['parameters']:,} parameters, export {export_s:.2f} s")

    if contract in args.int8_models:
        t0 = time.perf_counter()
        qmodel, qreport = quantize.quantize_dynamic(onnx.load(str(onnx_path)), args.int8_min_elements,
                                                    args.int8_weight_type, args.int8_per_channel)
        q_s = time.perf_counter() - t0
        if qreport["quantizedMatMuls"] == 0:
            print(f"  {name}: no MatMul/Gemm weight of >= {args.int8_min_elements} elements; no int8 variant written")
            return model
        qname = f"{name}-int8"
        qfolder = out_root / qname / version
        qfolder.mkdir(parents=True, exist_ok=True)
        qpath = qfolder / "model.onnx"
        onnx.save(qmodel, str(qpath))
        qassets, _ = landmark_assets(args, qfolder)
        qconfig = dict(cj)
        qconfig["quantization"] = dict(qreport, note=(
            "only cond_proj (Linear 512 -> 128 over the concatenated conditioning) is a MatMul; every convolution, "
            "the embeddings and the WaveNets stay fp32, so the file barely shrinks and the speed barely changes"))
        qmanifest = manifest_for(qname, version, contract, qpath, "int8", demo, licence,
                                 f"{source}; INT8 by tools/models/quantize.py from {name}/{version}",
                                 f"{name}/{version}", opset, qconfig, qassets, assets_note, cfg["variant"])
        build.write_manifest(qfolder, qmanifest)
        print(f"{qname}/{version}: {qpath} {qpath.stat().st_size:,} bytes, {qreport['quantizedMatMuls']} MatMul "
              f"quantised ({qreport['floatMatMulsKept']} kept float), {q_s:.2f} s")
    return model


# ------------------------------------------------------------------------------------------------ fixtures
def write_float_wav(path, samples, rate=16000):
    """32-bit float mono WAV (lossless; Praat reads it)."""
    data = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    header = b"RIFF" + struct.pack("<I", 4 + 26 + 8 + len(data)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHHH", 18, 3, 1, rate, rate * 4, 4, 32, 0)
    path.write_bytes(header + fmt + b"data" + struct.pack("<I", len(data)) + data)


def praat_f0_50hz(clip, frames):
    """GeneFace++'s 50 Hz F0 (extract_mel_f0.py + genefacepp_infer.py) by Praat itself: the wave right-padded
    with zeros to (len // 320 + 1) * 320 samples, To Pitch (ac) 0.02 s, 80-750 Hz, voicing 0.6
    (tests/reference/f0.praat), then cut or zero-padded to `frames` (the HuBERT frame count)."""
    samples = np.asarray(clip, dtype=np.float32)
    padded = np.zeros((len(samples) // 320 + 1) * 320, dtype=np.float32)
    padded[:len(samples)] = samples
    with tempfile.TemporaryDirectory() as tmp:
        wav, out = Path(tmp) / "clip.wav", Path(tmp) / "f0.txt"
        write_float_wav(wav, padded)
        subprocess.run(["praat", "--run", str(REPO / "tests" / "reference" / "f0.praat"), str(wav), str(out)],
                       check=True, capture_output=True)
        lines = out.read_text().strip().splitlines()
    track = np.array([float(line.split("\t")[1]) for line in lines[1:]], dtype=np.float32)
    result = np.zeros(frames, dtype=np.float32)
    result[:min(frames, len(track))] = track[:frames]
    return result


def coarse_margin(f0):
    """Distance (in bins) of the float64 pre-rounding value from a rounding edge, over voiced values: how safe the
    fixture is from float differences between PyTorch and ONNX Runtime flipping a bin."""
    f0 = np.asarray(f0, dtype=np.float64)
    f0 = f0[f0 > 0]
    if f0.size == 0:
        return None
    mel = 1127.0 * np.log(1.0 + f0 / 700.0)
    v = (mel - a2m.F0_MEL_MIN) * (a2m.F0_BIN - 2) / (a2m.F0_MEL_MAX - a2m.F0_MEL_MIN) + 1
    v = np.clip(v, 1, a2m.F0_BIN - 1)
    frac = (v + 0.5) - np.floor(v + 0.5)
    return float(np.minimum(frac, 1 - frac).min())


def prepare_inputs(features_native, f0_50, contract, seed=0, temperature=a2m.TEMPERATURE):
    """What the C# BatchPreparation does, for a batch of one: T = ceil(feature frames / per) motion frames (an odd
    50 Hz count gets its last feature frame twice), F0 halved every other, T padded to frameMultiple with zeros
    and a mask, z = N(0, 1) * temperature from a seeded torch generator."""
    per = a2m.CONTRACTS[contract]["featureRate"] // a2m.FRAME_RATE
    frames, dim = features_native.shape
    t = -(-frames // per)
    padded = -(-t // a2m.FRAME_MULTIPLE) * a2m.FRAME_MULTIPLE
    x = np.zeros((padded * per, dim), dtype=np.float32)
    x[:frames] = features_native
    x[frames:t * per] = features_native[-1]
    f0 = np.zeros(padded, dtype=np.float32)
    half = a2m.halve_50hz(np.asarray(f0_50, dtype=np.float32))[:t]
    f0[:len(half)] = half
    mask = np.zeros(padded, dtype=np.float32)
    mask[:t] = 1.0
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(1, a2m.LATENT_CHANNELS, padded // a2m.LATENT_DOWNSAMPLE, generator=g) * temperature).numpy()
    return x[None], f0[None], mask[None], z, t


def write_fixtures(manifest, model, out_dir, clip, fp32_model=None):
    """tests/fixtures/models/{name}/: features, f0, mask, z, exp (.npy) + meta.json for the C# parity test."""
    import json
    import make_fixtures
    contract = contract_of(manifest)
    torch.set_num_threads(1)
    hubert, _ = build.seeded_model("hubert-large", "demo", 0)
    with torch.no_grad():
        hubert_out = hubert(torch.from_numpy(make_fixtures.normalize(clip.numpy())).unsqueeze(0))[0].numpy()
        hubert_frames = hubert_out.shape[0]
        if a2m.CONTRACTS[contract]["featureRate"] == 50:
            native = hubert_out
            source = "PyTorch demo hubert-large (models/hubert-large/demo-1, seed 0) on the normalised clip"
        else:
            fast, _ = build.seeded_model("fast-hubert", "demo", 0)
            scale = build.archs.FAST_HUBERT_WAVEFORM_SCALE
            native = fast(make_fixtures.fbank(clip, scale).unsqueeze(0))[0].numpy()
            source = (f"PyTorch demo fast-hubert (models/fast-hubert/demo-1, seed 0) on the Kaldi fbank of the clip "
                      f"times {scale:g}")
    try:
        f0_50 = praat_f0_50hz(clip.numpy(), hubert_frames)
        f0_source = ("Praat To Pitch (ac) by tests/reference/f0.praat on the clip right-padded to (len // 320 + 1) "
                     f"* 320 samples (GeneFace++'s way), cut to the {hubert_frames} HuBERT frames, then every other "
                     "value (f0_50[2t])")
    except (OSError, subprocess.CalledProcessError) as error:
        rng = np.random.default_rng(0)
        f0_50 = (120 + 30 * np.sin(np.arange(hubert_frames) / 7.0) + rng.normal(0, 3, hubert_frames)).astype(np.float32)
        f0_50[(np.arange(hubert_frames) // 9) % 3 == 0] = 0
        f0_source = f"synthetic seeded contour (Praat unavailable: {error})"
    features, f0, mask, z, t = prepare_inputs(native, f0_50, contract)
    pitch = manifest.get("variant", a2m.PITCH_VARIANT) == a2m.PITCH_VARIANT
    named = [("features", features)] + ([("f0", f0)] if pitch else []) + [("mask", mask), ("z", z)]
    with torch.no_grad():
        exp = model(*(torch.from_numpy(a) for _, a in named)).numpy()
        exp_fp32 = None if fp32_model is None else fp32_model(*(torch.from_numpy(a) for _, a in named)).numpy()
    folder = Path(out_dir) / manifest["name"]
    info = {
        "model": f"{manifest['name']}/{manifest['version']}", "modelSha256": manifest["sha256"],
        "architecture": manifest["architecture"], "precision": manifest["precision"],
        "clip": f"samples/hello.wav -> 16 kHz (torchaudio resample defaults), first {clip.shape[0]} samples",
        "variant": manifest.get("variant", a2m.PITCH_VARIANT),
        "inputs": {name: make_fixtures.save(folder / f"{name}.npy", arr) for name, arr in named},
        "output": {"name": "exp", **make_fixtures.save(folder / "exp.npy", exp)},
        "frames": t, "paddedFrames": int(mask.shape[1]),
        "featuresSource": f"{source}: {native.shape[0]} frames of {native.shape[1]} at "
                          f"{manifest['accepts']['featureRate']} Hz, padded like the C# BatchPreparation (odd 50 Hz "
                          "count: last frame repeated; then zeros to frameMultiple)",
        "f0Source": f0_source if pitch else "none: the model has no f0 input",
        "f0CoarseMarginBins": coarse_margin(f0) if pitch else None,
        "maskNote": f"{t} ones then zeros",
        "zSource": f"torch.randn(1, 16, {z.shape[2]}, generator=torch.Generator().manual_seed(0)) * "
                   f"{a2m.TEMPERATURE}",
        "outputMaxAbs": float(np.abs(exp).max()), "outputStd": float(exp[0, :t].std()),
    }
    if exp_fp32 is None:
        info["reference"] = f"PyTorch fp32 model (torch {torch.__version__})"
        info["suggestedTolerance"] = {"maxAbsDiff": 1e-4, "why": "fp32 ONNX Runtime vs PyTorch: float rounding only"}
    else:
        info["reference"] = "PyTorch mirror of the int8 graph (tools/models/int8_sim.py: cond_proj quantised)"
        info["int8VsFp32MaxAbsDiff"] = float(np.abs(exp - exp_fp32).max())
        info["int8VsFp32MeanAbsDiff"] = float(np.abs(exp - exp_fp32).mean())
        info["suggestedTolerance"] = {
            "maxAbsDiff": 1e-3,
            "why": "one dynamically quantised MatMul (cond_proj): an upstream float difference can move a value "
                   "across a rounding step of the per-tensor activation scale (measured with ONNX Runtime 1.31.1 "
                   "C# CPU against this mirror: max 9e-8, no step moved)"}
    (folder / "meta.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{manifest['name']}: features {features.shape}, f0 {f0.shape}, mask {mask.shape} ({t} real), z {z.shape} "
          f"-> exp {exp.shape}, max|exp| {info['outputMaxAbs']:.3f}, f0 bin margin {info['f0CoarseMarginBins']}"
          + (f", int8 vs fp32 max {info['int8VsFp32MaxAbsDiff']:.3g}" if exp_fp32 is not None else ""))
    return info


def rebuild(manifest):
    """The torch model behind a fixed-seed a2m manifest, checked against the file's sha256: (model, fp32 model or
    None). For INT8 manifests the model is the int8_sim mirror."""
    import int8_sim
    cfg = manifest["config"]
    if not manifest.get("demo") or cfg.get("seed") is None:
        raise ValueError(f"{manifest['name']}: only fixed-seed models can be rebuilt here")
    contract = contract_of(manifest)

    def fresh():
        return a2m.seeded_model(contract, cfg["size"], cfg["seed"], cfg["blink"], cfg["mouthAmp"], cfg["eyeAmp"])

    model, c = fresh()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(model, c, path, manifest["opset"])
        if manifest["precision"] == "int8":
            q = cfg["quantization"]
            qm, _ = quantize.quantize_dynamic(onnx.load(str(path)), q["minWeightElements"], q["weightType"],
                                              q["perChannel"])
            onnx.save(qm, str(path))
        digest = build.sha256_of(path)
    if digest != manifest["sha256"]:
        raise ValueError(f"{manifest['name']}/{manifest['version']}: rebuilding gives sha256 {digest}, the store has "
                         f"{manifest['sha256']}: rebuild the store with tools/models/build_a2m.py first")
    if manifest["precision"] == "int8":
        q = cfg["quantization"]
        sim, count = int8_sim.simulate(fresh()[0], q["minWeightElements"], q["weightType"], q["perChannel"])
        if count != q["quantizedMatMuls"]:
            raise ValueError(f"{manifest['name']}: the mirror replaced {count} Linear layers, the graph has "
                             f"{q['quantizedMatMuls']} quantised MatMuls")
        return sim, model
    return model, None


# ------------------------------------------------------------------------------------------------ CLI
def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="all", help="geneface-a2m | geneface-a2m-fast | all | comma list")
    p.add_argument("--size", choices=("demo", "full"), default="demo",
                   help="demo: WaveNets narrowed (files < 6 MB); full: GeneFace++'s widths (~20 MB)")
    p.add_argument("--out", help="model store root (default models/ for demo, .models-full/ for full)")
    p.add_argument("--name", help="store name (default: the contract name; one --model only)")
    p.add_argument("--version", help="store version (default demo-1 / full-1)")
    p.add_argument("--seed", type=int, default=0, help="weights seed (and the demo landmark basis seed)")
    p.add_argument("--checkpoint", help="GeneFace++ audio2secc checkpoint (model_ckpt_steps_*.ckpt) or a state dict")
    p.add_argument("--licence", help="licence of the weights (required with --checkpoint)")
    p.add_argument("--landmark-basis", help="npz with 'mean' [68, 3] and 'basis' [64, 68, 3] / [68, 3, 64] / [204, 64]")
    p.add_argument("--blink", type=int, default=0, help="blink_embed row fed for every frame (GeneFace++: 0)")
    p.add_argument("--mouth-amp", type=float, default=a2m.MOUTH_AMP, help="mouth amplitude constant (GeneFace++: 0.4)")
    p.add_argument("--eye-amp", type=float, default=a2m.EYE_AMP, help="eye amplitude constant (only with eye_amp_embed)")
    p.add_argument("--opset", type=int, help="ONNX opset (default 17, falling back to 14)")
    p.add_argument("--int8", default="", help="contracts to also quantise: comma list, 'all' or '' (none)")
    p.add_argument("--int8-min-elements", type=int, default=4096)
    p.add_argument("--int8-weight-type", choices=("int8", "uint8"), default="int8")
    p.add_argument("--int8-per-channel", action="store_true")
    p.add_argument("--no-verify", dest="verify", action="store_false")
    a = p.parse_args(argv)
    names = list(a2m.CONTRACTS)
    a.models = names if a.model == "all" else [m.strip() for m in a.model.split(",")]
    a.int8_models = names if a.int8 == "all" else [m.strip() for m in a.int8.split(",") if m.strip()]
    for m in a.models + a.int8_models:
        if m not in a2m.CONTRACTS:
            p.error(f"unknown model {m!r}; expected {', '.join(names)}")
    if a.checkpoint:
        if len(a.models) != 1:
            p.error("--checkpoint needs exactly one --model")
        if not a.licence:
            p.error("--checkpoint needs --licence (the weights' terms go into the manifest)")
    return a


def main(argv=None):
    args = parse(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    for contract in args.models:
        build_one(args, contract)
    return 0


if __name__ == "__main__":
    sys.exit(main())
