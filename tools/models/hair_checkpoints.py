"""Loads real HairFastGAN-chain checkpoints into hairfast.HairFastChain by mapping their state-dict keys.

  * StyleGAN2 (rosinality, HairFastGAN's pretrained_models/StyleGAN/ffhq.pt): `{"g_ema": ..., "latent_avg": ...}` or a
    bare generator state dict. The mapping network (`style.*`) and the stored noises (`noises.noise_*`) are dropped
    (W+ input; noises are inputs); every other key loads one to one (the modulated conv keeps rosinality's parameters).
  * BiSeNet (zllrunning face-parsing, face_parsing_79999_iter.pth): a bare state dict, optionally `module.`-prefixed
    (DataParallel); keys one to one, BatchNorm `num_batches_tracked` ignored.
  * e4e (e4e_ffhq_encode.pt): `{"state_dict": {"encoder.*", "decoder.*"}, "latent_avg"}`; `encoder.*` one to one
    (IR-SE-50 body, styles, latlayers), `decoder.*` (its own StyleGAN2) dropped, latent_avg -> e4e.latent_avg
    (the W+ of the first latent row when stored as [18, 512]).
  * HairFastGAN Blending (pretrained_models/Blending/checkpoint.pth): `{"model_state_dict": {"clip_model.visual.*",
    "modulation_module_list.*", ...}}`; CLIP's text tower and `logit_scale` are dropped.
Each loader raises ValueError naming the missing / unexpected keys or a shape mismatch.
"""
import torch


def _state(obj, *keys):
    for k in keys:
        if isinstance(obj, dict) and k in obj and isinstance(obj[k], dict):
            return obj[k]
    return obj


def _load(path_or_dict):
    if isinstance(path_or_dict, dict):
        return path_or_dict
    return torch.load(path_or_dict, map_location="cpu")


def _strict(module, mapped, what):
    own = module.state_dict()
    missing = [k for k in own if k not in mapped and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in mapped if k not in own]
    if missing or unexpected:
        raise ValueError(f"{what}: missing {missing[:8]}{'...' if len(missing) > 8 else ''}, "
                         f"unexpected {unexpected[:8]}{'...' if len(unexpected) > 8 else ''}")
    for k, v in mapped.items():
        if tuple(own[k].shape) != tuple(v.shape):
            raise ValueError(f"{what}: {k} has shape {tuple(v.shape)}, the module expects {tuple(own[k].shape)}")
    module.load_state_dict({**{k: v for k, v in own.items() if k.endswith("num_batches_tracked")}, **mapped}, strict=True)


def load_stylegan2(chain, source):
    ckpt = _load(source)
    sd = _state(ckpt, "g_ema")
    mapped = {k: v for k, v in sd.items() if not k.startswith("style.") and not k.startswith("noises.")}
    _strict(chain.generator, mapped, "StyleGAN2 g_ema")
    return ckpt.get("latent_avg") if isinstance(ckpt, dict) else None


def load_bisenet(chain, source):
    sd = _state(_load(source), "state_dict")
    mapped = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()
              if not k.endswith("num_batches_tracked")}
    _strict(chain.bisenet, mapped, "BiSeNet")


def load_e4e(chain, source):
    ckpt = _load(source)
    sd = _state(ckpt, "state_dict")
    mapped = {k[len("encoder."):]: v for k, v in sd.items() if k.startswith("encoder.") and not k.endswith("num_batches_tracked")}
    avg = ckpt.get("latent_avg") if isinstance(ckpt, dict) else None
    if avg is None:
        raise ValueError("e4e: the checkpoint has no latent_avg (e4e adds it to every W+ code)")
    avg = avg[0] if avg.ndim == 2 else avg
    mapped["latent_avg"] = avg
    _strict(chain.e4e, mapped, "e4e encoder")


def load_blending(chain, source):
    sd = _state(_load(source), "model_state_dict", "state_dict")
    mapped = {}
    for k, v in sd.items():
        if k.startswith("clip_model.visual."):
            mapped["visual." + k[len("clip_model.visual."):]] = v
        elif k.startswith("modulation_module_list."):
            mapped[k] = v
    own = chain.blending.state_dict()
    for k in own:          # fixed buffers of our own (the fixed-window pool matrix) are not in the checkpoint
        if k.startswith("face_pool."):
            mapped[k] = own[k]
    _strict(chain.blending, {k: v.float() for k, v in mapped.items()}, "Blending (CLIP visual + modulation)")


def load_all(chain, stylegan2=None, bisenet=None, e4e=None, blending=None):
    """Loads what is given; returns {part: source} for the manifest (empty: nothing loaded, demo weights)."""
    loaded = {}
    if stylegan2:
        avg = load_stylegan2(chain, stylegan2)
        loaded["stylegan2"] = str(stylegan2)
        if avg is not None and not e4e:
            chain.e4e.latent_avg.copy_(avg[0] if avg.ndim == 2 else avg)
    if bisenet:
        load_bisenet(chain, bisenet)
        loaded["bisenet"] = str(bisenet)
    if e4e:
        load_e4e(chain, e4e)
        loaded["e4e"] = str(e4e)
    if blending:
        load_blending(chain, blending)
        loaded["blending"] = str(blending)
    return loaded
