#!/usr/bin/python3
"""Every published audio-model format, fabricated with the upstream key names, nesting and shapes, loaded by our
tools and compared with a forward written from the upstream code (upstream_ref.py) on the same weights.

apt packages: python3-torch python3-torchaudio python3-onnx python3-numpy.
  /usr/bin/python3 tools/models/check_formats.py              # full size (the published shapes), prints a table
  /usr/bin/python3 tools/models/check_formats.py --size demo  # small shapes (what selftest.py runs)
  add --export to also export each loaded model to ONNX (as build.py does) and check the graph

No real checkpoint can be downloaded here, so each file is fabricated from fixed-seed weights with exactly the layout
the upstream code saves (read from its sources):
  * fairseq hubert_large_ll60k.pt: {"cfg": <omegaconf DictConfig>, "model": HubertModel.state_dict(), ...}: conv
    extractor `feature_extractor.conv_layers.N.0.weight` with NO bias (ConvFeatureExtractionModel(conv_bias=False)),
    layer-norm mode `conv_layers.N.2.1.*`, `layer_norm`, `post_extract_proj`, `encoder.pos_conv.0.weight_g/_v/bias`,
    `encoder.layers.N.self_attn.{q,k,v,out}_proj`, `self_attn_layer_norm`, `fc1`, `fc2`, `final_layer_norm`,
    `encoder.layer_norm`, `mask_emb`, `final_proj` [768, 1024], `label_embs_concat` [504, 768]
  * fairseq hubert_large_ll60k_finetune_ls960.pt: HubertCtc: `w2v_encoder.w2v_model.*` (pre-training modules
    removed: no final_proj / label_embs_concat) + `w2v_encoder.proj` [32, 1024]
  * torchaudio HUBERT_LARGE: the plain state dict of torchaudio.models.hubert_large() (no conv bias)
  * HF facebook/hubert-large-ls960-ft model.safetensors: HubertForCTC `hubert.*` (conv_bias true) + `lm_head.*`
  * Fast-HuBERT (FastHubertModel): no feature_extractor (deleted in __init__), `subsample.conv_layers.{0,1}`,
    `layer_norm` [512], `post_extract_proj` [768, 512], encoder, `mask_emb`, ILS `final_proj.{0,1}`,
    `label_embs_concat`; global_cmvn.npy of fbank at 2**15 scale
  * GeneFace++ PitchContourVAEModel / VAEModel: {"state_dict": {"model.<key>": ...}} with weight-normed WaveNets
    (weight_g / weight_v), the training-only FVAE encoder and BatchNorm counters
"""
import argparse
import copy
import math
import re
import sys
import tempfile
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchaudio  # noqa: E402

import a2m  # noqa: E402
import archs  # noqa: E402
import build  # noqa: E402
import checkpoints  # noqa: E402
import make_fixtures  # noqa: E402
import upstream_ref  # noqa: E402


# ------------------------------------------------------------------- fabricated checkpoints, written from scratch
def hf_keys(ta_state, new_weight_norm=False):
    """torchaudio Wav2Vec2Model keys -> HF HubertForCTC keys."""
    out = {}
    for k, v in ta_state.items():
        if k.startswith("encoder.feature_projection."):
            k = k[len("encoder."):]
        elif k.startswith("encoder.transformer."):
            k = "encoder." + k[len("encoder.transformer."):]
            if new_weight_norm:
                k = k.replace("pos_conv_embed.conv.weight_g", "pos_conv_embed.conv.parametrizations.weight.original0")
                k = k.replace("pos_conv_embed.conv.weight_v", "pos_conv_embed.conv.parametrizations.weight.original1")
        out["hubert." + k] = v
    width = ta_state["encoder.feature_projection.projection.weight"].shape[0]
    out["hubert.masked_spec_embed"] = torch.zeros(width)
    out["lm_head.weight"] = torch.zeros(32, width)
    out["lm_head.bias"] = torch.zeros(32)
    return out


