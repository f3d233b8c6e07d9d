"""Load real checkpoints into the tools/models architectures by mapping state-dict keys.

Supported (no transformers / fairseq / omegaconf needed):
  * HF transformers HuBERT state dicts (`pytorch_model.bin` of facebook/hubert-large-ls960-ft, HubertModel or
    HubertForCTC, with or without the `hubert.` prefix; old weight_g/weight_v or new parametrizations keys),
  * fairseq HuBERT checkpoints (`.pt` with a `model` state dict, pre-trained or fine-tuned `w2v_encoder.w2v_model.`),
  * fairseq Fast-HuBERT checkpoints (FastHubertModel: `subsample.*`, `layer_norm.*`, `post_extract_proj.*`, `encoder.*`),
  * torchaudio Wav2Vec2Model state dicts (`feature_extractor.*`, `encoder.transformer.*`) and our own module's
    state dict (keys prefixed `model.` / as FastHubert names them),
  * any of these as `.safetensors` (HF publishes model.safetensors for hubert-large-ls960-ft): read by
    `read_safetensors`, a small reader of the format (no safetensors package needed).
Checkpoints without conv-extractor biases (fairseq hubert_large_ll60k / its ls960 fine-tune, torchaudio HUBERT_LARGE:
conv_bias False) are told apart by `architecture_overrides`, which build.py uses to build the matching graph.

Needs Debian's python3-torch and python3-torchaudio.
"""
import io
import json
import os
import pickle
import re
import struct
import types

import numpy as np
import torch
from torchaudio.models.wav2vec2.utils import import_fairseq as ta_fairseq


# ---------------------------------------------------------------- tolerant torch.load for fairseq checkpoints
class _Stub:
    """Stands in for any class that cannot be imported (omegaconf DictConfig, argparse Namespace subclasses,
    fairseq objects) while unpickling a fairseq checkpoint: we only need the tensors in `model`."""

    def __init__(self, *args, **kwargs):
        self._args = args

    def __setstate__(self, state):
        self._state = state

    def __call__(self, *args, **kwargs):
        return _Stub(*args)


class _TolerantUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name, (_Stub,), {"__module__": module})


_tolerant_pickle = types.ModuleType("tolerant_pickle")
_tolerant_pickle.Unpickler = _TolerantUnpickler
_tolerant_pickle.load = lambda f, **kw: _TolerantUnpickler(f, **kw).load()
_tolerant_pickle.loads = lambda b, **kw: _TolerantUnpickler(io.BytesIO(b), **kw).load()
_tolerant_pickle.__name__ = "pickle"


def _tolerant_torch_load(path):
    """torch.load with unknown classes stubbed. Debian's torch 1.13 torch.load ignores its pickle_module argument
    (it resets it to `pickle` when weights_only is False), so call the loader it dispatches to directly."""
    from torch import serialization as ts
    with ts._open_file_like(path, "rb") as opened:
        if ts._is_zipfile(opened):
            with ts._open_zipfile_reader(opened) as zipped:
                return ts._load(zipped, "cpu", _tolerant_pickle, encoding="utf-8")
        return ts._legacy_load(opened, "cpu", _tolerant_pickle, encoding="utf-8")


# ---------------------------------------------------------------- safetensors
# https://github.com/huggingface/safetensors: 8-byte little-endian header length N, N bytes of JSON
# {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}, then the raw
# little-endian tensor bytes; offsets are relative to the end of the header.
_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": "bf16", "I64": np.int64,
                       "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
_SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024  # the format's own limit


def is_safetensors(path):
    """True when the file starts like a safetensors file (a plausible header length, then '{')."""
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"  # a torch zip starts with "PK", a legacy pickle with 0x80


