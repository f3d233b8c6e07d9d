"""Reference forwards written from the upstream sources, run directly on state dicts with the upstream key names.

These are the yardstick for the checkpoint loaders (selftest.py, check_formats.py): a fabricated checkpoint laid out
exactly as the upstream code saves it is loaded by our tools (key mapping onto torchaudio / a2m.py modules) and the
result must equal what the upstream forward computes on the same tensors. Nothing here shares code with archs.py,
a2m.py or checkpoints.py: each function re-states one upstream forward with torch.nn.functional, from

  * fairseq  fairseq/models/wav2vec/wav2vec2.py (ConvFeatureExtractionModel, make_conv_pos, TransformerEncoder,
             TransformerSentenceEncoderLayer), fairseq/modules/multihead_attention.py, fairseq/models/hubert/hubert.py
             (HubertModel.extract_features: feature_extractor -> layer_norm -> post_extract_proj -> encoder)
  * HF       transformers/models/hubert/modeling_hubert.py (HubertModel: HubertFeatureEncoder, HubertFeatureProjection,
             HubertEncoder / HubertEncoderStableLayerNorm -> last_hidden_state)
  * FastHuBERT  yanghaha0908/FastHuBERT utils/extract_fbank.py (fbank of waveform * 2**15 via fairseq's
             _get_torchaudio_fbank), data/hubert_fbank_dataset.py (global CMVN), model/fasthubert.py
             (FastHubertModel.forward, features_only) with fairseq's speech_to_text Conv1dSubsampler
  * GeneFace++  yerfor/GeneFacePlusPlus modules/audio2motion/vae.py (PitchContourVAEModel, VAEModel, FVAE at
             infer=True), flow_base.py (WN, ResidualCouplingLayer, ResidualCouplingBlock, Flip),
             utils/commons/pitch_utils.py (f0_to_coarse), with torch weight_norm (weight_g / weight_v) as saved.

torchaudio's HUBERT_LARGE needs no re-statement: torchaudio.models.hubert_large() itself is the reference.
"""
import json
import math

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio


def _weight_norm(g, v, dim):
    """torch.nn.utils.weight_norm: w = g * v / ||v||, the norm over every dimension but `dim`."""
    dims = [d for d in range(v.dim()) if d != dim]
    return v * (g / v.norm(dim=dims, keepdim=True))


def _mha(x, p, heads):
    """Self-attention as fairseq MultiheadAttention / HF HubertAttention compute it: q scaled by head_dim^-0.5."""
    b, t, c = x.shape
    d = c // heads
    q = F.linear(x, p["q.weight"], p["q.bias"]) * d ** -0.5
    k = F.linear(x, p["k.weight"], p["k.bias"])
    v = F.linear(x, p["v.weight"], p["v.bias"])
    q, k, v = (y.view(b, t, heads, d).transpose(1, 2) for y in (q, k, v))
    a = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
    return F.linear(a.transpose(1, 2).reshape(b, t, c), p["out.weight"], p["out.bias"])


