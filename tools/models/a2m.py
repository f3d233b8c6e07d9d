"""GeneFace++'s audio-to-motion network as it runs at inference, written for ONNX export.

GeneFace++ (yerfor/GeneFacePlusPlus, the same network as Real3DPortrait's audio2secc) predicts 64 BFM expression
coefficients per 25 fps frame with `PitchContourVAEModel` (modules/audio2motion/vae.py) in inference mode
(`forward(batch, ret, train=False, temperature=0.2)`). What that path computes, and what this module rebuilds:

  * features: HuBERT-large `last_hidden_state` [B, 2T, 1024] at 50 Hz, halved by
    `F.interpolate(x.transpose(1, 2), scale_factor=0.5, mode="nearest")`, which keeps frames 0, 2, 4, ... (frame
    2t for output frame t; floor(2T / 2) = T frames). Here: a stride-2 Slice in the graph. The Fast-HuBERT
    contract (768-d features already at 25 Hz) skips it.
  * `mel_encoder`: Conv1d(D -> 128, k3, pad 1, no bias) -> BatchNorm1d -> GELU -> Conv1d(128 -> 128, k3, no bias).
  * F0: the 50 Hz track goes through the same nearest halving (f0_25[t] = f0_50[2t]); the graph takes the 25 Hz
    track. `f0_to_coarse` (utils/commons/pitch_utils.py): mel = 1127 ln(1 + f0 / 700); where mel > 0 it becomes
    (mel - mel(50 Hz)) * 254 / (mel(1100 Hz) - mel(50 Hz)) + 1; clamped to [1, 255]; rounded half up. Unvoiced
    (f0 = 0, mel = 0) and anything under 50 Hz give bin 1. `pitch_embed` = Embedding(300, 128) (GeneFace++ sizes it
    300, only rows 1..255 are ever used), then `pitch_encoder`: the same Conv/BN/GELU/Conv stack at 128.
  * blink: `blink_embed` = Embedding(2, 128). GeneFace++'s inference feeds blink = 0 for every frame, so the row is a
    constant here (`blink` in the config, 0 by default).
  * mouth amplitude: the released audio2motion config (Real3DPortrait egs/os_avatar/audio2motion_vae.yaml, the same
    checkpoint) sets use_mouth_amp_embed: true, use_eye_amp_embed: false. Then mouth_amp * `mouth_amp_embed` [128]
    is one more constant per frame; GeneFace++'s inference default mouth_amp is 0.4 (`--mouth_amp`).
  * `cond_proj` = Linear(128 * k -> 128) over [mel, pitch, blink, (mouth), (eye)] concatenated per frame: g [B, 128, T].
  * `vae` (FVAE, strides [4], latent 16, hidden 256, kernel 5, decoder 4 layers, gin 128, prior glow hidden 64,
    kernel 3, 4 coupling layers of 4 WaveNet layers): g_sqz = `g_pre_net` Conv1d(128 -> 128, k8, stride 4, pad 2)(g)
    [B, 128, T/4]; z ~ N(0, 1) * temperature of shape [B, 16, T/4] (an INPUT here, so a seed reproduces a run);
    `prior_flow` (ResidualCouplingBlock: 4 x [mean-only ResidualCouplingLayer, Flip]) run in reverse with x_mask = 1
    and g_sqz; `decoder`: ConvTranspose1d(16 -> 256, k4, s4) -> WaveNet(256, k5, 4 layers, gated tanh * sigmoid,
    conditioned on g) -> Conv1d(256 -> 64, 1).
  * output = decoder output * y_mask (GeneFace++ passes mask 1 to the flow and the decoder at inference and only
    multiplies the result by the mask), [B, T, 64].

GeneFace++'s other variant, `VAEModel` (its genefacepp_infer.py builds it when the checkpoint's config has no
`use_pitch: true`), is built here too (config `variant`): no F0 at all (no pitch_embed / pitch_encoder, so the
graph has no `f0` input), no cond_proj and no amp embeddings; `mel_encoder` is Conv1d(D -> 64, k3, no bias) ->
BatchNorm1d(64) -> GELU -> Conv1d(64 -> 64, k3, no bias) and its output is g [B, 64, T] itself (the FVAE's
gin_channels is 64); its `blink_embed` Embedding(2, 64) is saved but never used by forward. Its features are
halved with `F.interpolate(..., scale_factor=0.5, mode="linear")` (align_corners False), which for an even input
is the mean of frames 2t and 2t+1 (written as that mean in the graph).

GeneFace++ cuts HuBERT to a multiple of 8 frames at 50 Hz (T a multiple of 4 at 25 Hz); g_pre_net and the x4
transposed conv need T to be a multiple of 4. The FVAE encoder (training only) is not built.

WaveNet layers here are plain Conv1d: GeneFace++ wraps them in weight_norm, which at inference is the weight
g * v / ||v||; `load_checkpoint` folds it. Parameter names follow GeneFace++'s so a checkpoint maps key for key.

Needs Debian's python3-torch and python3-numpy. Nothing here downloads anything.
"""
import copy
import math
import re

