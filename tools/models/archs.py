"""Model architectures built by tools/models: HuBERT-large, HuBERT-base (torchaudio builders) and Fast-HuBERT.

Needs Debian's python3-torch and python3-torchaudio (run with /usr/bin/python3). Nothing here downloads anything.

Every model is wrapped so that it takes ONE float32 input and returns ONE float32 output:
  * HuBERT:      waveform [batch, samples] (16 kHz, per-utterance zero-mean/unit-variance) -> features [batch, frames, D], 50 Hz
  * Fast-HuBERT: fbank    [batch, time, 80] (raw Kaldi log-mel of the waveform times input.fbank.waveformScale,
                 32768 by default as Fast-HuBERT computes it, 100 Hz) -> features [batch, frames, 768], 25 Hz
"""
import copy
import math

import torch
from torch import nn
import torchaudio
from torchaudio.models.wav2vec2 import components as ta_components

ARCHITECTURES = ("hubert-large", "hubert-base", "fast-hubert")

# The wav2vec2/HuBERT convolutional feature extractor: (channels, kernel, stride) per layer.
# Total stride 5*2^6 = 320 samples (20 ms at 16 kHz, i.e. 50 Hz), receptive field 400 samples.
def hubert_conv_layers(channels):
    return [(channels, 10, 5)] + [(channels, 3, 2)] * 4 + [(channels, 2, 2)] * 2


# Fast-HuBERT computes fbank from int16-scaled samples (its utils/extract_fbank.py multiplies the [-1, 1]
# waveform by 2**15 before torchaudio.compliance.kaldi.fbank) and its CMVN stats on that. Our Fast-HuBERT graphs take
# the fbank of the samples times this scale too (the manifest's input.fbank.waveformScale, which the C# KaldiFbank
# applies). log-mel power of 2**15 * x equals that of x plus 2*ln(2**15) in every bin above Kaldi's floor (float32
# epsilon on the mel energy) but not in floored bins, so folding the scale into the CMVN instead
# (build.py --fbank-scale 1) is only approximate.
FAST_HUBERT_WAVEFORM_SCALE = 2.0 ** 15
LOG_POWER_SHIFT = 2.0 * math.log(FAST_HUBERT_WAVEFORM_SCALE)


def _w2v_config(extractor_mode, conv_channels, conv_bias, embed_dim, layers, heads, ffn, layer_norm_first,
                pos_conv_kernel=128, pos_conv_groups=16):
    return {
        "extractor_mode": extractor_mode,
        "extractor_conv_layer_config": hubert_conv_layers(conv_channels),
        "extractor_conv_bias": conv_bias,
        "encoder_embed_dim": embed_dim,
        "encoder_projection_dropout": 0.0,
        "encoder_pos_conv_kernel": pos_conv_kernel,
        "encoder_pos_conv_groups": pos_conv_groups,
        "encoder_num_layers": layers,
        "encoder_num_heads": heads,
        "encoder_attention_dropout": 0.0,
        "encoder_ff_interm_features": ffn,
        "encoder_ff_interm_dropout": 0.0,
        "encoder_dropout": 0.0,
        "encoder_layer_norm_first": layer_norm_first,
        "encoder_layer_drop": 0.0,
    }


def _fast_hubert_config(conv_channels, fbank_encoder_dim, embed_dim, layers, heads, ffn,
                        pos_conv_kernel=128, pos_conv_groups=16):
    return {
        "input_feat_per_channel": 80,
        "input_channels": 1,
        "conv_channels": conv_channels,
        "fbank_encoder_dim": fbank_encoder_dim,
        "conv_kernel_sizes": [5, 5],
        "conv_stride": 2,
        "conv_padding": "kernel // 2",
        "encoder_embed_dim": embed_dim,
        "encoder_pos_conv_kernel": pos_conv_kernel,
        "encoder_pos_conv_groups": pos_conv_groups,
        "encoder_num_layers": layers,
        "encoder_num_heads": heads,
        "encoder_ff_interm_features": ffn,
        "encoder_layer_norm_first": False,
        "activation": "gelu",
    }


# Contract of the features each architecture hands downstream (GeneFace++ audio-to-motion etc.).
CONTRACT = {
    "hubert-large": {"featureDim": 1024, "frameRate": 50},
    "hubert-base": {"featureDim": 768, "frameRate": 50},
    "fast-hubert": {"featureDim": 768, "frameRate": 25},
}

