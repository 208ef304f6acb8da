#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""LiteRT outputs for the zoo's .tflite files (the oracle the C++ tests compare mnet with), and index.json entries.

Run alone it recomputes every entry of tests/data/zoo/index.json from the .tflite files already there:
  /work/venv-zoo/bin/python tools/zoo/oracle.py [--out DIR] [--only NAME,...]
"""
import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import flatbuffers
import numpy as np
from ai_edge_litert import interpreter as litert
from tensorflow.lite.python import schema_py_generated as schema

QUANTIZED = ("int8", "uint8")


def load_model(data):
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


def op_names(model):
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return sorted({names.get(codes[op.opcodeIndex], str(codes[op.opcodeIndex])) for op in model.subgraphs[0].operators})


def dequantized_weights(data):
    """The same graph with every int8 constant replaced by its float32 value: what a dynamic-range model computes
    when it runs in float with dequantized weights (mnet's choice), without LiteRT's on-the-fly activation
    quantization (its hybrid kernels)."""
    model = load_model(data)
    graph = model.subgraphs[0]
    for t in graph.tensors:
        buf = model.buffers[t.buffer]
        if t.type != schema.TensorType.INT8 or buf.data is None or len(buf.data) == 0:
            continue
        q = np.asarray(buf.data, dtype=np.uint8).view(np.int8).astype(np.float32).reshape(t.shape)
        scale = np.asarray(t.quantization.scale, dtype=np.float32)
        zp = np.asarray(t.quantization.zeroPoint, dtype=np.float32)
        shape = [1] * q.ndim
        if scale.size > 1:
            shape[t.quantization.quantizedDimension] = scale.size
        values = (q - zp.reshape(shape)) * scale.reshape(shape)
        buf.data = np.frombuffer(values.astype("<f4").tobytes(), dtype=np.uint8)
        t.type = schema.TensorType.FLOAT32
        t.quantization = None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def quant_of(detail):
    scale, zp = detail["quantization"]
    return {"dtype": np.dtype(detail["dtype"]).name, "scale": float(scale), "zero_point": int(zp)}


def model_input(x_pixels, pre, q):
    """Pixels (RGB uint8 HWC) through the model's preprocessing, then its input quantization if it has one."""
    real = x_pixels.astype(np.float32)[None] * np.float32(pre[0]) + np.float32(pre[1])
    if q["dtype"] in QUANTIZED:
        info = np.iinfo(q["dtype"])
        return np.clip(np.round(real / np.float32(q["scale"])) + q["zero_point"], info.min, info.max).astype(q["dtype"])
    return real


KERNELS = {"ref": litert.OpResolverType.BUILTIN_REF,
           "builtin": litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}


def reference_kernels_crash(data, x_pixels, pre):
    """LiteRT's reference kernels crash the process on some graphs (seen: MobileNetV3-Small's 1000-class head with
    uint8 I/O); try them in a child process first. Returns the child's exit code, 0 when they work."""
    child = multiprocessing.get_context("fork").Process(target=run, args=(data, x_pixels, pre, "ref"))
    child.start()
    child.join()
    return child.exitcode


def run(data, x_pixels, pre, ref):
    """ref: True or "ref" for the reference kernels, "builtin" for the optimized ones without XNNPACK, False for
    the default (XNNPACK)."""
    kernels = "ref" if ref is True else ref
    kw = {"experimental_op_resolver_type": KERNELS[kernels]} if kernels else {}
    it = litert.Interpreter(model_content=data, **kw)
    it.allocate_tensors()
    ind, outd = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(ind["index"], model_input(x_pixels, pre, quant_of(ind)))
    it.invoke()
    return it.get_tensor(outd["index"]).copy(), ind, outd


def int8_output_quant(model):
    """For a float-output int8 model: the quantization of the int8 tensor its final DEQUANTIZE reads."""
    graph = model.subgraphs[0]
    out = graph.outputs[0]
    for op in graph.operators:
        if out in list(op.outputs):
            src = graph.tensors[op.inputs[0]]
            if src.quantization is not None and src.type in (schema.TensorType.INT8, schema.TensorType.UINT8):
                return {"dtype": "int8" if src.type == schema.TensorType.INT8 else "uint8",
                        "scale": float(src.quantization.scale[0]), "zero_point": int(src.quantization.zeroPoint[0])}
    return None


def steps_apart(a, b, scale=None):
    if scale:
        return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) / scale
    return int(np.max(np.abs(a.astype(np.int32) - b.astype(np.int32))))


