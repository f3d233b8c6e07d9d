#!/usr/bin/python3
"""Self-test of tools/models without real checkpoints (none can be downloaded here).

apt packages: python3-torch python3-torchaudio python3-onnx python3-numpy.  Run: /usr/bin/python3 tools/models/selftest.py

0. Published formats (check_formats.py at small shapes): fairseq hubert_large_ll60k / its ls960 fine-tune (no conv
   bias), torchaudio HUBERT_LARGE, HF model.safetensors, Fast-HuBERT with global CMVN, GeneFace++ PitchContourVAEModel
   and VAEModel, each laid out as upstream saves it, loaded by our tools and compared with a forward written from the
   upstream code (upstream_ref.py) on the same weights (<= 1e-4); malformed safetensors files are refused.
1. Checkpoint key mapping: fabricates state dicts with the key names of HF transformers (HubertForCTC, old and new
   weight-norm names), fairseq HuBERT (pre-trained, and fine-tuned with w2v_encoder.w2v_model.), fairseq Fast-HuBERT
   and torchaudio from one seeded model, saves them (the fairseq ones with an unimportable config object, as real
   fairseq checkpoints pickle omegaconf objects), loads each into a differently seeded model and checks the outputs
   are identical.
2. CMVN folding: a Fast-HuBERT graph with stats of 2**15-scaled fbank folded in, fed fbank of the [-1, 1] clip,
   equals the unfolded graph fed fbank of the 2**15-scaled clip (Fast-HuBERT's own feature recipe).
3. INT8: quantize.py's graph keeps every ONNX op in the default domain and quantises exactly the Linear layers
   int8_sim.py mirrors.
4. GeneFace++ audio-to-motion (a2m.py): a checkpoint fabricated with GeneFace++'s key names (model.-prefixed
   state_dict in a .ckpt, weight_g/weight_v weight norm, the training-only FVAE encoder, BatchNorm counters) at
   GeneFace++'s full widths loads and reproduces the source model; variants (new-style weight-norm parametrizations,
   an id_exp 144-channel decoder, an eye_amp_embed model) load; a wrong feature width and a model without the prior
   flow are refused; the demo landmark basis has the iBUG layout it claims.
"""
import pickle
import re
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

import archs  # noqa: E402
import build  # noqa: E402
import checkpoints  # noqa: E402
import int8_sim  # noqa: E402
import make_fixtures  # noqa: E402
import quantize  # noqa: E402

FAILURES = []