# size -> architecture -> hyper-parameters. "full" is the exact published architecture.
CONFIGS = {
    "full": {
        # facebook/hubert-large-ls960-ft (what GeneFace++ loads): feat_extract_norm "layer", conv_bias true,
        # do_stable_layer_norm true (pre-LN), 24 x 1024, 16 heads, FFN 4096. NB torchaudio.models.hubert_large()
        # sets extractor_conv_bias=False (the fairseq pre-trained checkpoint); the HF fine-tuned one has biases.
        "hubert-large": _w2v_config("layer_norm", 512, True, 1024, 24, 16, 4096, True),
        # facebook/hubert-base-ls960 / torchaudio.models.hubert_base(): group-norm extractor, no conv bias, post-LN.
        "hubert-base": _w2v_config("group_norm", 512, False, 768, 12, 12, 3072, False),
        # Fast-HuBERT (Yang et al. 2023, github.com/yanghaha0908/FastHuBERT): fairseq Conv1dSubsampler(80, 1024, 512,
        # kernels 5,5), HuBERT's LayerNorm(512) + post_extract_proj Linear(512, 768), fairseq HuBERT-base encoder
        # (HubertConfig defaults: 12 x 768, 12 heads, FFN 3072, layer_norm_first False, conv pos 128 / 16 groups).
        "fast-hubert": _fast_hubert_config(1024, 512, 768, 12, 12, 3072),
    },
    "demo": {
        # Same block structure (7-layer conv extractor with the real kernels and strides, conv positional
        # embedding with the real kernel 128 / 16 groups, same norm placement), narrower and shallower.
        "hubert-large": _w2v_config("layer_norm", 32, True, 64, 2, 4, 128, True),
        "hubert-base": _w2v_config("group_norm", 32, False, 64, 2, 4, 128, False),
        "fast-hubert": _fast_hubert_config(64, 32, 64, 2, 4, 128),
    },
}