def _pos_conv(x, weight, bias, kernel, groups):
    """make_conv_pos / HubertPositionalConvEmbedding: Conv1d(padding k // 2, groups), SamePad (drop the last frame
    for an even kernel), GELU; the caller adds it to x."""
    y = F.conv1d(x.transpose(1, 2), weight, bias, padding=kernel // 2, groups=groups)
    if kernel % 2 == 0:
        y = y[:, :, :-1]
    return F.gelu(y).transpose(1, 2)


# ------------------------------------------------------------------------------------------------ fairseq
def _fairseq_encoder(s, x, layer_norm_first, heads, pos_kernel, pos_groups):
    """fairseq TransformerEncoder.forward(x) (features_only path, eval): pos_conv added, LayerNorm before the
    layers when post-LN, TransformerSentenceEncoderLayer x N, LayerNorm after them when pre-LN."""
    w = _weight_norm(s["encoder.pos_conv.0.weight_g"], s["encoder.pos_conv.0.weight_v"], 2)
    x = x + _pos_conv(x, w, s["encoder.pos_conv.0.bias"], pos_kernel, pos_groups)
    c = x.shape[-1]

    def ln(y, name):
        return F.layer_norm(y, (c,), s[name + ".weight"], s[name + ".bias"])

    if not layer_norm_first:
        x = ln(x, "encoder.layer_norm")
    n = len({k.split(".")[2] for k in s if k.startswith("encoder.layers.")})
    for i in range(n):
        L = f"encoder.layers.{i}."
        attn = {f"{a}.{b}": s[f"{L}self_attn.{a}_proj.{b}"] for a in ("q", "k", "v", "out") for b in ("weight", "bias")}

        def ffn(y):
            return F.linear(F.gelu(F.linear(y, s[L + "fc1.weight"], s[L + "fc1.bias"])), s[L + "fc2.weight"], s[L + "fc2.bias"])

        if layer_norm_first:
            x = x + _mha(ln(x, L + "self_attn_layer_norm"), attn, heads)
            x = x + ffn(ln(x, L + "final_layer_norm"))
        else:
            x = ln(x + _mha(x, attn, heads), L + "self_attn_layer_norm")
            x = ln(x + ffn(x), L + "final_layer_norm")
    if layer_norm_first:
        x = ln(x, "encoder.layer_norm")
    return x


def fairseq_hubert(state, wav, conv_layers, extractor_mode, layer_norm_first, heads, pos_kernel=128, pos_groups=16):
    """fairseq HubertModel.extract_features(wav) on a HubertModel state dict (a fine-tuned HubertCtc checkpoint's
    `w2v_encoder.w2v_model.` prefix stripped by the caller). conv_layers: [(dim, kernel, stride), ...]."""
    s = state
    x = wav.unsqueeze(1)
    for i, (dim, _, stride) in enumerate(conv_layers):
        x = F.conv1d(x, s[f"feature_extractor.conv_layers.{i}.0.weight"],
                     s.get(f"feature_extractor.conv_layers.{i}.0.bias"), stride=stride)
        if extractor_mode == "layer_norm":  # Sequential(conv, Dropout, Sequential(TransposeLast, Fp32LayerNorm, ..), GELU)
            x = F.layer_norm(x.transpose(1, 2), (dim,), s[f"feature_extractor.conv_layers.{i}.2.1.weight"],
                             s[f"feature_extractor.conv_layers.{i}.2.1.bias"]).transpose(1, 2)
        elif i == 0:  # "default": Fp32GroupNorm(dim, dim) on the first layer only
            x = F.group_norm(x, dim, s["feature_extractor.conv_layers.0.2.weight"],
                             s["feature_extractor.conv_layers.0.2.bias"])
        x = F.gelu(x)
    x = x.transpose(1, 2)
    x = F.layer_norm(x, (x.shape[-1],), s["layer_norm.weight"], s["layer_norm.bias"])
    if "post_extract_proj.weight" in s:
        x = F.linear(x, s["post_extract_proj.weight"], s["post_extract_proj.bias"])
    return _fairseq_encoder(s, x, layer_norm_first, heads, pos_kernel, pos_groups)


# ------------------------------------------------------------------------------------------------ HF transformers
def hf_hubert(state, wav, feat_extract_norm, do_stable_layer_norm, heads, conv_strides, pos_kernel=128, pos_groups=16,
              eps=1e-5):
    """HF HubertModel(wav).last_hidden_state on a HubertModel / HubertForCTC state dict (`hubert.` prefix allowed)."""
    s = {k[len("hubert."):] if k.startswith("hubert.") else k: v for k, v in state.items()}
    x = wav[:, None]
    for i, stride in enumerate(conv_strides):
        P = f"feature_extractor.conv_layers.{i}."
        x = F.conv1d(x, s[P + "conv.weight"], s.get(P + "conv.bias"), stride=stride)
        if feat_extract_norm == "layer":
            x = F.layer_norm(x.transpose(-2, -1), (x.shape[1],), s[P + "layer_norm.weight"],
                             s[P + "layer_norm.bias"]).transpose(-2, -1)
        elif i == 0:
            x = F.group_norm(x, x.shape[1], s[P + "layer_norm.weight"], s[P + "layer_norm.bias"])
        x = F.gelu(x)
    x = x.transpose(1, 2)
    if "feature_projection.layer_norm.weight" in s:  # feat_proj_layer_norm
        x = F.layer_norm(x, (x.shape[-1],), s["feature_projection.layer_norm.weight"],
                         s["feature_projection.layer_norm.bias"], eps)
    x = F.linear(x, s["feature_projection.projection.weight"], s["feature_projection.projection.bias"])
    P = "encoder.pos_conv_embed.conv."
    if P + "weight_g" in s:
        w = _weight_norm(s[P + "weight_g"], s[P + "weight_v"], 2)
    else:
        w = _weight_norm(s[P + "parametrizations.weight.original0"], s[P + "parametrizations.weight.original1"], 2)
    x = x + _pos_conv(x, w, s[P + "bias"], pos_kernel, pos_groups)
    c = x.shape[-1]

    def ln(y, name):
        return F.layer_norm(y, (c,), s[name + ".weight"], s[name + ".bias"], eps)

    if not do_stable_layer_norm:
        x = ln(x, "encoder.layer_norm")
    n = len({k.split(".")[2] for k in s if k.startswith("encoder.layers.")})
    for i in range(n):
        L = f"encoder.layers.{i}."
        attn = {f"{a}.{b}": s[f"{L}attention.{a}_proj.{b}"] for a in ("q", "k", "v", "out") for b in ("weight", "bias")}

        def ff(y):
            y = F.gelu(F.linear(y, s[L + "feed_forward.intermediate_dense.weight"], s[L + "feed_forward.intermediate_dense.bias"]))
            return F.linear(y, s[L + "feed_forward.output_dense.weight"], s[L + "feed_forward.output_dense.bias"])

        if do_stable_layer_norm:  # HubertEncoderLayerStableLayerNorm
            x = x + _mha(ln(x, L + "layer_norm"), attn, heads)
            x = x + ff(ln(x, L + "final_layer_norm"))
        else:  # HubertEncoderLayer
            x = ln(x + _mha(x, attn, heads), L + "layer_norm")
            x = ln(x + ff(x), L + "final_layer_norm")
    if do_stable_layer_norm:
        x = ln(x, "encoder.layer_norm")
    return x


# ------------------------------------------------------------------------------------------------ Fast-HuBERT
def fast_hubert_fbank(wav_1d):
    """utils/extract_fbank.py: waveform * 2**15, then fairseq _get_torchaudio_fbank: kaldi.fbank(num_mel_bins=80,
    sample_frequency=16000), everything else default (torchaudio 0.13.1's dither default is 0.0)."""
    waveform = (wav_1d.reshape(1, -1) * (2 ** 15)).float()
    return torchaudio.compliance.kaldi.fbank(waveform, num_mel_bins=80, sample_frequency=16000)


def fast_hubert(state, mean, std, wav_1d, heads, pos_kernel=128, pos_groups=16):
    """FastHubertModel.forward(source, features_only=True)['x'] on the CMVN-normalised fbank of one clip."""
    s = state
    fb = (fast_hubert_fbank(wav_1d) - torch.as_tensor(mean)) / torch.as_tensor(std)   # hubert_fbank_dataset
    x = fb.unsqueeze(0).transpose(1, 2)                                                  # Conv1dSubsampler: B x C x T
    n = len({k.split(".")[2] for k in s if k.startswith("subsample.conv_layers.")})
    for i in range(n):
        w = s[f"subsample.conv_layers.{i}.weight"]
        x = F.glu(F.conv1d(x, w, s[f"subsample.conv_layers.{i}.bias"], stride=2, padding=w.shape[2] // 2), dim=1)
    x = x.transpose(1, 2).transpose(0, 1)                                               # T x B x C
    x = x.transpose(0, 1)                                                                # FastHubertModel: B x T x C
    x = F.layer_norm(x, (x.shape[-1],), s["layer_norm.weight"], s["layer_norm.bias"])
    if "post_extract_proj.weight" in s:
        x = F.linear(x, s["post_extract_proj.weight"], s["post_extract_proj.bias"])
    return _fairseq_encoder(s, x, False, heads, pos_kernel, pos_groups)


# ------------------------------------------------------------------------------------------------ GeneFace++
def _conv(s, name, x, **kw):
    """A Conv1d of a GeneFace++ state dict, weight-normed (weight_g / weight_v, dim 0) or plain."""
    if name + ".weight_g" in s:
        w = _weight_norm(s[name + ".weight_g"], s[name + ".weight_v"], 0)
    else:
        w = s[name + ".weight"]
    return F.conv1d(x, w, s.get(name + ".bias"), **kw)


def _wn(s, P, x, g, hidden, n_layers):
    """flow_base.WN.forward(x, x_mask=1, g) at dilation 1, eval (dropout off)."""
    output = torch.zeros_like(x)
    g = _conv(s, P + "cond_layer", g)
    for i in range(n_layers):
        k = s.get(f"{P}in_layers.{i}.weight_v", s.get(f"{P}in_layers.{i}.weight")).shape[2]
        x_in = _conv(s, f"{P}in_layers.{i}", x, padding=(k - 1) // 2)
        in_act = x_in + g[:, i * 2 * hidden:(i + 1) * 2 * hidden]
        acts = torch.tanh(in_act[:, :hidden]) * torch.sigmoid(in_act[:, hidden:])
        rs = _conv(s, f"{P}res_skip_layers.{i}", acts)
        if i < n_layers - 1:
            x = x + rs[:, :hidden]
            output = output + rs[:, hidden:]
        else:
            output = output + rs
    return output


def _layers(s, prefix):
    return len({k[len(prefix):].split(".")[0] for k in s if k.startswith(prefix)})


def f0_to_coarse(f0):
    """utils/commons/pitch_utils.f0_to_coarse (torch branch), f0_bin 256, f0_min 50, f0_max 1100."""
    f0_mel_min, f0_mel_max = 1127 * math.log(1 + 50 / 700), 1127 * math.log(1 + 1100 / 700)
    f0_mel = 1127 * (1 + f0 / 700).log()
    f0_mel[f0_mel > 0] = (f0_mel[f0_mel > 0] - f0_mel_min) * (256 - 2) / (f0_mel_max - f0_mel_min) + 1
    f0_mel[f0_mel <= 1] = 1
    f0_mel[f0_mel > 256 - 1] = 256 - 1
    return (f0_mel + 0.5).long()


def genefacepp(state, hubert, z, mask, f0=None, mouth_amp=0.4, eye_amp=0.4, blink=None):
    """PitchContourVAEModel / VAEModel .forward(batch, ret, train=False) with FVAE's z_p given (it is drawn inside
    FVAE.forward as prior_dist.sample(...) * temperature). state: the model's state dict (keys without `model.`);
    hubert [B, 2T, D] 50 Hz; f0 [B, 2T] Hz (PitchContourVAEModel only); z [B, 16, T/4]; mask [B, T]."""
    s = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    pitch = "pitch_embed.weight" in s
    down = (lambda x: F.interpolate(x.transpose(1, 2), scale_factor=0.5, mode="nearest").transpose(1, 2)) if pitch \
        else (lambda x: F.interpolate(x.transpose(1, 2), scale_factor=0.5, mode="linear").transpose(1, 2))

    def mel_encoder(x, P):  # Conv1d(k3, p1, no bias) -> BatchNorm1d (eval) -> GELU -> Conv1d(k3, p1, no bias)
        x = F.conv1d(x, s[P + "0.weight"], None, padding=1)
        x = F.batch_norm(x, s[P + "1.running_mean"], s[P + "1.running_var"], s[P + "1.weight"], s[P + "1.bias"],
                         False, 0.0, 1e-5)
        return F.conv1d(F.gelu(x), s[P + "3.weight"], None, padding=1)

    mel = down(hubert)
    cond_feat = mel_encoder(mel.transpose(1, 2), "mel_encoder.").transpose(1, 2)
    if pitch:
        if blink is None:
            blink = torch.zeros([f0.shape[0], f0.shape[1], 1], dtype=torch.long)
        blink_feat = down(F.embedding(blink.squeeze(2), s["blink_embed.weight"]))
        f0 = down(f0.unsqueeze(-1)).squeeze(-1)
        pitch_emb = F.embedding(f0_to_coarse(f0), s["pitch_embed.weight"])
        pitch_feat = mel_encoder(pitch_emb.transpose(1, 2), "pitch_encoder.").transpose(1, 2)
        feats = [cond_feat, pitch_feat, blink_feat]
        b, t = f0.shape[0], cond_feat.shape[1]
        if "mouth_amp_embed" in s:
            amp = torch.ones([b, 1]) * mouth_amp
            feats.append((amp.unsqueeze(1) * s["mouth_amp_embed"].unsqueeze(0)).repeat([1, t, 1]))
        if "eye_amp_embed" in s:
            amp = torch.ones([b, 1]) * eye_amp
            feats.append((amp.unsqueeze(1) * s["eye_amp_embed"].unsqueeze(0)).repeat([1, t, 1]))
        cond_feat = F.linear(torch.cat(feats, dim=-1), s["cond_proj.weight"], s["cond_proj.bias"])
    # FVAE.forward(infer=True): g [B, C, T]; g_sqz = g_pre_net(g); prior_flow reverse with x_mask 1; decoder(z_p, 1, g)
    g = cond_feat.transpose(1, 2)
    gw = s["vae.g_pre_net.0.weight"]
    stride = gw.shape[2] // 2
    g_sqz = F.conv1d(g, gw, s["vae.g_pre_net.0.bias"], stride=stride, padding=stride // 2)
    x = z
    flows = sorted({int(k.split(".")[3]) for k in s if k.startswith("vae.prior_flow.flows.")})
    for i in reversed(range(2 * len(flows))):  # flows = [coupling, Flip] x n, run backwards
        if i % 2 == 1:
            x = torch.flip(x, [1])
            continue
        P = f"vae.prior_flow.flows.{i}."
        half = x.shape[1] // 2
        x0, x1 = x[:, :half], x[:, half:]
        hidden = s[P + "pre.weight"].shape[0]
        h = F.conv1d(x0, s[P + "pre.weight"], s[P + "pre.bias"])
        h = _wn(s, P + "enc.", h, g_sqz, hidden, _layers(s, P + "enc.in_layers."))
        m = F.conv1d(h, s[P + "post.weight"], s[P + "post.bias"])  # mean_only: logs = 0
        x = torch.cat([x0, (x1 - m) * torch.exp(-torch.zeros_like(m))], 1)
    x = F.conv_transpose1d(x, s["vae.decoder.pre_net.0.weight"], s["vae.decoder.pre_net.0.bias"], stride=stride)
    hidden = x.shape[1]
    x = _wn(s, "vae.decoder.wn.", x, g, hidden, _layers(s, "vae.decoder.wn.in_layers."))
    x = F.conv1d(x, s["vae.decoder.out_proj.weight"], s["vae.decoder.out_proj.bias"])
    return x.transpose(1, 2) * mask.unsqueeze(-1)


# ------------------------------------------------------------------------------------------------ safetensors
def write_safetensors(path, tensors, metadata=None):
    """A .safetensors file as huggingface/safetensors writes it: 8-byte little-endian header size, the JSON header
    (keys sorted, data_offsets relative to the data start, padded with spaces to a multiple of 8), the raw bytes."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.float64: "F64", torch.int64: "I64", torch.bfloat16: "BF16"}
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = (t.view(torch.int16).numpy().astype("<i2").tobytes() if t.dtype == torch.bfloat16
               else t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes())
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def max_abs_diff(a, b):
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())