def check(label, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {label}{(': ' + detail) if detail else ''}")
    if not ok:
        FAILURES.append(label)


from check_formats import (fairseq_fast_hubert_keys, fairseq_hubert_keys, genefacepp_state,  # noqa: E402
                           hf_keys, save_fairseq)


def same_output(label, reference, loaded, x):
    with torch.no_grad():
        a, b = reference(x), loaded(x)
    if isinstance(a, tuple):  # torchaudio Wav2Vec2Model returns (features, lengths)
        a, b = a[0], b[0]
    diff = float((a - b).abs().max())
    check(label, diff == 0.0, f"max abs diff {diff:.3g}")


def test_checkpoints(tmp):
    torch.manual_seed(0)
    wav = torch.randn(1, 8000)
    for arch in ("hubert-large", "hubert-base"):
        source, config = build.seeded_model(arch, "demo", 1)
        ta_state = source.model.state_dict()
        cases = {
            "torchaudio": ta_state,
            "hf": hf_keys(ta_state),
            "hf-parametrizations": hf_keys(ta_state, new_weight_norm=True),
            "fairseq": fairseq_hubert_keys(ta_state, config["extractor_mode"]),
            "fairseq-finetuned": {("w2v_encoder.w2v_model." + k): v
                                  for k, v in fairseq_hubert_keys(ta_state, config["extractor_mode"]).items()},
        }
        for name, state in cases.items():
            path = Path(tmp) / f"{arch}-{name}.pt"
            if name.startswith("fairseq"):
                save_fairseq(path, state)
            else:
                torch.save(state, path)
            target, _ = build.seeded_model(arch, "demo", 2)
            fmt = checkpoints.load_into(target, arch, str(path))
            same_output(f"{arch}: {name} checkpoint ({fmt}) loads", source.model, target.model, wav)
    fb = make_fixtures.fbank(wav[0]).unsqueeze(0)
    source, _ = build.seeded_model("fast-hubert", "demo", 1)
    path = Path(tmp) / "fast-hubert-fairseq.pt"
    save_fairseq(path, fairseq_fast_hubert_keys(source))
    target, _ = build.seeded_model("fast-hubert", "demo", 2)
    fmt = checkpoints.load_into(target, "fast-hubert", str(path))
    target.projection.load_state_dict(source.projection.state_dict())  # the demo projection is not in a checkpoint
    same_output(f"fast-hubert: fairseq checkpoint ({fmt}) loads", source, target, fb)
    path = Path(tmp) / "fast-hubert-ours.pt"
    torch.save(source.state_dict(), path)
    target, _ = build.seeded_model("fast-hubert", "demo", 3)
    fmt = checkpoints.load_into(target, "fast-hubert", str(path))
    same_output(f"fast-hubert: our own state dict ({fmt}) loads whole", source, target, fb)
    try:
        checkpoints.load_into(build.seeded_model("hubert-base", "demo", 0)[0], "hubert-base",
                              str(Path(tmp) / "hubert-large-hf.pt"))
        check("a checkpoint of another architecture is refused", False)
    except ValueError as error:
        check("a checkpoint of another architecture is refused", True, str(error)[:90] + "...")


def test_cmvn_folding(tmp):
    clip = make_fixtures.clip_16k()[:32000]
    floor = float(np.log(np.finfo(np.float32).eps))
    floored = int((make_fixtures.fbank(clip) <= floor + 1e-4).sum())
    scaled = make_fixtures.fbank(clip * archs.FAST_HUBERT_WAVEFORM_SCALE)
    print(f"     (hello.wav, first 2 s: {floored} of {scaled.numel()} fbank values sit on the float32-eps floor at "
          f"[-1, 1] scale, {int((scaled <= floor + 1e-4).sum())} at 2**15 scale; the values floored in one scale "
          f"but not the other are where a folded mean shift is not exact)")
    mean, std = scaled.mean(0).numpy(), scaled.std(0, unbiased=False).numpy()
    np.save(Path(tmp) / "global_cmvn.npy", {"mean": mean, "std": std})
    with open(Path(tmp) / "cmvn.stats", "w") as f:
        n = scaled.shape[0]
        f.write(f"{n}\n" + " ".join(str(float(v)) for v in scaled.double().sum(0)) + "\n"
                + " ".join(str(float(v)) for v in (scaled.double() ** 2).sum(0)) + "\n")
    m1, s1 = checkpoints.load_cmvn(Path(tmp) / "global_cmvn.npy")
    m2, s2 = checkpoints.load_cmvn(Path(tmp) / "cmvn.stats")
    check("cmvn: global_cmvn.npy and cmvn.stats read alike", np.allclose(m1, m2, atol=1e-4) and np.allclose(s1, s2, rtol=1e-3),
          f"max mean diff {np.abs(m1 - m2).max():.2g}, max std ratio {np.abs(s1 / s2 - 1).max():.2g}")
    folded, _ = build.seeded_model("fast-hubert", "demo", 0)
    folded.set_cmvn(m1 - archs.LOG_POWER_SHIFT, s1)
    unfolded, _ = build.seeded_model("fast-hubert", "demo", 0)
    unfolded.set_cmvn(m1, s1)
    with torch.no_grad():  # the same log-mel values, one of them expressed at [-1, 1] scale
        a = folded((scaled - archs.LOG_POWER_SHIFT).unsqueeze(0))
        b = unfolded(scaled.unsqueeze(0))
    diff = float((a - b).abs().max())
    check("cmvn: a mean folded by -2 ln 2**15 takes [-1, 1]-scale log-mel to the same features", diff < 1e-3,
          f"max abs diff {diff:.3g} (float rounding of the 20.79 shift)")


def test_int8(tmp):
    model, _ = build.seeded_model("fast-hubert", "demo", 0)
    path = Path(tmp) / "fh.onnx"
    build.export_onnx(model, "fast-hubert", path, 17)
    q, report = quantize.quantize_dynamic(onnx.load(str(path)), 4096)
    domains = {n.domain for n in q.graph.node}
    check("int8: only default-domain ops", domains <= {""}, str(sorted(domains)))
    ops = {n.op_type for n in q.graph.node}
    check("int8: ORT dynamic pattern present", {"DynamicQuantizeLinear", "MatMulInteger", "Cast"} <= ops)
    fresh, _ = build.seeded_model("fast-hubert", "demo", 0)
    _, count = int8_sim.simulate(fresh, 4096)
    check("int8: mirror replaces exactly the quantised MatMuls", count == report["quantizedMatMuls"],
          f"{count} Linear vs {report['quantizedMatMuls']} MatMulInteger")
    w = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    for wt in ("int8", "uint8"):
        for pc in (False, True):
            qw, s, zp = quantize.quantize_weight(w, wt, pc)
            err = np.abs((qw.astype(np.float32) - zp.astype(np.float32)) * s - w).max()
            check(f"int8: {wt} {'per-channel' if pc else 'per-tensor'} weight round trip", err <= np.max(s) / 2 + 1e-7,
                  f"max error {err:.3g}")


# ------------------------------------------------------------------- GeneFace++ audio-to-motion
def a2m_outputs(model, cfg, frames=32):
    import build_a2m
    with torch.no_grad():
        return model(*build_a2m.dummy_inputs(cfg, frames=frames, batch=2))


def test_a2m(tmp):
    import a2m
    cases = [("geneface-a2m", {}, {}), ("geneface-a2m", {"new_weight_norm": True}, {}),
             ("geneface-a2m", {"id_exp": True}, {}),
             ("geneface-a2m", {}, {"use_eye_amp_embed": True, "use_mouth_amp_embed": False}),
             ("geneface-a2m-fast", {}, {}), ("geneface-a2m-vae", {}, {}), ("geneface-a2m-vae", {"id_exp": True}, {})]
    for contract, how, change in cases:
        torch.manual_seed(11)
        cfg = a2m.config_for(contract, "full")                 # GeneFace++'s published widths
        cfg.update(change)
        source, cfg = a2m.build(contract, config=cfg)
        a2m.demo_batchnorm_stats(source, 11)
        path = Path(tmp) / f"a2m-{contract}-{len(how)}-{len(change)}.ckpt"
        torch.save({"state_dict": genefacepp_state(source, cfg, **how), "global_step": 400000,
                    "optimizer_states": [], "epoch": 3}, path)
        loaded, lcfg, report = a2m.load_checkpoint(str(path), contract)
        diff = float((a2m_outputs(source, cfg) - a2m_outputs(loaded, lcfg)).abs().max())
        label = f"a2m: GeneFace++ {contract} checkpoint {how or ''}{change or ''} loads"
        check(label, diff < 1e-5 and lcfg == cfg,
              f"max abs diff {diff:.2g}, {report['loaded']} tensors, {report['weightNormFolded']} weight norms folded, "
              f"{report['droppedTrainingOnly']} training-only dropped, {report['outProj']}")
    # refused: HuBERT-large weights into the Fast-HuBERT contract; a VAEModel without the prior flow
    path = Path(tmp) / "a2m-geneface-a2m-0-0.ckpt"
    try:
        a2m.load_checkpoint(str(path), "geneface-a2m-fast")
        check("a2m: a 1024-d checkpoint is refused for the 768-d contract", False)
    except ValueError as error:
        check("a2m: a 1024-d checkpoint is refused for the 768-d contract", True, str(error)[-70:])
    state = torch.load(path)["state_dict"]
    torch.save({"state_dict": {k: v for k, v in state.items() if ".prior_flow." not in k}}, Path(tmp) / "noflow.ckpt")
    try:
        a2m.load_checkpoint(str(Path(tmp) / "noflow.ckpt"), "geneface-a2m")
        check("a2m: a checkpoint without the prior flow is refused", False)
    except ValueError as error:
        check("a2m: a checkpoint without the prior flow is refused", True, str(error)[:70])
    state = torch.load(path)["state_dict"]
    torch.save({"state_dict": {k: v for k, v in state.items() if k != "model.pitch_embed.weight"}}, Path(tmp) / "odd.ckpt")
    try:
        a2m.load_checkpoint(str(Path(tmp) / "odd.ckpt"), "geneface-a2m")
        check("a2m: pitch_encoder without pitch_embed (neither class) is refused", False)
    except ValueError as error:
        check("a2m: pitch_encoder without pitch_embed (neither class) is refused", True, str(error)[:70])
    # our own state dict (model.state_dict() of GeneFaceA2M) loads too
    source, cfg = a2m.seeded_model("geneface-a2m", "demo", 3)
    torch.save(source.state_dict(), Path(tmp) / "ours.pt")
    loaded, lcfg, _ = a2m.load_checkpoint(str(Path(tmp) / "ours.pt"), "geneface-a2m")
    diff = float((a2m_outputs(source, cfg) - a2m_outputs(loaded, lcfg)).abs().max())
    check("a2m: our own (demo-width) state dict loads", diff == 0.0 and lcfg == cfg, f"max abs diff {diff:.2g}")
    # the demo landmark basis
    mean, basis = a2m.demo_landmark_basis(0)
    ok = (mean.shape == (68, 3) and basis.shape == (64, 68, 3) and mean[8, 1] == mean[:, 1].min()
          and abs(mean[0, 0] + mean[16, 0]) < 1e-6 and mean[30, 2] == mean[:, 2].max()
          and np.all(mean[17:27, 1] > mean[36:48, 1].max()) and np.all(mean[48:68, 1] < mean[31:36, 1].min()))
    opened = mean + basis[0]
    closed_eyes = mean + basis[3]
    ok = ok and opened[66, 1] < opened[62, 1] - 0.2 and abs(closed_eyes[37, 1] - closed_eyes[41, 1]) < 0.02
    check("a2m: demo landmarks: chin lowest, nose tip frontmost, brows over eyes, mouth under nose; exp 0 opens "
          "the mouth, exp 3 closes the eyes", bool(ok))


def test_published_formats(tmp):
    """check_formats.py at small shapes: each published format fabricated with its upstream layout, loaded by our
    tools, against a forward written from the upstream code (upstream_ref.py) on the same weights."""
    import check_formats
    for r in check_formats.all_cases("demo"):
        check(f"upstream: {r['format']} loads ({r['loadedAs']}) and matches {r['reference']}", r["maxAbsDiff"] <= 1e-4,
              f"max abs diff {r['maxAbsDiff']:.2g} over {r['frames']} frames")
        if "scale1MaxAbsDiff" in r:
            check("upstream: Fast-HuBERT's former scale-1 build does NOT match (why 32768 is the default)",
                  r["scale1MaxAbsDiff"] > 1e-2, f"max abs diff {r['scale1MaxAbsDiff']:.2g}")
    # safetensors files that are not: refused with a message, never a MemoryError
    import upstream_ref
    good = Path(tmp) / "ok.safetensors"
    upstream_ref.write_safetensors(good, {"a": torch.arange(6.0).view(2, 3), "b": torch.ones(4, dtype=torch.float16),
                                          "c": torch.tensor([1.5, -2.0], dtype=torch.bfloat16)}, {"format": "pt"})
    read = checkpoints.read_safetensors(str(good))
    check("safetensors: F32, F16 and BF16 tensors read back exactly",
          torch.equal(read["a"], torch.arange(6.0).view(2, 3)) and read["b"].dtype == torch.float16
          and read["c"].tolist() == [1.5, -2.0] and set(read) == {"a", "b", "c"})
    raw = good.read_bytes()
    bad = {"truncated": raw[:-3], "huge header length": (10 ** 12).to_bytes(8, "little") + raw[8:],
           "header not JSON": raw[:8] + b"{" + b"x" * (len(raw) - 9)}
    for name, content in bad.items():
        path = Path(tmp) / f"{name.replace(' ', '-')}.safetensors"
        path.write_bytes(content)
        try:
            checkpoints.load_state_dict(str(path))
            check(f"safetensors: a {name} file is refused", False)
        except ValueError as error:
            check(f"safetensors: a {name} file is refused", "safetensors" in str(error) or "header" in str(error),
                  str(error)[-80:])


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        test_published_formats(tmp)
        test_checkpoints(tmp)
        test_cmvn_folding(tmp)
        test_int8(tmp)
        test_a2m(tmp)
    print("all passed" if not FAILURES else f"{len(FAILURES)} failed: {FAILURES}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
