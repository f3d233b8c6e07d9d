"""Dynamic INT8 quantisation of an ONNX model, written on the `onnx` package alone (no onnxruntime here).

It rewrites every MatMul (and plain Gemm) whose weight is a float initializer with at least `min_elements`
elements into the pattern onnxruntime.quantization.quantize_dynamic emits for MatMul ("MatMulInteger" mode):

    X ─ DynamicQuantizeLinear ─> X_quantized (uint8), X_scale, X_zero_point
    MatMulInteger(X_quantized, W_quantized, X_zero_point, W_zero_point) ─> int32
    Cast(to float) ─> Mul( . , Mul(X_scale, W_scale)) ─> the original MatMul output name

so ONNX Runtime runs it with its standard CPU kernels (DynamicQuantizeLinear, MatMulInteger, Cast, Mul).
Weights: int8 symmetric (zero point 0, scale = max|W| / 127, values in [-127, 127]) - quantize_dynamic's
default QInt8 - or uint8 asymmetric; per tensor by default, per output column with per_channel=True.
A Gemm is rewritten only when transA == 0, alpha == beta == 1 (its bias becomes an Add). Activation-by-
activation MatMuls (attention scores) and small weights stay float.

Needs Debian's python3-onnx and python3-numpy. Usable as a module (quantize_dynamic) or a script:
    /usr/bin/python3 tools/models/quantize.py IN.onnx OUT.onnx [--min-elements N] [--per-channel] [--weight-type int8|uint8]
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize_weight(w, weight_type="int8", per_channel=False):
    """Quantise a float [K, N] weight. Returns (q, scale, zero_point) with scale/zero_point scalars or [N] vectors.

    Mirrors onnxruntime.quantization's compute_scale_zp: the range always contains 0; int8 is symmetric over
    [-127, 127]; uint8 is asymmetric over [0, 255]."""
    w = np.asarray(w, dtype=np.float32)
    axis = 0 if per_channel else None  # reduce over K: one scale per output column N
    rmin = np.minimum(w.min(axis=axis), 0.0).astype(np.float32)
    rmax = np.maximum(w.max(axis=axis), 0.0).astype(np.float32)
    if weight_type == "int8":
        qmin, qmax = -127, 127
        absmax = np.maximum(np.abs(rmin), np.abs(rmax)).astype(np.float32)
        scale = (absmax * np.float32(2.0) / np.float32(qmax - qmin)).astype(np.float32)
        scale = np.where(scale == 0, np.float32(1.0), scale).astype(np.float32)
        zero_point = np.zeros_like(scale, dtype=np.int8)
        q = np.clip(np.rint(w / scale), qmin, qmax).astype(np.int8)
    elif weight_type == "uint8":
        qmin, qmax = 0, 255
        scale = ((rmax - rmin) / np.float32(qmax - qmin)).astype(np.float32)
        scale = np.where(scale == 0, np.float32(1.0), scale).astype(np.float32)
        zero_point = np.clip(np.rint(qmin - rmin / scale), qmin, qmax).astype(np.uint8)
        q = np.clip(np.rint(w / scale) + zero_point.astype(np.float32), qmin, qmax).astype(np.uint8)
    else:
        raise ValueError(f"weight_type must be int8 or uint8, not {weight_type!r}")
    return q, scale, zero_point


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def quantize_dynamic(model, min_elements=4096, weight_type="int8", per_channel=False):
    """Return (quantised ModelProto, report dict). `model` is not modified."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    produced_by_constant = set()
    for n in graph.node:
        if n.op_type == "Constant":
            produced_by_constant.update(n.output)

    new_nodes, new_inits = [], []
    dq_cache = {}            # activation name -> (q, scale, zp) outputs of its DynamicQuantizeLinear
    weight_cache = {}        # (weight name, transposed) -> (q, scale, zp) initializer names
    quantized, skipped = [], []

    def dynamic_quantize(x):
        if x not in dq_cache:
            outs = (f"{x}_quantized", f"{x}_scale", f"{x}_zero_point")
            new_nodes.append(helper.make_node("DynamicQuantizeLinear", [x], list(outs), name=f"{x}_QuantizeLinear"))
            dq_cache[x] = outs
        return dq_cache[x]

    def weight_initializers(name, transposed):
        key = (name, transposed)
        if key not in weight_cache:
            w = numpy_helper.to_array(inits[name]).astype(np.float32)
            if transposed:
                w = w.T.copy()
            q, scale, zp = quantize_weight(w, weight_type, per_channel)
            base = name + ("_T" if transposed else "")
            names = (f"{base}_quantized", f"{base}_scale", f"{base}_zero_point")
            new_inits.append(numpy_helper.from_array(q, names[0]))
            new_inits.append(numpy_helper.from_array(np.asarray(scale, dtype=np.float32), names[1]))
            new_inits.append(numpy_helper.from_array(np.asarray(zp), names[2]))
            weight_cache[key] = names
        return weight_cache[key]

    def emit(node, x, weight, transposed, output):
        xq, xs, xzp = dynamic_quantize(x)
        wq, ws, wzp = weight_initializers(weight, transposed)
        base = node.name or output
        mm = f"{output}_output_quantized"
        new_nodes.append(helper.make_node("MatMulInteger", [xq, wq, xzp, wzp], [mm], name=f"{base}_quant"))
        scales = f"{base}_quant_scales_mul:0"
        new_nodes.append(helper.make_node("Mul", [xs, ws], [scales], name=f"{base}_quant_scales_mul"))
        cast = f"{mm}_cast_output"
        new_nodes.append(helper.make_node("Cast", [mm], [cast], to=TensorProto.FLOAT, name=f"{mm}_cast"))
        new_nodes.append(helper.make_node("Mul", [cast, scales], [output], name=f"{base}_quant_output_scale_mul"))

    for node in graph.node:
        weight = node.input[1] if len(node.input) > 1 else None
        x = node.input[0] if node.input else None
        eligible = (node.op_type in ("MatMul", "Gemm") and weight in inits and x not in inits
                    and x not in produced_by_constant
                    and inits[weight].data_type == TensorProto.FLOAT and len(inits[weight].dims) == 2)
        if not eligible:
            if node.op_type in ("MatMul", "Gemm"):
                skipped.append((node.name, "weight is not a 2-D float initializer"))
            new_nodes.append(node)
            continue
        size = int(np.prod(inits[weight].dims))
        if size < min_elements:
            skipped.append((node.name, f"weight {weight} has {size} < {min_elements} elements"))
            new_nodes.append(node)
            continue
        if node.op_type == "MatMul":
            emit(node, x, weight, False, node.output[0])
        else:
            if _attr(node, "transA", 0) or _attr(node, "alpha", 1.0) != 1.0 or _attr(node, "beta", 1.0) != 1.0:
                skipped.append((node.name, "Gemm with transA/alpha/beta"))
                new_nodes.append(node)
                continue
            transposed = bool(_attr(node, "transB", 0))
            if len(node.input) > 2 and node.input[2]:
                product = f"{node.output[0]}_matmul"
                emit(node, x, weight, transposed, product)
                new_nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]],
                                                  name=f"{node.name or node.output[0]}_bias_add"))
            else:
                emit(node, x, weight, transposed, node.output[0])
        quantized.append((node.name, weight, size))

    del graph.node[:]
    graph.node.extend(new_nodes)
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    # the float weights that were replaced may still be listed as graph inputs (IR < 4 models); drop those
    unused_inputs = [i for i in graph.input if i.name in inits and i.name not in used]
    for i in unused_inputs:
        graph.input.remove(i)
    if not any(o.domain in ("", "ai.onnx") and o.version >= 11 for o in model.opset_import):
        raise ValueError("DynamicQuantizeLinear needs opset >= 11")
    onnx.checker.check_model(model)
    report = {
        "method": "dynamic (DynamicQuantizeLinear + MatMulInteger, onnxruntime quantize_dynamic pattern)",
        "weightType": weight_type,
        "activationType": "uint8 (asymmetric, per tensor, computed at run time)",
        "perChannel": per_channel,
        "symmetricWeights": weight_type == "int8",
        "minWeightElements": min_elements,
        "quantizedMatMuls": len(quantized),
        "floatMatMulsKept": len(skipped),
        "opTypes": ["MatMul", "Gemm"],
    }
    return model, report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--min-elements", type=int, default=4096)
    p.add_argument("--per-channel", action="store_true")
    p.add_argument("--weight-type", choices=("int8", "uint8"), default="int8")
    a = p.parse_args(argv)
    model, report = quantize_dynamic(onnx.load(a.input), a.min_elements, a.weight_type, a.per_channel)
    onnx.save(model, a.output)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