import numpy as np
import torch
from torch import nn

# ------------------------------------------------------------------------------------------------ contracts
# name -> what the model takes. featureRate 50 = HuBERT frames, halved inside the graph. `variant` is the
# GeneFace++ class the weights come from (a checkpoint's keys decide it over the contract's default).
PITCH_VARIANT = "PitchContourVAEModel"
PLAIN_VARIANT = "VAEModel"
VARIANTS = (PITCH_VARIANT, PLAIN_VARIANT)
CONTRACTS = {
    "geneface-a2m": {"featureDim": 1024, "featureRate": 50, "featureModels": ["hubert-large", "hubert-large-int8"],
                     "variant": PITCH_VARIANT},
    "geneface-a2m-fast": {"featureDim": 768, "featureRate": 25, "featureModels": ["fast-hubert", "fast-hubert-int8"],
                          "variant": PITCH_VARIANT},
    "geneface-a2m-vae": {"featureDim": 1024, "featureRate": 50, "featureModels": ["hubert-large", "hubert-large-int8"],
                         "variant": PLAIN_VARIANT},
}
FRAME_RATE = 25
EXP_DIM = 64
LATENT_CHANNELS = 16
LATENT_DOWNSAMPLE = 4
FRAME_MULTIPLE = 8          # what the C# side pads to; the network itself needs a multiple of 4
TEMPERATURE = 0.2           # GeneFace++ inference default (--temperature 0.2)
MOUTH_AMP = 0.4             # GeneFace++ inference default (--mouth_amp 0.4); Real3DPortrait's is 0.45
EYE_AMP = 1.0               # GeneFace++ inference feeds eye_amp 1.0 (used only by checkpoints with eye_amp_embed)

# utils/commons/pitch_utils.py
F0_BIN = 256
F0_MIN = 50.0
F0_MAX = 1100.0
F0_MEL_MIN = 1127.0 * math.log(1.0 + F0_MIN / 700.0)
F0_MEL_MAX = 1127.0 * math.log(1.0 + F0_MAX / 700.0)


def full_config(contract, variant=None):
    c = CONTRACTS[contract]
    variant = variant or c["variant"]
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {VARIANTS}")
    plain = variant == PLAIN_VARIANT
    return {
        "variant": variant,
        "audio_in_dim": c["featureDim"],
        "feature_rate": c["featureRate"],
        "feat_dim": 64 if plain else 128,
        "pitch_vocab": 0 if plain else 300,
        "blink_vocab": 2,
        "use_mouth_amp_embed": not plain,
        "use_eye_amp_embed": False,
        "latent_channels": LATENT_CHANNELS,
        "latent_stride": LATENT_DOWNSAMPLE,
        "out_dim": EXP_DIM,
        "flow_hidden": 64,
        "flow_kernel": 3,
        "flow_layers": 4,
        "flow_couplings": 4,
        "decoder_hidden": 256,
        "decoder_kernel": 5,
        "decoder_layers": 4,
        "blink": 0,
        "mouth_amp": MOUTH_AMP,
        "eye_amp": EYE_AMP,
    }


# Demo: the full network is ~5 M parameters (~20 MB fp32), over the 6 MB a committed demo may take. The feature and
# pitch encoders, the conditioning (128), g_pre_net and every layer count / kernel stay as published; only the two
# WaveNets get narrower.
DEMO_SHRINK = {"decoder_hidden": 64, "flow_hidden": 32}


def config_for(contract, size, variant=None):
    cfg = full_config(contract, variant)
    if size == "demo":
        cfg.update(DEMO_SHRINK)
    elif size != "full":
        raise ValueError(f"size must be demo or full, not {size!r}")
    return cfg


# ------------------------------------------------------------------------------------------------ F0
def f0_to_coarse(f0):
    """GeneFace++'s f0_to_coarse on a float32 tensor, with the same float32 operations in the same order, written
    with where/clamp/floor so it exports to ONNX. Returns int64 bins in [1, 255]."""
    mel = 1127.0 * torch.log(1.0 + f0 / 700.0)
    scaled = (mel - F0_MEL_MIN) * float(F0_BIN - 2) / (F0_MEL_MAX - F0_MEL_MIN) + 1.0
    mel = torch.where(mel > 0, scaled, mel)
    mel = torch.clamp(mel, min=1.0, max=float(F0_BIN - 1))
    return torch.floor(mel + 0.5).to(torch.int64)


