#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Where does mnet's int8 run of a quantized ONNX model part from ONNX Runtime's? Layer by layer.

Every node output of the converted manifest becomes an extra output (kind "feature") of a copy of the manifest,
and its quantized ONNX tensor (the QuantizeLinear or QLinear* output holding the integers) an extra graph output
of a copy of the ONNX model; both run on one input, and each layer's difference is printed in output steps of
that layer (its scale): the share of elements within one step, the largest difference, and the mean difference
(a bias shows as a mean far from 0). A run's own last output is checked against the unmodified model's, since
extra outputs may change what either runtime fuses.

Usage (the pinned venv of generate.py; mnet-run-outputs is built beside mnet-convert, tools/onnx_zoo/run_outputs.cpp):
  python tools/onnx_zoo/layer_diff.py MODEL.onnx INPUT.f32 [--all] [--save layers.npz]
"""
import argparse
import json
import pathlib
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

INTEGER_OPS = {"QuantizeLinear", "QLinearConv", "QLinearAdd", "QLinearMul", "QLinearGlobalAveragePool",
               "QLinearMatMul", "QGemm", "QLinearSoftmax", "QLinearSigmoid", "QLinearLeakyRelu",
               "QLinearAveragePool", "QLinearConcat", "QLinearReduceMean"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("onnx")
    ap.add_argument("input")
    ap.add_argument("--mnet-convert", default="build/mnet-convert")
    ap.add_argument("--dump", default="build/tools/onnx/mnet-run-outputs")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--all", action="store_true", help="print every layer, not only up to the first > 1 step")
    ap.add_argument("--save", help="write both runtimes' dequantized layers to this .npz (mnet:NAME, ort:NAME)")
    args = ap.parse_args()
    model = onnx.load(args.onnx)
    producer = {o: n for n in model.graph.node for o in n.output}
    quantizer = {n.input[0]: n for n in model.graph.node if n.op_type == "QuantizeLinear"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        manifest = tmp / "m" / "m.json"
        subprocess.run([args.mnet_convert, args.onnx, "-o", str(manifest)], check=True, capture_output=True)
        doc = json.loads(manifest.read_text())
        last = doc["outputs"][0]["name"]
        probes = []  # (mnet tensor, onnx integer tensor, scale, zero point)
        for n in doc["nodes"]:
            t, q = n["output"], n.get("quantization")
            if t == last or not q:
                continue
            if t in producer and producer[t].op_type in INTEGER_OPS:
                probes.append((t, t, q["scale"][0], q["zero_point"][0]))
            elif t in quantizer:
                probes.append((t, quantizer[t].output[0], q["scale"][0], q["zero_point"][0]))
        doc["outputs"] += [{"name": p[0], "kind": "feature"} for p in probes]
        manifest.write_text(json.dumps(doc))
        out_dir = tmp / "out"
        out_dir.mkdir()
        subprocess.run([args.dump, str(manifest), args.input, str(out_dir), args.precision], check=True)
        ours = [np.fromfile(out_dir / f"{i}.f32", "<f4") for i in range(len(doc["outputs"]))]

        graph_outputs = {o.name for o in model.graph.output}
        for p in probes:
            if p[1] not in graph_outputs:
                model.graph.output.append(onnx.ValueInfoProto(name=p[1]))
        probed = tmp / "probed.onnx"
        onnx.save(model, str(probed))
        x = np.fromfile(args.input, "<f4").reshape([d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim])
        plain = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"]).run(None, {model.graph.input[0].name: x})[0]
        sess = ort.InferenceSession(str(probed), providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        theirs = dict(zip(names, sess.run(None, {model.graph.input[0].name: x})))
    print(f"final output: ORT with probes vs without: max |d| {np.abs(theirs[names[0]] - plain).max():.3g}; "
          f"mnet vs ORT: max |d| {np.abs(ours[0] - plain.ravel()).max():.3g}")
    if args.save:
        arrays = {}
        for i, (t, qname, scale, zp) in enumerate(probes):
            arrays["mnet:" + t] = ours[i + 1]
            arrays["ort:" + t] = (theirs[qname].astype(np.float64).ravel() - zp) * scale
        np.savez(args.save, **arrays)
    print(f"{'layer':70s} {'within1':>8s} {'max':>7s} {'mean':>7s}")
    for i, (t, qname, scale, zp) in enumerate(probes):
        ref = (theirs[qname].astype(np.float64).ravel() - zp) * scale
        d = (ours[i + 1].astype(np.float64) - ref) / scale
        worst = np.abs(d).max()
        print(f"{t[-70:]:70s} {np.mean(np.abs(d) <= 1.0001):8.4f} {worst:7.2f} {d.mean():7.3f}")
        if worst > 1.0001 and not args.all:
            break


if __name__ == "__main__":
    main()
