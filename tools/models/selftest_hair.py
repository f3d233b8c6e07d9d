#!/usr/bin/python3
"""Self-test of the hair chain tools (no real checkpoint can be downloaded here):
  * the export rewrites against the formulations they replace (build_hair.verify);
  * checkpoint loading on fabricated state dicts laid out like the published files (rosinality g_ema with the
    mapping network and stored noises, a DataParallel BiSeNet, e4e with its decoder, HairFastGAN's Blending checkpoint
    with CLIP's text tower): after loading, a differently seeded chain computes exactly what the source chain does;
  * real key names (from the published code's module layout) exist in our modules;
  * wrong shapes and missing keys are refused with the key's name;
  * the deterministic noise stream's first values (the C# HairNoise must draw the same).
    /usr/bin/python3 tools/models/selftest_hair.py
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

import build_hair  # noqa: E402
import hair_checkpoints as hc  # noqa: E402
import hairfast as hf  # noqa: E402

REAL_KEYS = {
    "generator": ["input.input", "conv1.conv.weight", "conv1.conv.modulation.weight", "conv1.conv.modulation.bias",
                  "conv1.noise.weight", "conv1.activate.bias", "to_rgb1.conv.weight", "to_rgb1.conv.modulation.weight",
                  "to_rgb1.bias", "convs.0.conv.weight", "convs.0.conv.blur.kernel", "convs.0.conv.modulation.bias",
                  "convs.1.noise.weight", "to_rgbs.0.upsample.kernel", "to_rgbs.0.conv.weight", "to_rgbs.0.bias"],
    "bisenet": ["cp.resnet.conv1.weight", "cp.resnet.bn1.running_mean", "cp.resnet.layer1.0.conv1.weight",
                "cp.resnet.layer2.0.downsample.0.weight", "cp.resnet.layer2.0.downsample.1.running_var",
                "cp.arm16.conv.conv.weight", "cp.arm16.conv_atten.weight", "cp.arm16.bn_atten.weight",
                "cp.arm32.conv.bn.bias", "cp.conv_head32.conv.weight", "cp.conv_head16.bn.bias", "cp.conv_avg.conv.weight",
                "ffm.convblk.conv.weight", "ffm.conv1.weight", "ffm.conv2.weight", "conv_out.conv.conv.weight",
                "conv_out.conv_out.weight", "conv_out16.conv_out.weight", "conv_out32.conv.bn.running_var"],
    "e4e": ["input_layer.0.weight", "input_layer.1.running_mean", "input_layer.2.weight", "body.0.res_layer.0.weight",
            "body.0.res_layer.1.weight", "body.0.res_layer.2.weight", "body.0.res_layer.3.weight",
            "body.0.res_layer.4.running_var", "body.0.res_layer.5.fc1.weight", "body.0.res_layer.5.fc2.weight",
            "body.1.shortcut_layer.0.weight", "body.1.shortcut_layer.1.weight", "styles.0.convs.0.weight",
            "styles.0.convs.0.bias", "styles.0.linear.weight", "styles.0.linear.bias", "latlayer1.weight", "latlayer2.bias"],
    "blending": ["visual.conv1.weight", "visual.class_embedding", "visual.positional_embedding", "visual.ln_pre.weight",
                 "visual.transformer.resblocks.0.attn.in_proj_weight", "visual.transformer.resblocks.0.attn.out_proj.weight",
                 "visual.transformer.resblocks.0.ln_1.weight", "visual.transformer.resblocks.0.mlp.c_fc.weight",
                 "visual.transformer.resblocks.0.mlp.c_proj.bias", "visual.ln_post.bias", "visual.proj",
                 "modulation_module_list.0.fc.weight", "modulation_module_list.0.gamma_function.0.weight",
                 "modulation_module_list.4.beta_function.3.bias"],
}


def check_real_keys(chain):
    for part, keys in REAL_KEYS.items():
        own = getattr(chain, {"generator": "generator", "bisenet": "bisenet", "e4e": "e4e", "blending": "blending"}[part]).state_dict()
        missing = [k for k in keys if k not in own]
        assert not missing, f"{part}: published keys not in our module: {missing}"
    print("  published key names present: " + ", ".join(f"{p} {len(k)}" for p, k in REAL_KEYS.items()))


def fabricated(source):
    """State dicts shaped like the published files, from a source chain."""
    g = dict(source.generator.state_dict())
    g["style.1.weight"] = torch.randn(source.cfg["style_dim"], source.cfg["style_dim"])
    g["style.1.bias"] = torch.zeros(source.cfg["style_dim"])
    for i, r in enumerate(source.d["noise_sizes"]):
        g[f"noises.noise_{i}"] = torch.randn(1, 1, r, r)
    stylegan = {"g_ema": g, "latent_avg": source.e4e.latent_avg.clone(), "g": {"ignored": torch.zeros(1)}}
    bisenet = {"module." + k: v for k, v in source.bisenet.state_dict().items()}
    enc = {"encoder." + k: v for k, v in source.e4e.state_dict().items() if k != "latent_avg"}
    enc["decoder.conv1.conv.weight"] = torch.randn(1, 4, 4, 3, 3)
    e4e = {"state_dict": enc, "latent_avg": source.e4e.latent_avg.clone().unsqueeze(0).repeat(source.d["n_latent"], 1)}
    blend = {"clip_model." + k: v.half() for k, v in source.blending.state_dict().items() if k.startswith("visual.")}
    blend.update({k: v for k, v in source.blending.state_dict().items() if k.startswith("modulation_module_list.")})
    blend["clip_model.transformer.resblocks.0.attn.in_proj_weight"] = torch.randn(6, 2)
    blend["clip_model.logit_scale"] = torch.tensor(4.6)
    return stylegan, bisenet, e4e, {"model_state_dict": blend, "clip": "ViT-B/32"}


def outputs(chain):
    t = {k: build_hair.to_tensor(build_hair.test_image(i, chain.cfg["size"], True)) for i, k in enumerate(("face", "shape", "color"), 1)}
    rec = build_hair.run_chain(chain, t["face"], t["shape"], t["color"])
    return rec["image"], rec["emb"]["face"]["w"], rec["emb"]["face"]["labels"], rec["s_blend"]


def main():
    torch.set_num_threads(1)
    cfg = hf.CONFIGS["demo"]
    source = build_hair.seeded_chain(cfg, 0)
    build_hair.verify(source)
    check_real_keys(source)
    # the blending CLIP is fp16 in published checkpoints: round the source so both chains hold the same numbers
    with torch.no_grad():
        for k, v in source.blending.visual.state_dict().items():
            v.copy_(v.half().float())
    stylegan, bisenet, e4e, blend = fabricated(source)
    target = build_hair.seeded_chain(cfg, 5)
    before = outputs(target)
    # parts with no published-checkpoint mapping (FS encoder, shape adaptor) are copied so the whole chain can be compared
    target.fs_encoder.load_state_dict(source.fs_encoder.state_dict())
    target.shape_adaptor.load_state_dict(source.shape_adaptor.state_dict())
    loaded = hc.load_all(target, stylegan2=stylegan, bisenet=bisenet, e4e=e4e, blending=blend)
    assert set(loaded) == {"stylegan2", "bisenet", "e4e", "blending"}
    want, got = outputs(source), outputs(target)
    for name, a, b, c in zip(("image", "latent_w", "labels", "s_blend"), want, got, before):
        assert torch.equal(a, b), f"{name}: loaded chain differs from the source chain"
        assert not torch.equal(b, c), f"{name}: loading changed nothing (test is vacuous)"
    print("  fabricated g_ema / BiSeNet (module.) / e4e / Blending checkpoints load; outputs equal the source chain's")
    # refusals
    bad = {"g_ema": {k: (v[..., :1] if k == "conv1.conv.weight" else v) for k, v in stylegan["g_ema"].items()}}
    try:
        hc.load_stylegan2(build_hair.seeded_chain(cfg, 1), bad)
        raise AssertionError("a wrong shape was accepted")
    except ValueError as e:
        assert "conv1.conv.weight" in str(e), e
    short = {k: v for k, v in bisenet.items() if "ffm.conv1" not in k}
    try:
        hc.load_bisenet(build_hair.seeded_chain(cfg, 1), short)
        raise AssertionError("a missing key was accepted")
    except ValueError as e:
        assert "ffm.conv1.weight" in str(e), e
    try:
        hc.load_e4e(build_hair.seeded_chain(cfg, 1), {"state_dict": e4e["state_dict"]})
        raise AssertionError("an e4e checkpoint without latent_avg was accepted")
    except ValueError as e:
        assert "latent_avg" in str(e), e
    print("  wrong shape, missing key, missing latent_avg: refused with the key named")
    n = hf.noise_tensors(3407, [2])[0].flatten().tolist()
    print(f"  noise stream, seed 3407: {n}")
    print("selftest_hair: ok")


if __name__ == "__main__":
    main()