def fairseq_encoder_keys(ta_state):
    """torchaudio encoder keys -> fairseq HubertModel keys (feature LayerNorm, post_extract_proj, encoder.*)."""
    out = {}
    for k, v in ta_state.items():
        if k.startswith("encoder.feature_projection.layer_norm."):
            out["layer_norm." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("encoder.feature_projection.projection."):
            out["post_extract_proj." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("encoder.transformer.pos_conv_embed.conv."):
            out["encoder.pos_conv.0." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("encoder.transformer.layer_norm."):
            out["encoder.layer_norm." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("encoder.transformer.layers."):
            parts = k.split(".")
            n, rest = parts[3], ".".join(parts[4:])
            rest = (rest.replace("attention.", "self_attn.")
                    .replace("feed_forward.intermediate_dense.", "fc1.")
                    .replace("feed_forward.output_dense.", "fc2."))
            if rest.startswith("layer_norm."):
                rest = "self_attn_layer_norm." + rest[len("layer_norm."):]
            out[f"encoder.layers.{n}.{rest}"] = v
    return out


def fairseq_hubert_keys(ta_state, extractor_mode):
    out = fairseq_encoder_keys(ta_state)
    for k, v in ta_state.items():
        if k.startswith("feature_extractor.conv_layers."):
            _, _, n, part, leaf = k.split(".")
            if part == "conv":
                out[f"feature_extractor.conv_layers.{n}.0.{leaf}"] = v
            elif extractor_mode == "layer_norm":
                out[f"feature_extractor.conv_layers.{n}.2.1.{leaf}"] = v
            else:  # group norm: only layer 0 has it
                out[f"feature_extractor.conv_layers.{n}.2.{leaf}"] = v
    width = ta_state["encoder.feature_projection.projection.weight"].shape[0]
    final_dim = 768 if width == 1024 else 256  # hubert_large_ll60k: final_dim 768; base: 256
    out["mask_emb"] = torch.zeros(width)
    out["label_embs_concat"] = torch.zeros(504, final_dim)
    out["final_proj.weight"] = torch.zeros(final_dim, width)
    out["final_proj.bias"] = torch.zeros(final_dim)
    return out


def fairseq_finetuned_keys(pretrained):
    """HubertCtc (fairseq hubert_asr.py): the pre-trained model under w2v_encoder.w2v_model. without the modules
    remove_pretraining_modules() drops (final_proj, and no label_embs_concat without dictionaries), plus the CTC head
    w2v_encoder.proj [vocab, width] (32 letters for ls960)."""
    out = {"w2v_encoder.w2v_model." + k: v for k, v in pretrained.items()
           if not k.startswith(("final_proj", "label_embs_concat"))}
    width = pretrained["mask_emb"].shape[0]
    out["w2v_encoder.proj.weight"] = torch.zeros(32, width)
    out["w2v_encoder.proj.bias"] = torch.zeros(32)
    return out


def fairseq_fast_hubert_keys(model):
    state = model.state_dict()
    out = fairseq_encoder_keys({k: v for k, v in state.items() if k.startswith("encoder.")})
    out.update({k: v for k, v in state.items() if k.startswith("subsample.")})
    width = model.encoder.feature_projection.projection.out_features
    out["mask_emb"] = torch.rand(width)  # FastHubertModel deletes HubertModel's feature_extractor: no such keys
    out["label_embs_concat"] = torch.rand(504, width)  # final_dim 0 -> encoder width
    for i in range(2):  # ILS (predict_layers [3, 11]): final_proj = Sequential(Linear, Linear)
        out[f"final_proj.{i}.weight"] = torch.zeros(504, width)
        out[f"final_proj.{i}.bias"] = torch.zeros(504)
    return out


class _Unimportable:  # stands in for omegaconf.DictConfig in a fairseq checkpoint
    def __init__(self):
        self.content = {"model": {"_name": "hubert"}}


def save_fairseq(path, model_state, key="cfg"):
    """A fairseq checkpoint: {"cfg" (hydra era, an omegaconf DictConfig) or "args" (older, an argparse Namespace),
    "model", "optimizer_history", ...}, its config object of a class that cannot be imported when loading."""
    module = types.ModuleType("missing_omegaconf_for_selftest")
    _Unimportable.__module__ = module.__name__
    module._Unimportable = _Unimportable
    sys.modules[module.__name__] = module
    try:
        other = "args" if key == "cfg" else "cfg"
        torch.save({key: _Unimportable(), other: None, "model": model_state, "criterion": None,
                    "optimizer_history": [{"criterion_name": "HubertCriterion", "num_updates": 400000}],
                    "task_state": {}, "extra_state": {"epoch": 1}, "last_optimizer_state": None}, path)
    finally:
        del sys.modules[module.__name__]
        _Unimportable.__module__ = __name__



WN_WEIGHT = re.compile(r"^(vae\.(?:decoder\.wn|encoder\.wn|prior_flow\.flows\.\d+\.enc)\."
                       r"(?:cond_layer|in_layers\.\d+|res_skip_layers\.\d+))\.weight$")


def genefacepp_state(model, cfg, new_weight_norm=False, id_exp=False, seed=5):
    """A PitchContourVAEModel / VAEModel state dict as GeneFace++ would save it, fabricated from `model`: every WaveNet conv
    under torch weight norm (weight_g = ||v|| per output channel, weight_v a rescaled copy of the weight), the
    training-only FVAE encoder (pre_net, 8-layer WN, out_proj) and BatchNorm counters added, keys 'model.'-prefixed."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in model.state_dict().items():
        m = WN_WEIGHT.match(k)
        if m:
            scale = 0.5 + torch.rand(v.shape[0], 1, 1, generator=g)
            weight_v = v * scale                                  # any v along the same direction
            weight_g = v.flatten(1).norm(dim=1).view(-1, 1, 1)     # g = |w|, so g * v / |v| = w
            if new_weight_norm:
                out[m.group(1) + ".parametrizations.weight.original0"] = weight_g
                out[m.group(1) + ".parametrizations.weight.original1"] = weight_v
            else:
                out[m.group(1) + ".weight_g"] = weight_g
                out[m.group(1) + ".weight_v"] = weight_v
        else:
            out[k] = v.clone()
    if id_exp:  # 80 identity + 64 expression channels, GeneFace++ takes pred[:, 80:] as exp
        w, b = out["vae.decoder.out_proj.weight"], out["vae.decoder.out_proj.bias"]
        out["vae.decoder.out_proj.weight"] = torch.cat([torch.randn(80, *w.shape[1:], generator=g), w])
        out["vae.decoder.out_proj.bias"] = torch.cat([torch.randn(80, generator=g), b])
    out["mel_encoder.1.num_batches_tracked"] = torch.tensor(123456)
    if a2m.uses_f0(cfg):
        out["pitch_encoder.1.num_batches_tracked"] = torch.tensor(123456)
    # FVAEEncoder(64, hidden 256, latent 16, kernel 5, 8 layers, gin): pre_net Conv1d(k 2s, stride s), a weight-normed
    # WN (cond_layer, in_layers, res_skip_layers), out_proj -- used only in training, but in every checkpoint
    h, s, gin = cfg["decoder_hidden"], cfg["latent_stride"], cfg["feat_dim"]
    out["vae.encoder.pre_net.0.weight"] = torch.randn(h, cfg["out_dim"], 2 * s, generator=g)
    out["vae.encoder.pre_net.0.bias"] = torch.zeros(h)
    out["vae.encoder.wn.cond_layer.weight_g"] = torch.ones(2 * h * 8, 1, 1)
    out["vae.encoder.wn.cond_layer.weight_v"] = torch.randn(2 * h * 8, gin, 1, generator=g)
    out["vae.encoder.wn.cond_layer.bias"] = torch.zeros(2 * h * 8)
    for i in range(8):
        out[f"vae.encoder.wn.in_layers.{i}.weight_g"] = torch.ones(2 * h, 1, 1)
        out[f"vae.encoder.wn.in_layers.{i}.weight_v"] = torch.randn(2 * h, h, 5, generator=g)
        out[f"vae.encoder.wn.in_layers.{i}.bias"] = torch.zeros(2 * h)
        rs = 2 * h if i < 7 else h
        out[f"vae.encoder.wn.res_skip_layers.{i}.weight_g"] = torch.ones(rs, 1, 1)
        out[f"vae.encoder.wn.res_skip_layers.{i}.weight_v"] = torch.randn(rs, h, 1, generator=g)
        out[f"vae.encoder.wn.res_skip_layers.{i}.bias"] = torch.zeros(rs)
    out["vae.encoder.out_proj.weight"] = torch.randn(2 * cfg["latent_channels"], h, 1, generator=g)
    out["vae.encoder.out_proj.bias"] = torch.zeros(2 * cfg["latent_channels"])
    return {"model." + k: v for k, v in out.items()}




# ------------------------------------------------------------------- the cases
def _perturb(module, seed, scale=0.02):
    """Fixed-seed noise on every float tensor, so no LayerNorm stays an identity and no bias stays zero."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]:
            t.add_(scale * torch.randn(t.shape, generator=g))


def _strip(state, prefix):
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _export(tmp, name, export_fn):
    import onnx
    path = Path(tmp) / f"{name}.onnx"
    t0 = time.perf_counter()
    opset = export_fn(path)
    seconds = time.perf_counter() - t0
    onnx.checker.check_model(str(path))
    size = path.stat().st_size
    path.unlink()
    return f"ONNX opset {opset}, {size:,} B, {seconds:.1f} s"


HUBERT_FORMATS = ("fairseq hubert_large_ll60k.pt", "fairseq hubert_large_ll60k_finetune_ls960.pt",
                  "torchaudio HUBERT_LARGE state dict", "HF hubert-large-ls960-ft model.safetensors")


def hubert_large_case(tmp, size, fmt, export=False, seconds=1.0):
    """One HuBERT-large checkpoint format: fabricated, loaded as build.py loads it, compared with upstream."""
    cfg = copy.deepcopy(archs.CONFIGS[size]["hubert-large"])
    cfg["extractor_conv_bias"] = fmt.startswith("HF")  # fairseq / torchaudio large: conv_bias False
    torch.manual_seed(10)
    if size == "full" and fmt.startswith("torchaudio"):
        source = torchaudio.models.hubert_large().eval()  # the published builder itself
    else:
        source = torchaudio.models.wav2vec2_model(**cfg, aux_num_out=None).eval()
    _perturb(source, 11)
    ta = source.state_dict()
    path = Path(tmp) / ("hubert.safetensors" if fmt.startswith("HF") else "hubert.pt")
    if fmt.startswith("fairseq"):
        state = fairseq_hubert_keys(ta, "layer_norm")
        if "finetune" in fmt:
            state = fairseq_finetuned_keys(state)
        save_fairseq(path, state)
    elif fmt.startswith("torchaudio"):
        state = ta
        torch.save(state, path)
    else:
        state = hf_keys(ta)
        upstream_ref.write_safetensors(path, state, {"format": "pt"})
    # our tools, exactly as build.py --checkpoint does
    read = checkpoints.load_state_dict(str(path))
    overrides = checkpoints.architecture_overrides(read, "hubert-large")
    model, config = build.seeded_model("hubert-large", size, 3, overrides)
    how = checkpoints.load_into(model, "hubert-large", str(path))
    g = torch.Generator().manual_seed(12)
    wav = torch.randn(1, int(16000 * seconds), generator=g)
    heads, layers = cfg["encoder_num_heads"], [(c, k, s) for c, k, s in cfg["extractor_conv_layer_config"]]
    with torch.no_grad():
        ours, _ = model.model(wav)
        if fmt.startswith("fairseq"):
            ref = upstream_ref.fairseq_hubert(_strip(state, "w2v_encoder.w2v_model.") if "finetune" in fmt else state,
                                              wav, layers, "layer_norm", True, heads)
            ref_name = "fairseq HubertModel.extract_features (upstream_ref)"
        elif fmt.startswith("torchaudio"):
            reference = (torchaudio.models.hubert_large() if size == "full" else
                         torchaudio.models.wav2vec2_model(**cfg, aux_num_out=None)).eval()
            reference.load_state_dict(torch.load(path), strict=True)
            ref, _ = reference(wav)
            ref_name = "torchaudio.models.hubert_large()" if size == "full" else "torchaudio.models.wav2vec2_model"
        else:
            ref = upstream_ref.hf_hubert(state, wav, "layer", True, heads, [s for _, _, s in layers])
            ref_name = "HF HubertModel last_hidden_state (upstream_ref)"
    result = {"format": fmt, "loadedAs": how, "convBias": config["extractor_conv_bias"], "tensors": len(read),
              "reference": ref_name, "maxAbsDiff": upstream_ref.max_abs_diff(ours, ref),
              "frames": int(ours.shape[1])}
    if export:
        result["export"] = _export(tmp, "hubert", lambda p: build.export_onnx(model, "hubert-large", p, 17))
    path.unlink()
    return result


def fast_hubert_case(tmp, size, export=False):
    """A FastHubertModel checkpoint + global_cmvn.npy (stats of fbank at 2**15 scale) on hello.wav: the default
    build (fbank scale 32768) against upstream, and the former default (scale 1, mean shifted) for comparison."""
    torch.manual_seed(20)
    source, config = build.seeded_model("fast-hubert", size, 1)
    _perturb(source, 21)
    state = fairseq_fast_hubert_keys(source)
    path = Path(tmp) / "fasthubert.pt"
    save_fairseq(path, state)
    clip = make_fixtures.clip_16k()[:32000]
    stats = upstream_ref.fast_hubert_fbank(clip)
    mean, std = stats.mean(0).numpy(), stats.std(0, unbiased=False).numpy()
    cmvn = Path(tmp) / "global_cmvn.npy"
    np.save(cmvn, {"mean": mean, "std": std})
    heads = config["encoder_num_heads"]
    with torch.no_grad():
        ref = upstream_ref.fast_hubert(state, mean, std, clip, heads)
        out = {}
        for scale in (archs.FAST_HUBERT_WAVEFORM_SCALE, 1.0):
            model, _ = build.seeded_model("fast-hubert", size, 3, fbank_scale=scale)
            how = checkpoints.load_into(model, "fast-hubert", str(path))
            build.set_fast_hubert_cmvn(model, str(cmvn), archs.FAST_HUBERT_WAVEFORM_SCALE, scale)
            model.projection = None  # the demo-only Linear is not part of a checkpoint
            # the graph's input: what the C# KaldiFbank computes with Scale = input.fbank.waveformScale
            out[scale] = (model, model(make_fixtures.fbank(clip, scale).unsqueeze(0)))
    model, ours = out[archs.FAST_HUBERT_WAVEFORM_SCALE]
    result = {"format": "Fast-HuBERT FastHubertModel .pt + global_cmvn.npy", "loadedAs": how, "tensors": len(state),
              "reference": "FastHubertModel(features_only) on fbank(x * 2**15) + CMVN (upstream_ref)",
              "maxAbsDiff": upstream_ref.max_abs_diff(ours, ref), "frames": int(ours.shape[1]),
              "scale1MaxAbsDiff": upstream_ref.max_abs_diff(out[1.0][1], ref),
              "scale1FramesOff": int(((out[1.0][1] - ref).abs().amax(-1) > 1e-3).sum())}
    if export:
        result["export"] = _export(tmp, "fasthubert", lambda p: build.export_onnx(model, "fast-hubert", p, 17))
    return result


def genefacepp_case(tmp, size, variant, export=False, frames=32):
    """A GeneFace++ audio2motion checkpoint ({"state_dict": {"model.<key>": ...}}) of either class."""
    import build_a2m
    contract = "geneface-a2m" if variant == a2m.PITCH_VARIANT else "geneface-a2m-vae"
    torch.manual_seed(30)
    cfg = a2m.config_for(contract, size)
    source, cfg = a2m.build(contract, config=cfg)
    a2m.demo_batchnorm_stats(source, 30)
    _perturb(source, 31)
    state = genefacepp_state(source, cfg)
    path = Path(tmp) / "model_ckpt_steps_400000.ckpt"
    torch.save({"state_dict": state, "global_step": 400000, "epoch": 3, "optimizer_states": [{}],
                "lr_schedulers": [{}], "checkpoint_callback_best": 0.1}, path)
    loaded, lcfg, report = a2m.load_checkpoint(str(path), contract)
    g = torch.Generator().manual_seed(32)
    hubert = torch.randn(1, 2 * frames, cfg["audio_in_dim"], generator=g)
    f0_50 = 100.0 + 200.0 * torch.rand(1, 2 * frames, generator=g)
    f0_50[:, ::3] = 0.0
    mask = torch.ones(1, frames)
    z = a2m.TEMPERATURE * torch.randn(1, cfg["latent_channels"], frames // cfg["latent_stride"], generator=g)
    with torch.no_grad():
        inputs = (hubert, a2m.halve_50hz(f0_50), mask, z) if loaded.uses_f0 else (hubert, mask, z)
        ours = loaded(*inputs)
        ref = upstream_ref.genefacepp(_strip(state, "model."), hubert, z, mask, f0_50 if loaded.uses_f0 else None,
                                      mouth_amp=lcfg["mouth_amp"], eye_amp=lcfg["eye_amp"])
    result = {"format": f"GeneFace++ {variant} .ckpt", "loadedAs": lcfg["variant"], "tensors": len(state),
              "reference": f"GeneFace++ {variant}.forward(train=False) (upstream_ref)",
              "maxAbsDiff": upstream_ref.max_abs_diff(ours, ref), "frames": frames,
              "onnxInputs": build_a2m.input_names(lcfg)}
    if export:
        result["export"] = _export(tmp, "a2m", lambda p: build_a2m.export_onnx(loaded, lcfg, p, 17))
    return result


def all_cases(size, export=False):
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in HUBERT_FORMATS:
            yield hubert_large_case(tmp, size, fmt, export)
        yield fast_hubert_case(tmp, size, export)
        for variant in a2m.VARIANTS:
            yield genefacepp_case(tmp, size, variant, export)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=("demo", "full"), default="full")
    p.add_argument("--export", action="store_true", help="also export each loaded model to ONNX and check it")
    p.add_argument("--tolerance", type=float, default=1e-4)
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, min(4, __import__("os").cpu_count() or 1)))
    print(f"| format ({a.size} size) | loaded as | tensors | reference | frames | max abs diff | ok |"
          + (" export |" if a.export else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if a.export else ""))
    failed = 0
    for r in all_cases(a.size, a.export):
        ok = r["maxAbsDiff"] <= a.tolerance
        failed += not ok
        extra = ""
        if "convBias" in r:
            extra = f" (conv bias {str(r['convBias']).lower()})"
        if "onnxInputs" in r:
            extra = f" (ONNX inputs {', '.join(r['onnxInputs'])})"
        print(f"| {r['format']} | {r['loadedAs']}{extra} | {r['tensors']} | {r['reference']} | {r['frames']} | "
              f"{r['maxAbsDiff']:.2e} | {'yes' if ok else 'NO'} |" + (f" {r['export']} |" if a.export else ""),
              flush=True)
        if "scale1MaxAbsDiff" in r:
            print(f"|   the same Fast-HuBERT built the former default way (fbank of [-1, 1] samples, CMVN mean shifted "
                  f"by 2 ln 2^15) | | | | | {r['scale1MaxAbsDiff']:.2e} ({r['scale1FramesOff']} of {r['frames']} "
                  f"frames off by > 1e-3) | | " + ("|" if a.export else ""), flush=True)
    print("all within tolerance" if not failed else f"{failed} outside {a.tolerance:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