def f0_to_coarse_reference(f0):
    """pitch_utils.f0_to_coarse re-stated in numpy float64 (for tests): unvoiced and < 50 Hz -> 1."""
    f0 = np.asarray(f0, dtype=np.float64)
    mel = 1127.0 * np.log(1.0 + f0 / 700.0)
    pos = mel > 0
    mel[pos] = (mel[pos] - F0_MEL_MIN) * (F0_BIN - 2) / (F0_MEL_MAX - F0_MEL_MIN) + 1
    mel = np.clip(mel, 1, F0_BIN - 1)
    return np.floor(mel + 0.5).astype(np.int64)


def uses_f0(config):
    return config.get("variant", PITCH_VARIANT) == PITCH_VARIANT


def halve_50hz(track):
    """50 Hz -> 25 Hz the way GeneFace++ does it (F.interpolate nearest, scale 0.5): frames 0, 2, 4, ..."""
    return track[..., 0:(track.shape[-1] // 2) * 2:2]


# ------------------------------------------------------------------------------------------------ modules
class WaveNet(nn.Module):
    """GeneFace++'s WN (flow_base.py) without dropout/adapters, dilation 1: per layer a k-wide Conv1d to 2H
    channels plus that layer's slice of the 1x1 conditioning conv, tanh(first half) * sigmoid(second half), a 1x1
    res/skip conv (2H channels, H for the last layer); residual into x, skip summed into the output."""

    def __init__(self, hidden, kernel, layers, cond_channels):
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.cond_layer = nn.Conv1d(cond_channels, 2 * hidden * layers, 1)
        self.in_layers = nn.ModuleList(nn.Conv1d(hidden, 2 * hidden, kernel, padding=kernel // 2)
                                       for _ in range(layers))
        self.res_skip_layers = nn.ModuleList(nn.Conv1d(hidden, 2 * hidden if i < layers - 1 else hidden, 1)
                                             for i in range(layers))

    def forward(self, x, g):
        h = self.hidden
        g = self.cond_layer(g)
        out = None
        for i in range(self.layers):
            a = self.in_layers[i](x) + g[:, 2 * h * i:2 * h * (i + 1)]
            acts = torch.tanh(a[:, :h]) * torch.sigmoid(a[:, h:])
            rs = self.res_skip_layers[i](acts)
            if i < self.layers - 1:
                x = x + rs[:, :h]
                skip = rs[:, h:]
            else:
                skip = rs
            out = skip if out is None else out + skip
        return out


class MeanOnlyCoupling(nn.Module):
    """ResidualCouplingLayer(mean_only=True): x1 -/+ post(WN(pre(x0), g)); x0 passes through."""

    def __init__(self, channels, hidden, kernel, layers, cond_channels):
        super().__init__()
        self.half = channels // 2
        self.pre = nn.Conv1d(self.half, hidden, 1)
        self.enc = WaveNet(hidden, kernel, layers, cond_channels)
        self.post = nn.Conv1d(hidden, self.half, 1)

    def forward(self, x, g, reverse=True):
        x0, x1 = x[:, :self.half], x[:, self.half:]
        m = self.post(self.enc(self.pre(x0), g))
        x1 = x1 - m if reverse else x1 + m
        return torch.cat([x0, x1], 1)


class Flip(nn.Module):
    """Reverses the channel order (a fixed Gather, which exports everywhere)."""

    def __init__(self, channels):
        super().__init__()
        self.register_buffer("order", torch.arange(channels - 1, -1, -1), persistent=False)

    def forward(self, x, g=None, reverse=True):
        return x.index_select(1, self.order)


class PriorFlow(nn.Module):
    """ResidualCouplingBlock: flows = [coupling, flip] x n; state-dict keys flows.0/2/4/6.*."""

    def __init__(self, channels, hidden, kernel, layers, couplings, cond_channels):
        super().__init__()
        mods = []
        for _ in range(couplings):
            mods.append(MeanOnlyCoupling(channels, hidden, kernel, layers, cond_channels))
            mods.append(Flip(channels))
        self.flows = nn.ModuleList(mods)

    def forward(self, x, g, reverse=True):
        for flow in (reversed(self.flows) if reverse else self.flows):
            x = flow(x, g, reverse=reverse)
        return x


class Decoder(nn.Module):
    """FVAEDecoder, strides [4]: ConvTranspose1d(latent -> H, k4, s4) -> WN(H, k, n, gin) -> Conv1d(H -> out, 1)."""

    def __init__(self, latent, hidden, out, kernel, layers, cond_channels, stride):
        super().__init__()
        self.pre_net = nn.Sequential(nn.ConvTranspose1d(latent, hidden, kernel_size=stride, stride=stride))
        self.wn = WaveNet(hidden, kernel, layers, cond_channels)
        self.out_proj = nn.Conv1d(hidden, out, 1)

    def forward(self, z, g):
        return self.out_proj(self.wn(self.pre_net(z), g))


class FVAEInference(nn.Module):
    """The inference half of FVAE: g_pre_net, prior_flow (reverse), decoder."""

    def __init__(self, c):
        super().__init__()
        s, gin = c["latent_stride"], c["feat_dim"]
        self.g_pre_net = nn.Sequential(nn.Conv1d(gin, gin, kernel_size=2 * s, stride=s, padding=s // 2))
        self.prior_flow = PriorFlow(c["latent_channels"], c["flow_hidden"], c["flow_kernel"], c["flow_layers"],
                                    c["flow_couplings"], gin)
        self.decoder = Decoder(c["latent_channels"], c["decoder_hidden"], c["out_dim"], c["decoder_kernel"],
                               c["decoder_layers"], gin, s)

    def forward(self, z, g):
        z = self.prior_flow(z, self.g_pre_net(g), reverse=True)
        return self.decoder(z, g)


def _conv_bn_gelu_conv(cin, width):
    return nn.Sequential(nn.Conv1d(cin, width, 3, 1, 1, bias=False), nn.BatchNorm1d(width), nn.GELU(),
                         nn.Conv1d(width, width, 3, 1, 1, bias=False))


class GeneFaceA2M(nn.Module):
    """PitchContourVAEModel: features [B, F, D], f0 [B, T] (Hz, 25 Hz, 0 = unvoiced), mask [B, T], z [B, 16, T/4]
    -> exp [B, T, 64]. VAEModel (config variant): features, mask, z -> exp (no f0).

    F = 2T for 50 Hz features (halved here: frames 0, 2, ... for PitchContourVAEModel, the mean of frames 2t and
    2t + 1 for VAEModel, as their nearest / linear downsamplers do), F = T for 25 Hz features."""

    def __init__(self, config):
        super().__init__()
        c = self.config = copy.deepcopy(config)
        w = c["feat_dim"]
        self.uses_f0 = uses_f0(c)
        # modules in GeneFace++'s order (which also fixes what a seed draws)
        self.mel_encoder = _conv_bn_gelu_conv(c["audio_in_dim"], w)
        if not self.uses_f0:  # VAEModel: mel_encoder's output is the conditioning itself
            self.blink_embed = nn.Embedding(c["blink_vocab"], w)
            self.vae = FVAEInference(c)
            return
        self.pitch_embed = nn.Embedding(c["pitch_vocab"], w)
        self.pitch_encoder = _conv_bn_gelu_conv(w, w)
        self.blink_embed = nn.Embedding(c["blink_vocab"], w)
        parts = 3
        if c["use_mouth_amp_embed"]:
            self.mouth_amp_embed = nn.Parameter(torch.randn(w))
            parts += 1
        if c["use_eye_amp_embed"]:
            self.eye_amp_embed = nn.Parameter(torch.randn(w))
            parts += 1
        self.cond_proj = nn.Linear(parts * w, w)
        self.vae = FVAEInference(c)

    def constant_conditioning(self):
        """The per-frame constants after mel and pitch, in GeneFace++'s concatenation order: [blink, mouth, eye]."""
        c = self.config
        parts = [self.blink_embed.weight[c["blink"]]]
        if c["use_mouth_amp_embed"]:
            parts.append(c["mouth_amp"] * self.mouth_amp_embed)
        if c["use_eye_amp_embed"]:
            parts.append(c["eye_amp"] * self.eye_amp_embed)
        return torch.cat(parts, 0)

    def forward(self, features, *rest):
        """(features, f0, mask, z) for PitchContourVAEModel, (features, mask, z) for VAEModel."""
        if not self.uses_f0:
            mask, z = rest
            if self.config["feature_rate"] == 2 * FRAME_RATE:  # F.interpolate linear x0.5 on 2T frames
                features = 0.5 * (features[:, 0::2] + features[:, 1::2])
            g = self.mel_encoder(features.transpose(1, 2))                                      # [B, 64, T]
            return self.vae(z, g).transpose(1, 2) * mask.unsqueeze(-1)
        f0, mask, z = rest
        if self.config["feature_rate"] == 2 * FRAME_RATE:
            features = features[:, ::2]
        cond = self.mel_encoder(features.transpose(1, 2)).transpose(1, 2)                     # [B, T, 128]
        pitch = self.pitch_encoder(self.pitch_embed(f0_to_coarse(f0)).transpose(1, 2)).transpose(1, 2)
        const = self.constant_conditioning()
        const = const.view(1, 1, -1).expand(cond.shape[0], cond.shape[1], const.shape[0])
        g = self.cond_proj(torch.cat([cond, pitch, const], -1)).transpose(1, 2)              # [B, 128, T]
        exp = self.vae(z, g)                                                                   # [B, 64, T]
        return exp.transpose(1, 2) * mask.unsqueeze(-1)


def build(contract, size="demo", config=None):
    """The module (eval mode) for a contract at a size, or for an explicit config; weights are torch's defaults
    under whatever seed the caller set."""
    cfg = copy.deepcopy(config) if config is not None else config_for(contract, size)
    return GeneFaceA2M(cfg).eval(), cfg


def demo_batchnorm_stats(model, seed):
    """Fixed-seed running stats and affine for the BatchNorms (torch's defaults would make them an identity
    that a parity test could not tell apart from a missing layer)."""
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for bn in (model.mel_encoder[1],) + ((model.pitch_encoder[1],) if model.uses_f0 else ()):
            n = bn.num_features
            bn.running_mean.copy_(0.1 * torch.randn(n, generator=g))
            bn.running_var.copy_(0.5 + torch.rand(n, generator=g))
            bn.weight.copy_(1.0 + 0.1 * torch.randn(n, generator=g))
            bn.bias.copy_(0.1 * torch.randn(n, generator=g))


def seeded_model(contract, size="demo", seed=0, blink=0, mouth_amp=MOUTH_AMP, eye_amp=EYE_AMP):
    """The fixed-seed (demo-weights) model exactly as build_a2m.py exports it."""
    torch.manual_seed(seed)
    cfg = config_for(contract, size)
    cfg.update(blink=blink, mouth_amp=mouth_amp, eye_amp=eye_amp)
    model, cfg = build(contract, config=cfg)
    demo_batchnorm_stats(model, seed)
    return model.eval(), cfg


def parameter_count(model):
    return int(sum(p.numel() for p in model.parameters()))


# ------------------------------------------------------------------------------------------------ checkpoints
def read_checkpoint(path):
    """The `model.`-stripped tensor state dict of a GeneFace++ / Real3DPortrait audio2secc checkpoint
    (model_ckpt_steps_*.ckpt: {"state_dict": {"model.<key>": tensor, ...}, ...}, or the older
    {"state_dict": {"model": {...}}}), of a bare state dict, or of our own module's state dict."""
    try:
        obj = torch.load(path, map_location="cpu")
    except (ImportError, AttributeError):
        import checkpoints  # tools/models/checkpoints.py: unpickles with unknown classes stubbed
        obj = checkpoints._tolerant_torch_load(path)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: no state dict found (got {type(obj).__name__})")
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if any(k.startswith("model.") for k in state):
        state = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    return state


def _fold_weight_norm(state):
    """weight_g / weight_v (torch.nn.utils.weight_norm, dim 0) or parametrizations.weight.original0/1 -> weight."""
    out, pairs = {}, {}
    for k, v in state.items():
        m = re.match(r"(.*)\.(weight_g|weight_v|parametrizations\.weight\.original0|parametrizations\.weight\.original1)$", k)
        if m:
            pairs.setdefault(m.group(1), {})["g" if m.group(2) in ("weight_g", "parametrizations.weight.original0") else "v"] = v
        else:
            out[k] = v
    for base, gv in pairs.items():
        if set(gv) != {"g", "v"}:
            raise ValueError(f"{base}: weight norm needs both g and v, the checkpoint has {sorted(gv)}")
        v, g = gv["v"].float(), gv["g"].float()
        norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))
        out[base + ".weight"] = v * (g / norm)
    return out


def config_from_state(state, contract):
    """The hyper-parameters a GeneFace++ state dict implies (widths, layer counts, kernels, amp embeddings)."""
    # PitchContourVAEModel has pitch_embed / pitch_encoder / cond_proj; VAEModel (use_pitch false) has neither
    variant = PITCH_VARIANT if "pitch_embed.weight" in state else PLAIN_VARIANT
    if variant == PLAIN_VARIANT and any(k.startswith(("pitch_encoder.", "cond_proj.")) for k in state):
        raise ValueError("the checkpoint has pitch_encoder / cond_proj but no pitch_embed.weight: neither GeneFace++'s "
                         "PitchContourVAEModel nor its VAEModel")

    def shape(k):
        if k not in state:
            raise ValueError(f"the checkpoint has no {k}: not a GeneFace++ {variant} "
                             f"(keys: {', '.join(list(state)[:8])} ...)")
        return tuple(state[k].shape)

    cfg = full_config(contract, variant)
    _, d, _ = shape("mel_encoder.0.weight")
    w = shape("mel_encoder.3.weight")[0]
    cfg["feat_dim"], cfg["audio_in_dim"] = w, d
    cfg["blink_vocab"] = shape("blink_embed.weight")[0]
    if variant == PITCH_VARIANT:
        cfg["pitch_vocab"] = shape("pitch_embed.weight")[0]
        cfg["use_mouth_amp_embed"] = "mouth_amp_embed" in state
        cfg["use_eye_amp_embed"] = "eye_amp_embed" in state
    elif shape("vae.g_pre_net.0.weight")[1] != w:
        raise ValueError(f"VAEModel checkpoint: g_pre_net takes {shape('vae.g_pre_net.0.weight')[1]} channels, "
                         f"mel_encoder gives {w}")
    cfg["latent_channels"], cfg["decoder_hidden"], cfg["latent_stride"] = shape("vae.decoder.pre_net.0.weight")
    cfg["out_dim"] = shape("vae.decoder.out_proj.weight")[0]
    cfg["decoder_kernel"] = shape("vae.decoder.wn.in_layers.0.weight")[2]
    cfg["decoder_layers"] = len({k.split(".")[4] for k in state if k.startswith("vae.decoder.wn.in_layers.")})
    if "vae.prior_flow.flows.0.pre.weight" not in state:
        raise ValueError("the checkpoint has no prior flow (use_prior_flow False) or uses a sqz_prior: not supported")
    cfg["flow_hidden"] = shape("vae.prior_flow.flows.0.pre.weight")[0]
    cfg["flow_kernel"] = shape("vae.prior_flow.flows.0.enc.in_layers.0.weight")[2]
    cfg["flow_layers"] = len({k.split(".")[6] for k in state if k.startswith("vae.prior_flow.flows.0.enc.in_layers.")})
    cfg["flow_couplings"] = len({k.split(".")[3] for k in state if k.startswith("vae.prior_flow.flows.")})
    if any(k.startswith(("vae.query_proj.", "vae.exp_decoder.", "vae.pose_decoder.")) for k in state):
        raise ValueError("sqz_prior / 71-channel exp+pose checkpoints are not supported")
    return cfg


def load_checkpoint(path, contract, blink=0, mouth_amp=MOUTH_AMP, eye_amp=EYE_AMP):
    """A GeneFace++ audio2secc checkpoint -> (GeneFaceA2M, config, report). Keys map one to one (weight norm folded);
    the training-only FVAE encoder and BatchNorm counters are dropped. An id_exp checkpoint (144 outputs: 80 identity
    + 64 expression) keeps the last 64 rows of out_proj, which is what GeneFace++ takes as exp (pred[:, 80:])."""
    raw = read_checkpoint(path)
    state = _fold_weight_norm(raw)
    if set(state) and all(not k.startswith("vae.") for k in state):
        raise ValueError(f"{path}: no vae.* keys; not a GeneFace++ audio-to-motion checkpoint")
    cfg = config_from_state(state, contract)
    if cfg["audio_in_dim"] != CONTRACTS[contract]["featureDim"]:
        raise ValueError(f"{path}: mel_encoder takes {cfg['audio_in_dim']}-d features, the {contract} contract is "
                         f"{CONTRACTS[contract]['featureDim']}-d")
    sliced = None
    if cfg["out_dim"] == 80 + EXP_DIM:
        sliced = "out_proj rows 80..143 (exp of an id_exp model)"
        state["vae.decoder.out_proj.weight"] = state["vae.decoder.out_proj.weight"][80:]
        state["vae.decoder.out_proj.bias"] = state["vae.decoder.out_proj.bias"][80:]
        cfg["out_dim"] = EXP_DIM
    elif cfg["out_dim"] != EXP_DIM:
        raise ValueError(f"{path}: the decoder writes {cfg['out_dim']} channels, expected 64 (exp) or 144 (id_exp)")
    cfg.update(blink=blink, mouth_amp=mouth_amp, eye_amp=eye_amp)
    if not 0 <= blink < cfg["blink_vocab"]:
        raise ValueError(f"blink {blink} is not a row of blink_embed ({cfg['blink_vocab']} rows)")
    model, _ = build(contract, config=cfg)
    own = model.state_dict()  # VAEModel: blink_embed is kept (it is in the checkpoint) though forward never reads it
    dropped = sorted(k for k in state if k not in own)
    unexpected = [k for k in dropped
                  if not (k.startswith("vae.encoder.") or k.endswith("num_batches_tracked"))]
    missing = sorted(k for k in own if k not in state)
    if unexpected or missing:
        raise ValueError(f"{path} does not fit GeneFaceA2M: missing {missing[:6]}, unexpected {unexpected[:6]}")
    for k, v in own.items():
        if tuple(v.shape) != tuple(state[k].shape):
            raise ValueError(f"{path}: {k} has shape {tuple(state[k].shape)}, the model expects {tuple(v.shape)}")
    model.load_state_dict({k: state[k].float() for k in own}, strict=True)
    report = {
        "keys": len(raw), "loaded": len(own),
        "droppedTrainingOnly": len(dropped),
        "weightNormFolded": sum(1 for k in raw if k.endswith(("weight_g", "original0"))),
        "outProj": sliced or "64 rows (exp model)",
        "variant": cfg["variant"],
    }
    return model.eval(), cfg, report


# ------------------------------------------------------------------------------------------------ landmarks
def _ibug68():
    """A plausible neutral face, 68 points in iBUG order, x to the image right, y up, z towards the camera;
    chin at y = -1, brows near y = 0.55 (about 1.6 units from chin to brow, the face about 2 units tall with
    the forehead), jaw 1.9 units wide, nose tip 0.75 in front of the ear line."""
    p = np.zeros((68, 3))
    t = np.linspace(0, 1, 17)                                   # jaw 0..16, image left ear -> chin -> right ear
    s = np.sin(np.pi * t)
    p[0:17, 0] = -0.95 * np.cos(np.pi * t)
    p[0:17, 1] = 0.25 - 1.25 * s ** 1.2
    p[0:17, 2] = -0.35 + 0.65 * s
    u = np.linspace(0, 1, 5)                                    # brows: 17..21 outer -> inner, 22..26 inner -> outer
    p[17:22, 0] = -0.80 + 0.62 * u
    p[17:22, 1] = 0.48 + 0.09 * np.sin(np.pi * (0.25 + 0.6 * u))
    p[17:22, 2] = 0.15 + 0.25 * u
    p[22:27] = p[21:16:-1] * [-1, 1, 1]
    p[27:31, 0] = 0                                             # nose bridge 27..30, top -> tip
    p[27:31, 1] = np.linspace(0.33, -0.18, 4)
    p[27:31, 2] = np.linspace(0.45, 0.75, 4)
    p[31:36, 0] = np.linspace(-0.18, 0.18, 5)                   # nostrils 31..35
    p[31:36, 1] = -0.27 - 0.03 * np.cos(np.pi * np.linspace(-0.5, 0.5, 5))
    p[31:36, 2] = 0.55 + 0.08 * np.cos(np.pi * np.linspace(-0.5, 0.5, 5))

    def eye(cx, sign):                                          # outer, upper x2, inner, lower x2 (image order)
        xs = cx + sign * np.array([-0.16, -0.06, 0.06, 0.16, 0.06, -0.06])
        ys = 0.20 + np.array([0.0, 0.055, 0.055, 0.0, -0.045, -0.045])
        zs = np.array([0.28, 0.36, 0.38, 0.40, 0.38, 0.36])
        return np.stack([xs, ys, zs], 1)
    p[36:42] = eye(-0.38, 1)
    p[42:48] = eye(0.38, -1)[[3, 2, 1, 0, 5, 4]]               # 42 inner corner, 43/44 upper, 45 outer, 46/47 lower
    cy = -0.56                                                  # mouth
    ox = np.array([-0.30, -0.19, -0.07, 0.0, 0.07, 0.19, 0.30])                    # 48..54 upper outer
    oy = cy + np.array([0.0, 0.07, 0.11, 0.09, 0.11, 0.07, 0.0])
    p[48:55] = np.stack([ox, oy, 0.42 + 0.14 * np.cos(np.pi * ox / 0.6)], 1)
    lx = np.array([0.19, 0.09, 0.0, -0.09, -0.19])                                  # 55..59 lower outer, right -> left
    ly = cy - np.array([0.08, 0.12, 0.13, 0.12, 0.08])
    p[55:60] = np.stack([lx, ly, 0.42 + 0.12 * np.cos(np.pi * lx / 0.6)], 1)
    ix = np.array([-0.22, -0.08, 0.0, 0.08, 0.22])                                  # 60..64 inner upper
    p[60:65] = np.stack([ix, cy + np.array([0.0, 0.012, 0.012, 0.012, 0.0]), 0.45 + 0.08 * np.cos(np.pi * ix / 0.5)], 1)
    jx = np.array([0.08, 0.0, -0.08])                                                # 65..67 inner lower
    p[65:68] = np.stack([jx, cy - np.array([0.012, 0.012, 0.012]), 0.45 + 0.08 * np.cos(np.pi * jx / 0.5)], 1)
    return p


LANDMARK_COMPONENTS = {
    0: "jaw / mouth open (lower lip, inner lower lip and chin down; corners half)",
    1: "smile (mouth corners out and up, lower eyelids up a little)",
    2: "brows up (both brows up, upper eyelids up a little)",
    3: "blink (upper eyelids down onto the lower ones, lower eyelids up a little): 1.0 closes both eyes",
    4: "pucker (mouth corners in, lips forward)",
    5: "frown (inner brow ends down and together)",
}


def demo_landmark_basis(seed=0, components=EXP_DIM):
    """(mean [68, 3], basis [64, 68, 3]) float32: landmarks[t] = mean + sum_k exp[t, k] * basis[k]. The first six
    components are the hand-made motions of LANDMARK_COMPONENTS (for a coefficient of 1), the rest small smooth
    seeded random deformations with a falling spectrum, like the tail of a PCA basis. Made up: not BFM."""
    mean = _ibug68()
    basis = np.zeros((components, 68, 3))
    jaw_t = np.linspace(0, 1, 17)
    b = basis[0]                                                     # mouth open
    b[0:17, 1] = -0.22 * np.sin(np.pi * jaw_t) ** 2
    b[0:17, 2] = -0.04 * np.sin(np.pi * jaw_t) ** 2
    b[55:60, 1] = -0.25
    b[65:68, 1] = -0.24
    for i in (48, 54, 60, 64):
        b[i, 1] = -0.10
    b[49:54, 1] = 0.02
    b[61:64, 1] = 0.01
    b = basis[1]                                                     # smile
    for i, sign in ((48, -1), (60, -1), (54, 1), (64, 1)):
        b[i] = [0.07 * sign, 0.06, -0.02]
    for i, sign in ((49, -1), (59, -1), (53, 1), (55, 1)):
        b[i] = [0.03 * sign, 0.03, 0.0]
    b[[40, 41, 46, 47], 1] = 0.012
    b = basis[2]                                                     # brows up
    b[17:27, 1] = 0.08
    b[17:27, 2] = -0.01
    b[[37, 38, 43, 44], 1] = 0.012
    b = basis[3]                                                     # blink
    b[[37, 38, 43, 44], 1] = -0.085
    b[[40, 41, 46, 47], 1] = 0.015
    b = basis[4]                                                     # pucker
    for i, sign in ((48, 1), (60, 1), (54, -1), (64, -1)):
        b[i, 0] = 0.06 * sign
    for i, sign in ((49, 1), (59, 1), (53, -1), (55, -1)):
        b[i, 0] = 0.03 * sign
    b[48:68, 2] += 0.06
    b = basis[5]                                                     # frown
    for i, sign in ((20, 1), (21, 1), (22, -1), (23, -1)):
        b[i] = [0.03 * sign, -0.05, 0.01]
    b[[19, 24], 1] = -0.02
    rng = np.random.default_rng(seed)
    anchors = mean
    for k in range(len(LANDMARK_COMPONENTS), components):
        # a smooth field: random affine-ish + radial bumps around a few random points, evaluated at the landmarks
        field = np.zeros((68, 3))
        for _ in range(3):
            centre = anchors[rng.integers(68)]
            width = rng.uniform(0.25, 0.6)
            direction = rng.standard_normal(3) * [1.0, 1.0, 0.5]
            weight = np.exp(-np.sum((anchors - centre) ** 2, 1) / (2 * width ** 2))
            field += weight[:, None] * direction[None, :]
        field *= 0.03 / math.sqrt(k - len(LANDMARK_COMPONENTS) + 1) / max(1e-9, np.abs(field).max())
        basis[k] = field
    return mean.astype(np.float32), basis.astype(np.float32)


def load_landmark_basis(path):
    """A real landmark basis: an .npz with `mean` [68, 3] (or [204]) and `basis` [64, 68, 3], [68, 3, 64] or
    [204, 64] (GeneFace++'s key_exp_base layout: rows x0 y0 z0 x1 ... per landmark, one column per coefficient)."""
    data = np.load(path)
    if "mean" not in data or "basis" not in data:
        raise ValueError(f"{path}: expected arrays 'mean' and 'basis', found {list(data.keys())}")
    mean = np.asarray(data["mean"], dtype=np.float64).reshape(68, 3)
    basis = np.asarray(data["basis"], dtype=np.float64)
    if basis.shape == (EXP_DIM, 68, 3):
        pass
    elif basis.shape == (68, 3, EXP_DIM):
        basis = basis.transpose(2, 0, 1)
    elif basis.shape == (68 * 3, EXP_DIM):
        basis = basis.reshape(68, 3, EXP_DIM).transpose(2, 0, 1)
    else:
        raise ValueError(f"{path}: basis has shape {basis.shape}; expected [64, 68, 3], [68, 3, 64] or [204, 64]")
    return mean.astype(np.float32), np.ascontiguousarray(basis, dtype=np.float32)