def frames_for(architecture, input_length):
    """Output frames for an input of `input_length` samples (HuBERT) or fbank frames (Fast-HuBERT)."""
    if architecture == "fast-hubert":
        n = input_length
        for k in (5, 5):
            n = (n + 2 * (k // 2) - k) // 2 + 1
        return n
    n = input_length
    for _, k, s in hubert_conv_layers(1):
        n = (n - k) // s + 1
    return n


class HubertFeatures(nn.Module):
    """torchaudio Wav2Vec2Model (HuBERT config) -> last transformer layer's hidden states.

    torchaudio's Transformer applies its final LayerNorm after the last layer when layer_norm_first is True
    (pre-LN, HuBERT-large) and before the first layer when False (post-LN, HuBERT-base), exactly as fairseq and
    HF transformers do, so the output equals HF's `last_hidden_state`. The CTC head (aux) is never built.
    An optional `projection` (demo models only) maps the shrunk width to the downstream feature contract.
    """

    def __init__(self, config, projection_to=None):
        super().__init__()
        self.model = torchaudio.models.wav2vec2_model(**config, aux_num_out=None)
        width = config["encoder_embed_dim"]
        self.projection = nn.Linear(width, projection_to) if projection_to and projection_to != width else None

    def forward(self, waveform):
        x, _ = self.model(waveform)
        if self.projection is not None:
            x = self.projection(x)
        return x


class GlobalCmvn(nn.Module):
    """(x - mean) / std per mel bin, with the stats as constant buffers inside the graph."""

    def __init__(self, num_bins):
        super().__init__()
        self.register_buffer("mean", torch.zeros(num_bins))
        self.register_buffer("std", torch.ones(num_bins))

    def forward(self, x):
        return (x - self.mean) / self.std


class Conv1dSubsampler(nn.Module):
    """fairseq's speech_to_text Conv1dSubsampler, as Fast-HuBERT uses it.

    Conv1d(in -> mid, k, stride 2, padding k//2) + GLU over channels (-> mid/2), ..., last Conv1d(mid/2 -> 2*out) + GLU
    (-> out). With Fast-HuBERT's (80, 1024, 512, [5, 5]): 80 -> 1024 -GLU-> 512 -> 1024 -GLU-> 512, time / 4.
    Output length per layer: floor((T - 1) / 2) + 1.
    """

    def __init__(self, in_channels, mid_channels, out_channels, kernel_sizes):
        super().__init__()
        n = len(kernel_sizes)
        self.conv_layers = nn.ModuleList(
            nn.Conv1d(in_channels if i == 0 else mid_channels // 2,
                      mid_channels if i < n - 1 else out_channels * 2,
                      k, stride=2, padding=k // 2)
            for i, k in enumerate(kernel_sizes))

    def forward(self, x):  # [B, T, C] -> [B, T', out]
        x = x.transpose(1, 2)
        for conv in self.conv_layers:
            x = nn.functional.glu(conv(x), dim=1)
        return x.transpose(1, 2)


class FastHubert(nn.Module):
    """Fast-HuBERT feature extractor (fine-tuning / features_only path of FastHubertModel.forward).

    fbank [B, T, 80] -> global CMVN -> Conv1dSubsampler -> LayerNorm(512) -> Linear(512, 768) -> HuBERT-base
    transformer encoder (conv positional embedding + add, LayerNorm, 12 post-LN layers) -> [B, T/4, 768].
    LayerNorm + Linear + encoder are torchaudio's own components (FeatureProjection + Transformer), which
    are the same modules fairseq's HubertModel uses as `layer_norm`, `post_extract_proj` and `encoder`.
    """

    def __init__(self, config, projection_to=None):
        super().__init__()
        c = config
        self.cmvn = GlobalCmvn(c["input_feat_per_channel"] * c["input_channels"])
        self.subsample = Conv1dSubsampler(c["input_feat_per_channel"] * c["input_channels"], c["conv_channels"],
                                          c["fbank_encoder_dim"], c["conv_kernel_sizes"])
        self.encoder = ta_components._get_encoder(
            in_features=c["fbank_encoder_dim"], embed_dim=c["encoder_embed_dim"], dropout_input=0.0,
            pos_conv_kernel=c["encoder_pos_conv_kernel"], pos_conv_groups=c["encoder_pos_conv_groups"],
            num_layers=c["encoder_num_layers"], num_heads=c["encoder_num_heads"], attention_dropout=0.0,
            ff_interm_features=c["encoder_ff_interm_features"], ff_interm_dropout=0.0, dropout=0.0,
            layer_norm_first=c["encoder_layer_norm_first"], layer_drop=0.0)
        width = c["encoder_embed_dim"]
        self.projection = nn.Linear(width, projection_to) if projection_to and projection_to != width else None

    def set_cmvn(self, mean, std):
        self.cmvn.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.cmvn.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def forward(self, fbank):
        x = self.subsample(self.cmvn(fbank))
        x = self.encoder(x)
        if self.projection is not None:
            x = self.projection(x)
        return x


def demo_cmvn(num_bins=80, waveform_scale=FAST_HUBERT_WAVEFORM_SCALE):
    """Fixed demo CMVN stats: a smooth, plausible log-mel profile of speech (not measured on data), for fbank of
    samples times `waveform_scale`: at [-1, 1] scale the mean falls from -4 at bin 0 to -9 at bin 79."""
    k = torch.arange(num_bins, dtype=torch.float32)
    mean = -4.0 - 5.0 * k / (num_bins - 1) + 2.0 * math.log(waveform_scale)
    std = torch.full((num_bins,), 3.0)
    return mean, std


def build(architecture, size, overrides=None):
    """The torch module for `architecture` at `size` ("full" or "demo"), in eval mode, weights uninitialised
    (torch defaults under whatever seed the caller set). `overrides`: builder arguments a checkpoint decides
    (checkpoints.architecture_overrides, e.g. extractor_conv_bias False for fairseq / torchaudio HuBERT-large)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")
    config = copy.deepcopy(CONFIGS[size][architecture])
    for key, value in (overrides or {}).items():
        if key not in config:
            raise ValueError(f"{architecture} has no builder argument {key!r}")
        config[key] = value
    contract_dim = CONTRACT[architecture]["featureDim"]
    projection_to = contract_dim if size == "demo" else None
    if architecture == "fast-hubert":
        model = FastHubert(config, projection_to)
    else:
        model = HubertFeatures(config, projection_to)
    return model.eval(), config
