#!/usr/bin/python3
"""Puts a YOLOv8-face ONNX model (5 keypoints, e.g. yolov8-lite-t-face) into a model store as `face-detector`.

Usage: /usr/bin/python3 tools/models/add_face_detector.py MODEL.onnx [--store models] [--name face-detector] [--version 1]

Copies the file to {store}/{name}/{version}/model.onnx and writes the manifest the hair worker checks (sha256, size).
The hair worker then uses it instead of OpenCV's cascades (Hair:Detection:Detector=auto). Nothing is downloaded:
bring your own trained detector. Do not commit third-party weights to this repository.
"""
import argparse
import hashlib
import json
import os
import shutil

import onnx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--store", default="models")
    ap.add_argument("--name", default="face-detector")
    ap.add_argument("--version", default="1")
    args = ap.parse_args()

    graph = onnx.load(args.model).graph
    inputs = [(i.name, [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim]) for i in graph.input]
    outputs = [(o.name, [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim]) for o in graph.output]
    if len(inputs) != 1 or len(inputs[0][1]) != 4 or inputs[0][1][1] != 3:
        raise SystemExit(f"expected one image input [1,3,H,W], the graph has {inputs}")
    for name, shape in outputs:
        if len(shape) != 4 or shape[1] != 80:
            raise SystemExit(f"output {name} is {shape}: a YOLOv8-face head with 5 keypoints has [1,80,H,W]")

    folder = os.path.join(args.store, args.name, args.version)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, "model.onnx")
    shutil.copyfile(args.model, target)
    data = open(target, "rb").read()
    manifest = {
        "name": args.name, "version": args.version, "task": "face-detection", "architecture": "yolov8-face",
        "file": "model.onnx", "sha256": hashlib.sha256(data).hexdigest(), "sizeBytes": len(data), "precision": "fp32",
        "demo": False, "source": os.path.basename(args.model),
        "input": {"name": inputs[0][0], "kind": "image"}, "output": {"name": outputs[0][0]},
        "inputs": [{"name": n, "dtype": "float32", "shape": s} for n, s in inputs],
        "outputs": [{"name": n, "dtype": "float32", "shape": s} for n, s in outputs],
    }
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {folder}: inputs {inputs}, outputs {outputs}")


if __name__ == "__main__":
    main()