def read_safetensors(path):
    """{name: torch.Tensor} of a .safetensors file. Memory-maps the file (no copy of the whole file in memory);
    a malformed header, an unknown dtype or data outside the file is refused with a ValueError naming it."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError(f"{path}: {size} bytes, too short for a safetensors header")
        n = struct.unpack("<Q", raw)[0]
        if n > _SAFETENSORS_MAX_HEADER or 8 + n > size:
            raise ValueError(f"{path}: safetensors header length {n:,} does not fit the {size:,}-byte file")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: the safetensors header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the safetensors header is not a JSON object")
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n) if size > 8 + n else np.zeros(0, np.uint8)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], [int(d) for d in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: tensor {name!r} has no dtype / shape / data_offsets: {info!r}") from None
        if dtype not in _SAFETENSORS_DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has dtype {dtype}, not one of {sorted(_SAFETENSORS_DTYPES)}")
        np_dtype = _SAFETENSORS_DTYPES[dtype]
        itemsize = 2 if np_dtype == "bf16" else np.dtype(np_dtype).itemsize
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= begin <= end <= data.shape[0]) or end - begin != count * itemsize:
            raise ValueError(f"{path}: tensor {name!r} ({dtype} {shape}) has data_offsets [{begin}, {end}], which do "
                             f"not fit its size or the {data.shape[0]:,} data bytes")
        chunk = np.asarray(data[begin:end])
        if np_dtype == "bf16":  # bfloat16 = the upper half of a float32
            array = (chunk.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = chunk.view(np.dtype(np_dtype).newbyteorder("<"))
        out[name] = torch.from_numpy(array.reshape(shape).copy())
    return out


def load_state_dict(path):
    """The tensor state dict inside a checkpoint file (fairseq: its `model` entry; safetensors: all its tensors)."""
    if is_safetensors(path):
        return read_safetensors(path)
    try:
        obj = torch.load(path, map_location="cpu")
    except (ImportError, AttributeError):  # fairseq checkpoints pickle omegaconf / fairseq classes we do not have
        obj = _tolerant_torch_load(path)
    except (pickle.UnpicklingError, RuntimeError, EOFError, MemoryError) as error:
        raise ValueError(f"{path}: neither a torch checkpoint nor a safetensors file ({type(error).__name__}: "
                         f"{str(error)[:120]})") from None
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: no state dict found (got {type(obj).__name__})")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def load_cmvn(path):
    """Fast-HuBERT global CMVN: `global_cmvn.npy` (np.save of {"mean", "std"}), an `.npz` with mean/std, or a
    Kaldi-style `cmvn.stats` text file (count / sums / sums of squares, as Fast-HuBERT's extract_fbank.py writes)."""
    if str(path).endswith("cmvn.stats") or str(path).endswith(".stats"):
        with open(path) as f:
            lines = [l.split() for l in f.read().strip().splitlines()]
        n = float(lines[0][0])
        sums = np.array([float(v) for v in lines[1]])
        squares = np.array([float(v) for v in lines[2]])
        mean = sums / n
        std = np.sqrt(np.maximum(squares / n - mean ** 2, 1e-8))
        return mean.astype(np.float32), std.astype(np.float32)
    stats = np.load(path, allow_pickle=True)
    if isinstance(stats, np.ndarray) and stats.dtype == object:
        stats = stats.tolist()
    return np.asarray(stats["mean"], dtype=np.float32), np.asarray(stats["std"], dtype=np.float32)


# ---------------------------------------------------------------- key mapping
def _hf_to_torchaudio(key):
    """HF transformers Hubert* key (prefix stripped) -> torchaudio Wav2Vec2Model key, or None to drop."""
    if key.startswith(("masked_spec_embed", "lm_head.", "label_embeddings", "final_proj", "project_q")):
        return None
    if key.startswith("feature_extractor."):
        return key  # conv_layers.N.conv.* / conv_layers.N.layer_norm.* are the same in both
    if key.startswith("feature_projection."):
        return "encoder." + key
    if key.startswith("encoder."):
        key = key.replace("encoder.pos_conv_embed.conv.parametrizations.weight.original0",
                          "encoder.pos_conv_embed.conv.weight_g")
        key = key.replace("encoder.pos_conv_embed.conv.parametrizations.weight.original1",
                          "encoder.pos_conv_embed.conv.weight_v")
        return "encoder.transformer." + key[len("encoder."):]
    raise ValueError(f"unexpected HF HuBERT key: {key}")


def detect_format(state):
    keys = list(state)
    has_subsample = any(re.search(r"(^|\.)subsample\.conv_layers\.", k) for k in keys)
    if any(k.startswith(("model.feature_extractor.", "model.encoder.transformer.")) for k in keys):
        return "ours-hubert"
    if has_subsample and any(k.startswith("encoder.transformer.") for k in keys):
        return "ours-fast-hubert"
    if has_subsample:
        return "fairseq-fast-hubert"
    if any("encoder.transformer." in k for k in keys):
        return "torchaudio"
    if any(re.search(r"(^|\.)encoder\.pos_conv_embed\.", k) or re.search(r"(^|\.)feature_projection\.", k) for k in keys):
        return "hf"
    if any(re.search(r"(^|\.)encoder\.pos_conv\.0\.", k) for k in keys):
        return "fairseq"
    raise ValueError("cannot tell the checkpoint format from its keys: " + ", ".join(keys[:8]))


def hubert_state_dict(state):
    """A checkpoint's state dict mapped onto torchaudio's Wav2Vec2Model key names."""
    fmt = detect_format(state)
    if fmt == "ours-hubert":
        return {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}, fmt
    if fmt == "torchaudio":
        return {k: v for k, v in state.items() if not k.startswith("aux.")}, fmt
    if fmt == "hf":
        out = {}
        for k, v in state.items():
            k = k[len("hubert."):] if k.startswith("hubert.") else k
            mapped = _hf_to_torchaudio(k)
            if mapped is not None:
                out[mapped] = v
        return out, fmt
    if fmt == "fairseq":
        out = {}
        for k, v in state.items():
            k = k[len("w2v_encoder."):] if k.startswith("w2v_encoder.") else k
            k = k[len("w2v_model."):] if k.startswith("w2v_model.") else k
            if k in ("label_embs_concat",) or k.startswith(("proj.", "final_proj.", "mask_emb", "label_embs")):
                continue
            mapped = ta_fairseq._map_key(k)  # torchaudio's own fairseq -> torchaudio key map
            if mapped is not None and not mapped.startswith("aux."):
                out[mapped] = v
        return out, fmt
    raise ValueError(f"a {fmt} checkpoint is not a HuBERT checkpoint")


def fast_hubert_state_dict(state):
    """A Fast-HuBERT checkpoint's state dict mapped onto tools/models' FastHubert module key names (cmvn excluded)."""
    fmt = detect_format(state)
    if fmt == "ours-fast-hubert":
        return dict(state), fmt
    if fmt != "fairseq-fast-hubert":
        raise ValueError(f"a {fmt} checkpoint is not a Fast-HuBERT checkpoint")
    out = {}
    for k, v in state.items():
        k = k[len("w2v_encoder.w2v_model."):] if k.startswith("w2v_encoder.w2v_model.") else k
        if k.startswith("subsample."):
            out[k] = v
        elif k.startswith("feature_extractor.") or k.startswith(("final_proj", "label_embs", "mask_emb", "proj.")):
            continue  # HubertModel builds a (unused) waveform extractor; prediction heads are not features
        elif k.startswith(("layer_norm.", "post_extract_proj.", "encoder.")):
            mapped = ta_fairseq._map_key(k)
            if mapped is not None:
                out[mapped] = v
    return out, fmt


CONV_BIAS = re.compile(r"^feature_extractor\.conv_layers\.\d+\.conv\.bias$")


def architecture_overrides(state, architecture):
    """Builder arguments a checkpoint decides (state as load_state_dict returns it). HuBERT: whether the conv
    extractor has biases: fairseq's ConvFeatureExtractionModel(conv_bias=cfg.conv_bias) saves none for
    hubert_large_ll60k / hubert_large_ll60k_finetune_ls960 (HubertConfig.conv_bias defaults to False), nor does
    torchaudio.models.hubert_large(); HF facebook/hubert-large-ls960-ft has them (conv_bias true)."""
    if architecture == "fast-hubert":
        return {}
    mapped, _ = hubert_state_dict(state)  # ours-hubert included: its keys are `model.` + torchaudio's
    return {"extractor_conv_bias": any(CONV_BIAS.match(k) for k in mapped)}


def load_into(model, architecture, path):
    """Load checkpoint `path` into `model` (built by archs.build). Returns a short description of what was read."""
    state = load_state_dict(path)
    if detect_format(state).startswith("ours"):  # a state dict of our own wrapper module: load it whole
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise ValueError(f"{path} does not fit {architecture}: {error}") from None
        return "ours"
    if architecture == "fast-hubert":
        mapped, fmt = fast_hubert_state_dict(state)
        target = model
    else:
        mapped, fmt = hubert_state_dict(state)
        target = model.model
    own = target.state_dict()
    skip = {k for k in own if k.startswith(("cmvn.", "projection."))}
    missing = sorted(set(own) - set(mapped) - skip)
    unexpected = sorted(set(mapped) - set(own))
    if missing or unexpected:
        raise ValueError(f"{path} ({fmt}) does not fit {architecture}: missing {missing[:6]}{'...' if len(missing) > 6 else ''}, "
                         f"unexpected {unexpected[:6]}{'...' if len(unexpected) > 6 else ''}")
    for k, v in mapped.items():
        if tuple(own[k].shape) != tuple(v.shape):
            raise ValueError(f"{path}: {k} has shape {tuple(v.shape)}, the {architecture} model expects {tuple(own[k].shape)}")
    target.load_state_dict(mapped, strict=False)
    return fmt