def tflite_entry(out_dir, fname, meta, inputs):
    """Runs the oracle on every input and writes its outputs; returns the index.json entry."""
    data = (out_dir / fname).read_bytes()
    model = load_model(data)
    pre = (meta["pixel_scale"], meta["pixel_offset"])
    entry = dict(meta, file=fname, ops=op_names(model), results=[])
    oracle_data = dequantized_weights(data) if meta["mode"] == "dynamic" else data
    internal = int8_output_quant(model) if meta["mode"] == "int8" else None
    if internal:
        entry["output_int8"] = internal
    kernels = "ref"
    crash = reference_kernels_crash(oracle_data, next(iter(inputs.values())), pre)
    if crash:
        kernels = "builtin"
        entry["oracle_kernels"] = f"builtin (BUILTIN_REF crashed LiteRT: exit code {crash})"
    for stem, px in inputs.items():
        y_ref, ind, outd = run(oracle_data, px, pre, ref=kernels)
        entry["input"], entry["output"] = quant_of(ind), quant_of(outd)
        entry["output_shape"] = [int(d) for d in outd["shape"]]
        res = {"input": stem, "ref": f"{Path(fname).stem}.{stem}.out"}
        y_ref.astype(y_ref.dtype.newbyteorder("<")).tofile(out_dir / res["ref"])
        if meta["mode"] == "dynamic":
            # LiteRT on the file itself quantizes activations on the fly: how far that is from float.
            y_lite, _, _ = run(data, px, pre, ref=kernels)
            res["litert_hybrid_max_abs_diff"] = float(np.max(np.abs(y_ref - y_lite)))
            res["litert_hybrid_top1_equal"] = bool(np.argmax(y_ref) == np.argmax(y_lite))
        y_xnn, _, _ = run(data, px, pre, ref=False)
        if y_ref.dtype == np.float32 and not internal:
            res["xnnpack_max_abs_diff"] = float(np.max(np.abs(y_ref - y_xnn)))
        else:
            res["xnnpack_max_steps"] = steps_apart(y_ref, y_xnn, internal["scale"] if internal else None)
        res["xnnpack_top1_equal"] = bool(np.argmax(y_ref) == np.argmax(y_xnn))
        entry["results"].append(res)
    return entry


def pixel_inputs(out_dir, index, size):
    return {key.split("/", 1)[1]: np.fromfile(out_dir / f, dtype=np.uint8).reshape(size, size, 3)
            for key, f in index["inputs"].items() if key.startswith(f"{size}/")}


def main():
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=root / "tests/data/zoo")
    ap.add_argument("--only", default="", help="only the files whose name contains one of these comma-separated "
                    "strings")
    args = ap.parse_args()
    index_path = args.out / "index.json"
    index = json.loads(index_path.read_text())
    keep = ("file", "results", "ops", "input", "output", "output_shape", "output_int8", "oracle_kernels")
    for i, e in enumerate(index["tflite"]):
        if args.only and not any(part in e["file"] for part in args.only.split(",")):
            continue
        meta = {k: v for k, v in e.items() if k not in keep}
        index["tflite"][i] = tflite_entry(args.out, e["file"], meta, pixel_inputs(args.out, index, e["size"]))
        print(e["file"], flush=True)
    index_path.write_text(json.dumps(index, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
