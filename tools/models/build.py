#!/usr/bin/python3
"""Build audio-feature models (HuBERT-large, HuBERT-base, Fast-HuBERT), export them to ONNX, write manifest.json
and (optionally) INT8 variants, into a model store laid out as {out}/{name}/{version}/model.onnx + manifest.json.

apt packages: python3-torch python3-torchaudio python3-onnx python3-numpy (and libopenblas0-pthread for speed).
Run with Debian's interpreter: /usr/bin/python3 tools/models/build.py ...  (it installs nothing, downloads nothing)

Examples:
  # the tiny demo models that ship in models/ (fixed-seed weights, seed 0) + fast-hubert-int8
  /usr/bin/python3 tools/models/build.py --size demo --model all --int8 fast-hubert
  # full-size fixed-seed models for benchmarks (untracked, .models-full/), with INT8 variants
  /usr/bin/python3 tools/models/build.py --size full --model all --int8 all
  # a real checkpoint: HF facebook/hubert-large-ls960-ft pytorch_model.bin
  /usr/bin/python3 tools/models/build.py --size full --model hubert-large --checkpoint pytorch_model.bin \
      --version hf-ls960-ft --licence "Apache-2.0 (facebook/hubert-large-ls960-ft)"
  # a real Fast-HuBERT fairseq checkpoint with its global CMVN stats
  /usr/bin/python3 tools/models/build.py --size full --model fast-hubert --checkpoint checkpoint_best.pt \
      --cmvn global_cmvn.npy --version ls960 --licence "MIT (yanghaha0908/FastHuBERT)"
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep tools/models free of __pycache__
sys.path.insert(0, str(HERE))
REPO = HERE.parent.parent

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchaudio  # noqa: E402
import onnx  # noqa: E402

import archs  # noqa: E402
import checkpoints  # noqa: E402
import quantize  # noqa: E402

DEFAULT_OUT = {"demo": REPO / "models", "full": REPO / ".models-full"}
DEFAULT_VERSION = {"demo": "demo-1", "full": "full-1"}
INT8_MIN_ELEMENTS = {"demo": 4096, "full": 65536}


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def io_spec(architecture, fbank_scale=archs.FAST_HUBERT_WAVEFORM_SCALE):
    """(manifest input section, input name, input shape, ONNX dynamic axes) for an architecture. Fast-HuBERT's
    input.fbank.waveformScale is what the caller multiplies the [-1, 1] samples by before the fbank (the C#
    KaldiFbank's FbankOptions.Scale)."""
    contract = archs.CONTRACT[architecture]
    if architecture == "fast-hubert":
        inp = {"name": "fbank", "kind": "fbank", "sampleRate": 16000, "normalizeWaveform": False,
               "fbank": {"numMelBins": 80, "frameLengthMs": 25, "frameShiftMs": 10, "waveformScale": fbank_scale}}
        shape = ["batch", "time", 80]
        axes = {0: "batch", 1: "time"}
    else:
        inp = {"name": "waveform", "kind": "waveform", "sampleRate": 16000, "normalizeWaveform": True, "fbank": None}
        shape = ["batch", "samples"]
        axes = {0: "batch", 1: "samples"}
    out = {"name": "features", "featureDim": contract["featureDim"], "frameRate": contract["frameRate"]}
    return inp, shape, axes, out


def dummy_input(architecture):
    g = torch.Generator().manual_seed(1234)
    if architecture == "fast-hubert":
        return torch.randn(1, 203, 80, generator=g) + 12.0
    return torch.randn(1, 16000, generator=g)


def export_onnx(model, architecture, path, opset):
    inp, shape, axes, _ = io_spec(architecture)
    x = dummy_input(architecture)
    path.parent.mkdir(parents=True, exist_ok=True)
    last_error = None
    for version in ([opset] if opset else [17, 14]):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
                torch.onnx.export(model, (x,), str(path), input_names=[inp["name"]], output_names=["features"],
                                  dynamic_axes={inp["name"]: axes, "features": {0: "batch", 1: "frames"}},
                                  opset_version=version, do_constant_folding=True)
            return version
        except Exception as error:  # noqa: BLE001 - fall back to the older opset
            last_error = error
            print(f"  export at opset {version} failed: {error}", file=sys.stderr)
    raise last_error


def input_notes(architecture, fbank_scale):
    if architecture == "fast-hubert":
        return {
            "fbankOptions": {
                "function": "torchaudio.compliance.kaldi.fbank",
                "waveformScale": fbank_scale, "dither": 0.0, "windowType": "povey", "preemphasisCoefficient": 0.97,
                "removeDcOffset": True, "roundToPowerOfTwo": True, "snipEdges": True, "lowFreq": 20.0,
                "highFreq": 0.0, "usePower": True, "useLogFbank": True, "useEnergy": False,
                "logFloor": "float32 epsilon on mel energies",
            },
            "fbankFrames": "1 + (samples - 400) // 160 (snip_edges)",
            "outputFrames": "t = (t - 1) // 2 + 1, twice (Conv1d k=5, stride 2, padding 2)",
        }
    return {
        "waveformNormalization": "per utterance, float32: (x - mean(x)) / sqrt(var(x) + 1e-7), population var "
                                 "(HF Wav2Vec2FeatureExtractor, do_normalize=True)",
        "outputFrames": "((samples - 400) // 320) + 1 for samples >= 400 (conv kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2)",
        "longInputs": "GeneFace++ feeds clips of at most 320000 samples (+80 overlap) and concatenates the frames",
    }


def camel(key):
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def manifest_config(architecture, size, config, model, cmvn_note, weights_note, seed, fbank_scale):
    """The manifest's free-form `config`: every hyper-parameter (camelCase of the builder's argument names),
    how the input must be prepared, what the output is, and for demo models what was shrunk."""
    c = {"size": size, "weights": weights_note, "seed": seed}
    c.update({camel(k): _jsonable(v) for k, v in config.items()})
    if architecture != "fast-hubert":
        c["output"] = ("hidden states of the last transformer layer, after the encoder's final LayerNorm "
                       "(HF last_hidden_state)" if config["encoder_layer_norm_first"] else
                       "hidden states of the last transformer layer (post-LN; the encoder LayerNorm sits before "
                       "the first layer; HF last_hidden_state)")
    else:
        c["output"] = "encoder output of FastHubertModel(features_only=True): last transformer layer, post-LN"
        c["cmvn"] = cmvn_note
    c.update(input_notes(architecture, fbank_scale))
    if size == "demo":
        full = archs.CONFIGS["full"][architecture]
        c["demo"] = True
        c["shrunk"] = {camel(k): {"demo": _jsonable(v), "full": _jsonable(full[k])}
                       for k, v in config.items() if full[k] != v}
        if model.projection is not None:
            c["demoProjection"] = {"from": model.projection.in_features, "to": model.projection.out_features,
                                   "note": "Linear added after the last layer so the demo meets the feature contract"}
    c["parameters"] = int(sum(p.numel() for p in model.parameters()))
    c["tools"] = {"torch": torch.__version__, "torchaudio": torchaudio.__version__, "onnx": onnx.__version__}
    return c


def _jsonable(v):
    if isinstance(v, (list, tuple)):
        return [_jsonable(t) for t in v]
    return v


def dumps(value, indent=0):
    """JSON with 2-space indentation, but lists of numbers/strings kept on one line."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f'{pad}  {json.dumps(k)}: {dumps(v, indent + 1)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
        return "[\n" + ",\n".join(f"{pad}  {dumps(v, indent + 1)}" for v in value) + "\n" + pad + "]"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v, indent) for v in value) + "]"
    return json.dumps(value)


def write_manifest(folder, manifest):
    path = folder / "manifest.json"
    text = dumps(manifest) + "\n"
    assert json.loads(text) == manifest
    path.write_text(text)
    return path


def base_manifest(name, version, architecture, onnx_path, precision, demo, licence, source, quantized_from,
                  opset, config):
    fbank_scale = ((config or {}).get("fbankOptions") or {}).get("waveformScale", archs.FAST_HUBERT_WAVEFORM_SCALE)
    inp, shape, _, out = io_spec(architecture, fbank_scale)
    return {
        "name": name, "version": version, "task": "audio-features", "architecture": architecture,
        "file": onnx_path.name, "sha256": sha256_of(onnx_path), "sizeBytes": onnx_path.stat().st_size,
        "precision": precision, "demo": demo, "licence": licence, "source": source, "quantizedFrom": quantized_from,
        "input": inp, "output": out,
        "inputs": [{"name": inp["name"], "dtype": "float32", "shape": shape}],
        "outputs": [{"name": "features", "dtype": "float32", "shape": ["batch", "frames", out["featureDim"]]}],
        "opset": opset, "config": config,
    }


# ------------------------------------------------------------------------------------------------ verification
def verify(model, architecture, size, config):
    """Check the wrapper against torchaudio's own builders and the HF output semantics; prints max abs diffs."""
    torch.manual_seed(99)
    with torch.no_grad():
        if architecture == "fast-hubert":
            fb = torch.randn(1, 157, 80) - 8.0
            y = model(fb)
            expected = archs.frames_for(architecture, 157)
            assert y.shape[1] == expected, (y.shape, expected)
            # the same computation spelled out with torch.nn.functional, independent of the module wiring
            x = (fb - model.cmvn.mean) / model.cmvn.std
            x = x.transpose(1, 2)
            for conv in model.subsample.conv_layers:
                x = torch.nn.functional.conv1d(x, conv.weight, conv.bias, stride=2, padding=conv.kernel_size[0] // 2)
                a, b = x.chunk(2, dim=1)
                x = a * torch.sigmoid(b)
            x = model.encoder.transformer(model.encoder.feature_projection(x.transpose(1, 2)))
            if model.projection is not None:
                x = model.projection(x)
            print(f"  verify fast-hubert: frames {y.shape[1]} for 157 fbank frames (expected {expected}); "
                  f"functional re-computation max abs diff {float((x - y).abs().max()):.3g}")
            return
        wav = torch.randn(1, 32000)
        y = model(wav)
        inner = model.model
        expected = archs.frames_for(architecture, 32000)
        assert y.shape[1] == expected, (y.shape, expected)
        # output == last layer's hidden states (+ final LayerNorm for pre-LN), i.e. HF's last_hidden_state
        feats, _ = inner.feature_extractor(wav, None)
        x = inner.encoder.feature_projection(feats)
        layers = inner.encoder.transformer.get_intermediate_outputs(x)
        last = layers[-1]
        if inner.encoder.transformer.layer_norm_first is False:  # torchaudio's flag is inverted: pre-LN model
            last = inner.encoder.transformer.layer_norm(last)
        unprojected, _ = inner(wav)
        print(f"  verify {architecture}: {y.shape[1]} frames for 32000 samples (expected {expected}); "
              f"output vs last layer{' + final LayerNorm' if architecture == 'hubert-large' else ''}: "
              f"max abs diff {float((unprojected - last).abs().max()):.3g}")
        if size != "full":
            return
        # against torchaudio's builder with the same weights
        if architecture == "hubert-large" and not config["extractor_conv_bias"]:
            reference = torchaudio.models.hubert_large().eval()
            reference.load_state_dict(inner.state_dict(), strict=True)
            ref, _ = reference(wav)
            print(f"  verify hubert-large (no conv bias) vs torchaudio.models.hubert_large(): max abs diff "
                  f"{float((unprojected - ref).abs().max()):.3g}")
        elif architecture == "hubert-large":
            reference = torchaudio.models.hubert_large().eval()
            state = {k: v for k, v in inner.state_dict().items()
                     if not (k.startswith("feature_extractor.conv_layers.") and k.endswith(".conv.bias"))}
            reference.load_state_dict(state, strict=True)
            zero_bias = inner.state_dict()
            saved = {k: v.clone() for k, v in zero_bias.items() if k in set(zero_bias) - set(state)}
            for k in saved:
                zero_bias[k].zero_()
            ours, _ = inner(wav)
            ref, _ = reference(wav)
            for k, v in saved.items():
                zero_bias[k].copy_(v)
            print(f"  verify hubert-large vs torchaudio.models.hubert_large() (conv biases zeroed, as that builder "
                  f"has none): max abs diff {float((ours - ref).abs().max()):.3g}")
        else:
            reference = torchaudio.models.hubert_base().eval()
            reference.load_state_dict(inner.state_dict(), strict=True)
            ref, _ = reference(wav)
            print(f"  verify hubert-base vs torchaudio.models.hubert_base(): max abs diff "
                  f"{float((unprojected - ref).abs().max()):.3g}")


# ------------------------------------------------------------------------------------------------ main
def seeded_model(architecture, size, seed, overrides=None, fbank_scale=archs.FAST_HUBERT_WAVEFORM_SCALE):
    """The fixed-seed (demo-weights) torch model exactly as build.py exports it, with demo CMVN (for fbank of
    samples times `fbank_scale`) for Fast-HuBERT."""
    torch.manual_seed(seed)
    model, config = archs.build(architecture, size, overrides)
    if architecture == "fast-hubert":
        mean, std = archs.demo_cmvn(waveform_scale=fbank_scale)
        model.set_cmvn(mean, std)
    return model.eval(), config


def set_fast_hubert_cmvn(model, cmvn_path, cmvn_scale, fbank_scale):
    """Puts Fast-HuBERT's global CMVN stats (computed on fbank of samples times `cmvn_scale`) into the graph, which
    takes fbank of samples times `fbank_scale`; returns the manifest's config.cmvn note."""
    mean, std = checkpoints.load_cmvn(cmvn_path)
    # log-mel power of c * x is that of x plus 2 ln c (above the float32-epsilon floor)
    shift = 2.0 * math.log(cmvn_scale / fbank_scale)
    model.set_cmvn(mean - shift, std)
    note = {"inGraph": True, "source": f"{os.path.basename(cmvn_path)} (sha256 {sha256_of(cmvn_path)})",
            "statsWaveformScale": cmvn_scale, "meanShiftedBy": -shift}
    if shift:
        note["approximation"] = (
            f"the stats are of fbank of {cmvn_scale:g}-scaled samples, the graph takes fbank of "
            f"{fbank_scale:g}-scaled samples: the mean is shifted by 2 ln({cmvn_scale:g} / "
            f"{fbank_scale:g}). Exact except in bins whose mel energy is under Kaldi's float32-epsilon "
            f"floor (digital silence, empty bands), which the checkpoint saw at a different level. "
            f"Build with --fbank-scale {cmvn_scale:g} (the default) for Fast-HuBERT's exact recipe")
    return note


def build_one(args, architecture):
    size = args.size
    out_root = Path(args.out) if args.out else DEFAULT_OUT[size]
    version = args.version or DEFAULT_VERSION[size]
    name = args.name if args.name and len(args.models) == 1 else architecture
    overrides = {}
    if args.checkpoint:  # what the checkpoint decides about the graph (conv biases or not)
        overrides = checkpoints.architecture_overrides(checkpoints.load_state_dict(args.checkpoint), architecture)
    model, config = seeded_model(architecture, size, args.seed, overrides, args.fbank_scale)
    cmvn_note = None
    if args.checkpoint:
        fmt = checkpoints.load_into(model, architecture, args.checkpoint)
        demo = False
        digest = sha256_of(args.checkpoint)
        source = (f"checkpoint {os.path.basename(args.checkpoint)} (sha256 {digest}, {fmt} format) converted by "
                  f"tools/models/build.py --model {architecture} --size {size}")
        weights_note = source
        licence = args.licence
        if architecture == "fast-hubert" and fmt != "ours":
            cmvn_note = set_fast_hubert_cmvn(model, args.cmvn, args.cmvn_scale, args.fbank_scale)
        elif architecture == "fast-hubert":
            cmvn_note = {"inGraph": True, "source": "taken from the checkpoint (our own state dict)"}
    else:
        demo = True
        source = (f"fixed-seed weights (seed {args.seed}) made by tools/models/build.py --model {architecture} "
                  f"--size {size} (torch {torch.__version__}, torchaudio {torchaudio.__version__}); "
                  f"torch default initialisation, no training")
        weights_note = f"demo: fixed-seed random weights (torch.manual_seed({args.seed})), untrained; outputs mean nothing"
        licence = args.licence or "none needed: random fixed-seed weights generated by this repository's tools/models/build.py; no third-party weights"
        if architecture == "fast-hubert":
            cmvn_note = {"inGraph": True, "statsWaveformScale": args.fbank_scale,
                         "source": f"demo: fixed stats, not measured on data: std 3, mean falling linearly from -4 at "
                                   f"bin 0 to -9 at bin 79 for fbank of [-1, 1] samples, plus 2 ln({args.fbank_scale:g}) "
                                   f"= {2 * math.log(args.fbank_scale):.4f} for the fbank of samples times "
                                   f"{args.fbank_scale:g} that the graph takes"}
    model.eval()
    if args.verify:
        verify(model, architecture, size, config)

    folder = out_root / name / version
    onnx_path = folder / "model.onnx"
    t0 = time.perf_counter()
    opset = export_onnx(model, architecture, onnx_path, args.opset)
    export_s = time.perf_counter() - t0
    onnx.checker.check_model(str(onnx_path))
    config_json = manifest_config(architecture, size, config, model, cmvn_note, weights_note,
                                  None if args.checkpoint else args.seed, args.fbank_scale)
    manifest = base_manifest(name, version, architecture, onnx_path, "fp32", demo, licence, source, None, opset,
                             config_json)
    write_manifest(folder, manifest)
    print(f"{name}/{version}: {onnx_path} {onnx_path.stat().st_size:,} bytes, opset {opset}, "
          f"{config_json['parameters']:,} parameters, export {export_s:.1f} s")
    if args.save_state:
        torch.save(model.state_dict(), folder / "state_dict.pt")

    if architecture in args.int8_models:
        t0 = time.perf_counter()
        min_elements = args.int8_min_elements or INT8_MIN_ELEMENTS[size]
        qmodel, report = quantize.quantize_dynamic(onnx.load(str(onnx_path)), min_elements, args.int8_weight_type,
                                                   args.int8_per_channel)
        qname = f"{name}-int8"
        qfolder = out_root / qname / version
        qfolder.mkdir(parents=True, exist_ok=True)
        qpath = qfolder / "model.onnx"
        onnx.save(qmodel, str(qpath))
        q_s = time.perf_counter() - t0
        qconfig = dict(config_json)
        qconfig["quantization"] = report
        qmanifest = base_manifest(qname, version, architecture, qpath, "int8", demo, licence,
                                  f"{source}; INT8 by tools/models/quantize.py from {name}/{version}",
                                  f"{name}/{version}", opset, qconfig)
        write_manifest(qfolder, qmanifest)
        print(f"{qname}/{version}: {qpath} {qpath.stat().st_size:,} bytes, {report['quantizedMatMuls']} MatMuls "
              f"quantised ({report['floatMatMulsKept']} kept float), {q_s:.1f} s")
    return model


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="all", help="hubert-large | hubert-base | fast-hubert | all | comma list")
    p.add_argument("--size", choices=("demo", "full"), default="demo")
    p.add_argument("--out", help="model store root (default models/ for demo, .models-full/ for full)")
    p.add_argument("--name", help="store name (default: the architecture; one --model only)")
    p.add_argument("--version", help="store version (default demo-1 / full-1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", help="real weights: HF pytorch_model.bin, fairseq .pt, torchaudio state dict")
    p.add_argument("--cmvn", help="Fast-HuBERT global CMVN stats (global_cmvn.npy / .npz / cmvn.stats)")
    p.add_argument("--cmvn-scale", type=float, default=archs.FAST_HUBERT_WAVEFORM_SCALE,
                   help="waveform scale the --cmvn stats were computed at (default 32768: Fast-HuBERT's "
                        "extract_fbank.py multiplies [-1, 1] samples by 2**15 before fbank)")
    p.add_argument("--fbank-scale", type=float, default=archs.FAST_HUBERT_WAVEFORM_SCALE,
                   help="Fast-HuBERT: factor the [-1, 1] samples are multiplied by before the fbank the graph takes "
                        "(manifest input.fbank.waveformScale, which the C# KaldiFbank applies). Default 32768: "
                        "Fast-HuBERT's own recipe (utils/extract_fbank.py), exact. Another value shifts the CMVN mean "
                        "by 2 ln(cmvn-scale / fbank-scale), which is approximate where the mel energy sits on Kaldi's "
                        "float32-epsilon floor")
    p.add_argument("--licence", help="licence of the weights (required with --checkpoint)")
    p.add_argument("--opset", type=int, help="ONNX opset (default 17, falling back to 14)")
    p.add_argument("--int8", default="", help="architectures to also quantise: comma list, 'all' or '' (none)")
    p.add_argument("--int8-min-elements", type=int, help="smallest weight quantised (default 4096 demo, 65536 full)")
    p.add_argument("--int8-weight-type", choices=("int8", "uint8"), default="int8")
    p.add_argument("--int8-per-channel", action="store_true")
    p.add_argument("--no-verify", dest="verify", action="store_false", help="skip the torchaudio cross-checks")
    p.add_argument("--save-state", action="store_true", help="also write state_dict.pt beside model.onnx")
    a = p.parse_args(argv)
    a.models = list(archs.ARCHITECTURES) if a.model == "all" else [m.strip() for m in a.model.split(",")]
    a.int8_models = (list(archs.ARCHITECTURES) if a.int8 == "all"
                     else [m.strip() for m in a.int8.split(",") if m.strip()])
    for m in a.models + a.int8_models:
        if m not in archs.ARCHITECTURES:
            p.error(f"unknown model {m!r}; expected {', '.join(archs.ARCHITECTURES)}")
    if not (math.isfinite(a.fbank_scale) and a.fbank_scale > 0) or not (math.isfinite(a.cmvn_scale) and a.cmvn_scale > 0):
        p.error("--fbank-scale and --cmvn-scale must be positive")
    if a.fbank_scale != archs.FAST_HUBERT_WAVEFORM_SCALE and "fast-hubert" not in a.models:
        p.error("--fbank-scale applies to fast-hubert only")
    if a.checkpoint:
        if len(a.models) != 1:
            p.error("--checkpoint needs exactly one --model")
        if a.size != "full":
            p.error("--checkpoint needs --size full (a real checkpoint has the full architecture)")
        if not a.licence:
            p.error("--checkpoint needs --licence (the weights' terms go into the manifest)")
        if a.models[0] == "fast-hubert" and not a.cmvn and checkpoints.detect_format(
                checkpoints.load_state_dict(a.checkpoint)) != "ours-fast-hubert":
            p.error("a Fast-HuBERT checkpoint needs --cmvn (its global CMVN stats are part of the graph)")
    return a


def main(argv=None):
    args = parse(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    for architecture in args.models:
        build_one(args, architecture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
