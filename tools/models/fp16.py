"""fp16 variant of an ONNX model, written on the `onnx` package alone (no onnxruntime, no onnxconverter-common here).

GPUs (CUDA / TensorRT on `rtx` and `jetson`) run fp16 at about twice fp32's speed and half its memory. The model's
inputs and outputs stay float32, so every caller (the workers' C# code, the manifest's tensor specs) is unchanged:

    input (float32) ─ Cast(to FLOAT16) ─> the fp16 graph ─ Cast(to FLOAT) ─> output (float32)

Inside: every float32 initializer, Constant / ConstantOfShape value and Cast-to-float becomes float16. Nodes whose
op is in the keep-fp32 list (reductions and normalisations that lose precision in fp16, or that ONNX Runtime's CPU
provider has no fp16 kernel for) run in float32 with Casts around them; their float weights stay float32. Weights
outside fp16's range are clamped to +-65504 (counted in the report; a trained model has none).

Variants are checked against their fp32 model by `tools/models/check_fp16.py` (cosine >= 0.999 on a real clip, run
through ONNX Runtime in C# by the test `Models/Fp16VariantTests`).

Usable as a module (convert) or a script:
    /usr/bin/python3 tools/models/fp16.py IN.onnx OUT.onnx [--keep-fp32 OP,OP]
    /usr/bin/python3 tools/models/fp16.py --store models --model fast-hubert,hubert-large   # writes models/NAME-fp16/VERSION/
"""
import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP16_MAX = 65504.0

# Ops kept in float32. Reductions / normalisations accumulate in their input type on some providers, and these lack
# fp16 CPU kernels in ONNX Runtime (so a variant still loads on the CPU fallback). Shape-only ops carry no floats.
KEEP_FP32 = {
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL2", "ReduceMax", "ReduceMin", "ReduceProd",
    "LayerNormalization", "InstanceNormalization", "GroupNormalization", "BatchNormalization",
    "Softmax", "LogSoftmax", "Pow", "Sqrt", "Reciprocal", "Exp", "Log", "Erf", "Range", "Resize",
    "CumSum", "Einsum", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
}
# Inputs that are not data (shapes, scales, indices): never cast, whatever their producer.
NON_DATA_INPUTS = {"Resize": {1, 2, 3}, "Reshape": {1}, "Expand": {1}, "Tile": {1}, "Slice": {1, 2, 3, 4},
                   "Pad": {1}, "ConstantOfShape": {0}, "Gather": {1}, "Unsqueeze": {1}, "Squeeze": {1}}


def _to_fp16(array, report):
    a = np.asarray(array, dtype=np.float32)
    over = int(np.count_nonzero(np.abs(a[np.isfinite(a)]) > FP16_MAX))
    report["clamped"] += over
    return np.clip(a, -FP16_MAX, FP16_MAX).astype(np.float16)


def convert(model, keep_fp32=frozenset(KEEP_FP32)):
    """Return (fp16 ModelProto with float32 inputs/outputs, report dict). `model` is not modified."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    report = {"clamped": 0, "fp16Initializers": 0, "fp32Initializers": 0, "nodesKeptFp32": 0, "keptOps": []}

    # Which tensors are float (float32 today): from type inference on the fp32 model.
    inferred = onnx.shape_inference.infer_shapes(model)
    elem = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        if vi.type.HasField("tensor_type"):
            elem[vi.name] = vi.type.tensor_type.elem_type
    for t in graph.initializer:
        elem[t.name] = t.data_type
    is_float = lambda name: elem.get(name) == TensorProto.FLOAT  # noqa: E731

    # Initializers: fp16 unless only fp32-kept nodes (or non-data inputs) read them; an fp32-kept node reading an fp16
    # weight gets a Cast like any other input.
    readers = {}
    for n in graph.node:
        for i, name in enumerate(n.input):
            readers.setdefault(name, []).append((n, i))
    for t in graph.initializer:
        if t.data_type != TensorProto.FLOAT:
            continue
        uses = readers.get(t.name, [])
        if uses and all(n.op_type in keep_fp32 or i in NON_DATA_INPUTS.get(n.op_type, ()) for n, i in uses):
            report["fp32Initializers"] += 1
            continue
        t.CopyFrom(numpy_helper.from_array(_to_fp16(numpy_helper.to_array(t), report), t.name))
        report["fp16Initializers"] += 1
    fp32_inits = {t.name for t in graph.initializer if t.data_type == TensorProto.FLOAT}

    new_nodes = []
    cast_cache = {}

    def cast(name, to):
        key = (name, to)
        if key not in cast_cache:
            out = f"{name}__{'fp16' if to == TensorProto.FLOAT16 else 'fp32'}"
            new_nodes.append(helper.make_node("Cast", [name], [out], to=to, name=f"{out}_cast"))
            cast_cache[key] = out
        return cast_cache[key]

    # Graph inputs: float32 outside, cast once to fp16 for the graph.
    renamed = {}
    for gi in graph.input:
        if gi.type.tensor_type.elem_type == TensorProto.FLOAT and gi.name not in fp32_inits:
            renamed[gi.name] = cast(gi.name, TensorProto.FLOAT16)

    fp32_tensors = set(fp32_inits)  # tensors that are float32 in the converted graph
    for n in graph.node:
        inputs = [renamed.get(x, x) for x in n.input]
        if n.op_type in keep_fp32:
            report["nodesKeptFp32"] += 1
            report["keptOps"].append(n.op_type)
            for i, x in enumerate(n.input):
                if x and is_float(x) and i not in NON_DATA_INPUTS.get(n.op_type, ()) and x not in fp32_tensors:
                    inputs[i] = cast(renamed.get(x, x), TensorProto.FLOAT)
            node = helper.make_node(n.op_type, inputs, [f"{o}__fp32out" if o and is_float(o) else o for o in n.output],
                                    name=n.name, domain=n.domain)
            node.attribute.extend(n.attribute)
            new_nodes.append(node)
            for o in n.output:
                if o and is_float(o):
                    # consumers read the fp16 copy under the original name
                    new_nodes.append(helper.make_node("Cast", [f"{o}__fp32out"], [o], to=TensorProto.FLOAT16, name=f"{o}_cast16"))
            continue
        for i, x in enumerate(n.input):
            if x in fp32_tensors and i not in NON_DATA_INPUTS.get(n.op_type, ()):
                inputs[i] = cast(x, TensorProto.FLOAT16)
        node = helper.make_node(n.op_type, inputs, list(n.output), name=n.name, domain=n.domain)
        for a in n.attribute:
            a = onnx.AttributeProto.FromString(a.SerializeToString())
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(_to_fp16(numpy_helper.to_array(a.t), report), a.t.name))
            node.attribute.append(a)
        new_nodes.append(node)

    # Graph outputs: produced in fp16 under an internal name, cast back to float32 under the public one.
    for go in graph.output:
        if go.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        internal = f"{go.name}__fp16out"
        for node in new_nodes:
            node.output[:] = [internal if o == go.name else o for o in node.output]
            node.input[:] = [internal if x == go.name else x for x in node.input]
        new_nodes.append(helper.make_node("Cast", [internal], [go.name], to=TensorProto.FLOAT, name=f"{go.name}_cast32"))

    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.value_info[:]  # float types changed; ONNX Runtime infers them again
    onnx.checker.check_model(model)
    report["keptOps"] = sorted(set(report["keptOps"]))
    return model, report


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_variant(store, name):
    """models/NAME/VERSION (the newest) -> models/NAME-fp16/VERSION with its manifest. Returns the new folder."""
    versions = sorted(p.parent for p in Path(store, name).glob("*/manifest.json"))
    if not versions:
        raise SystemExit(f"{store}/{name} has no <version>/manifest.json")
    source = versions[-1]
    manifest = json.loads((source / "manifest.json").read_text())
    if manifest.get("precision", "fp32") != "fp32":
        raise SystemExit(f"{source}: precision {manifest.get('precision')}; fp16 variants are made from fp32 models")
    out = Path(store, f"{name}-fp16", source.name)
    out.mkdir(parents=True, exist_ok=True)
    for extra in source.iterdir():  # assets beside the model (a motion model's landmark basis) travel with it
        if extra.is_file() and extra.name not in ("manifest.json", manifest["file"]):
            shutil.copy2(extra, out / extra.name)
    model, report = convert(onnx.load(str(source / manifest["file"])))
    onnx.save(model, str(out / "model.onnx"))
    manifest.update({
        "name": f"{name}-fp16", "file": "model.onnx", "sha256": sha256_of(out / "model.onnx"),
        "sizeBytes": (out / "model.onnx").stat().st_size, "precision": "fp16", "convertedFrom": f"{name}/{source.name}",
        "source": manifest.get("source", "") + f"; fp16 by tools/models/fp16.py from {name}/{source.name}",
        "fp16": {k: v for k, v in report.items()},
    })
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out, report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?")
    p.add_argument("output", nargs="?")
    p.add_argument("--store", help="model store: write NAME-fp16 variants of --model there")
    p.add_argument("--model", help="comma-separated model names in --store")
    p.add_argument("--keep-fp32", help="comma-separated op types to keep in float32 (default: the built-in list)")
    a = p.parse_args(argv)
    if a.store:
        for name in (a.model or "").split(","):
            out, report = write_variant(a.store, name.strip())
            print(f"{out}: {report['fp16Initializers']} fp16 / {report['fp32Initializers']} fp32 initializers, "
                  f"{report['nodesKeptFp32']} nodes kept fp32 ({', '.join(report['keptOps'])}), {report['clamped']} clamped")
        return 0
    keep = frozenset(a.keep_fp32.split(",")) if a.keep_fp32 else frozenset(KEEP_FP32)
    model, report = convert(onnx.load(a.input), keep)
    onnx.save(model, a.output)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
