#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates the ONNX importer's test fixtures (tests/data/onnx) with torch, timm and ONNX Runtime.

Every model has seeded random weights; its BatchNorm statistics are measured on the shared photos (train-mode
forward passes) so activations have realistic ranges. Each is exported to ONNX (opsets 11-17, fixed or symbolic
batch), some are quantized with onnxruntime.quantization.quantize_static (QDQ and QOperator, per-channel and
per-tensor, u8/s8) calibrated on the photos, and ONNX Runtime's outputs on the photos (torchvision
preprocessing) and on a seeded random input are the oracle the C++ tests compare against. The test suite reads
only the files written here (index.json, *.onnx, raw little-endian float32 *.f32); it never runs Python.

Usage: /work/venv-onnx/bin/python tools/onnx_zoo/generate.py --shared ../shared --out tests/data/onnx
"""
import argparse
import json
import os
import pathlib
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import timm
import torch
import torchvision
from onnxruntime import quantization as oq
from PIL import Image

PHOTOS = ["chelsea.png", "coffee.png", "dog.jpg", "eagle.jpg", "kite.jpg"]
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
SEED = 20261206


def torchvision_preprocess(path, size):
    """torchvision's documented recipe: resize the short side to size/0.875, centre-crop size, ImageNet mean/std."""
    img = Image.open(path).convert("RGB")
    short = round(size / 0.875)
    w, h = img.size
    if w < h:
        nw, nh = short, int(short * h / w)
    else:
        nw, nh = int(short * w / h), short
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
    img = img.crop((left, top, left + size, top + size))
    x = (np.asarray(img, np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))[None]


class Inputs:
    """The photos (and flips) at one resolution, plus one seeded random input; written once per resolution."""

    def __init__(self, shared, out, size):
        self.size = size
        self.photos = {p.split(".")[0]: torchvision_preprocess(shared / "testdata/images" / p, size) for p in PHOTOS}
        rng = np.random.default_rng(SEED + size)
        self.random = rng.standard_normal((1, 3, size, size)).astype(np.float32)
        self.files = {}
        (out / "inputs").mkdir(parents=True, exist_ok=True)
        for name, x in list(self.photos.items()) + [("random", self.random)]:
            rel = f"inputs/{name}_{size}.f32"
            x.astype("<f4").tofile(out / rel)
            self.files[name] = rel

    def calibration(self):
        xs = list(self.photos.values())
        return xs + [x[:, :, :, ::-1].copy() for x in xs]


def set_batchnorm_statistics(model, inputs):
    """Replaces the BatchNorm running statistics by the photos' (cumulative average over a few passes)."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    batch = torch.from_numpy(np.concatenate(inputs.calibration()))
    with torch.no_grad():
        for _ in range(3):
            model(batch)
    model.eval()


def scale_logits(model, inputs, target_std=4.0):
    """Scales the last Linear layer so that the logits on the photos have a trained network's spread (std 4)
    rather than a random initialization's (torchvision's 0.01-std classifier gives logits near 0, where one
    output quantization step is far below the noise every int8 layer adds)."""
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        std = float(model(torch.from_numpy(np.concatenate(inputs.calibration()))).std())
        last.weight.mul_(target_std / std)
        last.bias.mul_(target_std / std)


# torchvision's MobileNetV2 with one block per stage where the full model repeats it, but two in the 24- and
# 32-channel stages (their second block is a residual add): every op form, a third of the weights.
V2_SHALLOW = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 1, 2], [6, 96, 1, 1], [6, 160, 1, 2], [6, 320, 1, 1]]


def narrow_head(model, kind, channels, classes):
    """Replaces the last 1x1 convolution before the classifier (1024-1280 channels, most of a narrow model's
    weights) by one with `channels` outputs, same form (BatchNorm, activation, bias) as the original."""
    if kind == "tv":  # MobileNetV2: features[-1] is Conv2dNormActivation(in, 1280, 1) with ReLU6
        last = model.features[-1]
        model.features[-1] = torchvision.ops.Conv2dNormActivation(last[0].in_channels, channels, kernel_size=1,
                                                                  activation_layer=torch.nn.ReLU6)
        model.classifier[-1] = torch.nn.Linear(channels, classes)
        return
    old = model.conv_head  # timm: global pool, conv_head, norm_head, act2, flatten, classifier
    model.conv_head = torch.nn.Conv2d(old.in_channels, channels, 1, bias=old.bias is not None)
    if isinstance(model.norm_head, torch.nn.BatchNorm2d):
        model.norm_head = type(model.norm_head)(channels, act_layer=type(model.norm_head.act))
    model.classifier = torch.nn.Linear(channels, classes)


def build(spec, inputs):
    torch.manual_seed(SEED)
    kind, arch = spec["arch"]
    classes = spec.get("classes", 10)
    if kind == "tv":
        fn = getattr(torchvision.models, arch)
        extra = {"reduced_tail": True} if spec.get("reduced_tail") else {}  # V3: half the last stage and head
        if spec.get("shallow"):
            extra["inverted_residual_setting"] = V2_SHALLOW
        model = fn(weights=None, num_classes=classes, width_mult=spec.get("width", 1.0), **extra)
    elif kind == "timm-gen":  # timm's generator functions take the width multiplier the registered names fix
        module, name = spec["gen"].split(".")
        gen = getattr(getattr(timm.models, module), name)
        depth = {"depth_multiplier": spec["depth"]} if "depth" in spec else {}
        model = gen(arch, spec.get("width", 1.0), pretrained=False, num_classes=classes, **depth)
    else:
        model = timm.create_model(arch, pretrained=False, num_classes=classes)
    if spec.get("head"):
        narrow_head(model, "tv" if kind == "tv" else "timm", spec["head"], classes)
    set_batchnorm_statistics(model, inputs)
    scale_logits(model, inputs)
    if spec.get("unfolded"):
        model = ReshapeHead(model)
    if spec.get("softmax"):
        model = torch.nn.Sequential(model, torch.nn.Softmax(dim=1))
    return model.eval()


class ReshapeHead(torch.nn.Module):
    """torchvision's MobileNetV2 with x.reshape(x.shape[0], -1) for its flatten: a Shape/Gather/Unsqueeze/Concat
    chain in the graph, over the symbolic batch."""

    def __init__(self, model):
        super().__init__()
        self.features, self.classifier = model.features, model.classifier

    def forward(self, x):
        x = torch.nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(x.reshape(x.shape[0], -1))


def export(model, path, size, opset, dynamic, unfolded):
    x = torch.zeros(1, 3, size, size)
    axes = {"input": {0: "N"}, "output": {0: "N"}} if dynamic else None
    # unfolded: torch neither folds constants nor BatchNormalization into the convolutions (the importer must).
    mode = torch.onnx.TrainingMode.PRESERVE if unfolded else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, x, str(path), opset_version=opset, input_names=["input"], output_names=["output"],
                      dynamic_axes=axes, do_constant_folding=not unfolded, training=mode, dynamo=False)


class Reader(oq.CalibrationDataReader):
    def __init__(self, xs):
        self.it = iter([{"input": x} for x in xs])

    def get_next(self):
        return next(self.it, None)


def quantize(float_path, path, inputs, fmt, per_channel, act, weight):
    """ONNX Runtime's static quantization, with reduce_range: 7-bit weights, ONNX Runtime's advice for AVX2
    without VNNI, where u8 x s8 products of an input-channel pair add up in a saturating int16; mnet's int8
    convolutions keep a weight channel's integers only where that cannot happen (docs/int8.md), so full-range
    weights would be re-quantized there and compare less tightly."""
    types = {"u8": oq.QuantType.QUInt8, "s8": oq.QuantType.QInt8}
    with tempfile.TemporaryDirectory() as tmp:
        pre = pathlib.Path(tmp) / "pre.onnx"
        oq.quant_pre_process(str(float_path), str(pre), skip_symbolic_shape=True)
        oq.quantize_static(str(pre), str(path), Reader(inputs.calibration()),
                           quant_format=oq.QuantFormat.QDQ if fmt == "qdq" else oq.QuantFormat.QOperator,
                           per_channel=per_channel, activation_type=types[act], weight_type=types[weight],
                           calibrate_method=oq.CalibrationMethod.MinMax, reduce_range=True)


def output_step(path):
    """The scale of the quantized value the graph output is dequantized from, or None when it is float."""
    m = onnx.load(str(path))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    out = m.graph.output[0].name
    for n in m.graph.node:
        if out in n.output and n.op_type == "DequantizeLinear":
            return float(inits[n.input[1]])
    return None


def run_cases(path, out, name, inputs, dynamic):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    cases = []
    for stem, rel in inputs.files.items():
        x = inputs.photos[stem] if stem in inputs.photos else inputs.random
        y = sess.run(None, {"input": x})[0].astype("<f4")
        rel_out = f"{name}.{stem}.f32"
        y.tofile(out / rel_out)
        cases.append({"inputs": [rel], "output": rel_out, "batch": 1})
    if dynamic:  # one batch of two images through the symbolic batch dimension
        x = np.concatenate([inputs.photos["kite"], inputs.photos["dog"]])
        y = sess.run(None, {"input": x})[0].astype("<f4")
        rel_out = f"{name}.kite+dog.f32"
        y.tofile(out / rel_out)
        cases.append({"inputs": [inputs.files["kite"], inputs.files["dog"]], "output": rel_out, "batch": 2})
    return cases


# name, architecture, input size, opset, symbolic batch; the quantized variants of some. Small: 96x96 inputs,
# narrow widths, a narrow last convolution (head), fewer blocks (timm's depth multiplier; for V2, V2_SHALLOW),
# so that the fixtures stay under the 15 MB while every op form and quantized form is there.
FLOAT_MODELS = [
    dict(name="tv_mnv2_025_96_op11", arch=("tv", "mobilenet_v2"), width=0.25, shallow=True, head=256, size=96,
         opset=11, dynamic=False),
    dict(name="tv_mnv2_025_96_op13_unfolded", arch=("tv", "mobilenet_v2"), width=0.25, shallow=True, head=256,
         size=96, opset=13, dynamic=True, softmax=True, unfolded=True),
    dict(name="tv_mnv3s_035_96_op17", arch=("tv", "mobilenet_v3_small"), width=0.35, size=96, opset=17,
         dynamic=True, reduced_tail=True),
    dict(name="tv_mnv3l_020_96_op13", arch=("tv", "mobilenet_v3_large"), width=0.2, size=96, opset=13,
         dynamic=True, reduced_tail=True),
    dict(name="timm_mnv3s035_96_op17", arch=("timm-gen", "mobilenetv3_small_100"), gen="mobilenetv3._gen_mobilenet_v3",
         width=0.35, depth=0.5, head=256, size=96, opset=17, dynamic=True),
    dict(name="timm_mnv1_025_96_op13", arch=("timm-gen", "mobilenetv1_100"), gen="efficientnet._gen_mobilenet_v1", width=0.25,
         depth=0.5, size=96, opset=13, dynamic=False),
    dict(name="timm_mnv4cs_050_96_op17", arch=("timm-gen", "mobilenetv4_conv_small"), gen="mobilenetv3._gen_mobilenet_v4",
         width=0.5, head=256, size=96, opset=17, dynamic=True, keep_float=False),  # its QOperator form is kept
    # Full size, quantized only: V3-Large (its MACs are checked); the full-size V2 is the real one in
    # ../shared/peers/models, float there and quantized here (PEERS_QUANTIZED).
    dict(name="tv_mnv3l_100_224", arch=("tv", "mobilenet_v3_large"), size=224, opset=17, dynamic=False,
         classes=1000, keep_float=False),
]
# float model, format, per-channel, activation type, weight type
QUANTIZED = [
    # (per-channel QDQ needs DequantizeLinear's axis: opset 13)
    ("tv_mnv2_025_96_op11", "qop", True, "u8", "s8"),
    ("tv_mnv2_025_96_op11", "qdq", False, "u8", "u8"),
    ("tv_mnv2_025_96_op13_unfolded", "qdq", True, "s8", "s8"),  # s8 activations (u8 per channel: V3-Large, peers)
    ("tv_mnv3s_035_96_op17", "qdq", False, "u8", "s8"),
    ("tv_mnv3s_035_96_op17", "qop", False, "u8", "u8"),
    ("tv_mnv3l_020_96_op13", "qdq", True, "u8", "s8"),
    ("timm_mnv4cs_050_96_op17", "qop", True, "s8", "s8"),
    ("tv_mnv3l_100_224", "qdq", True, "u8", "s8"),
]


# The real MobileNetV2 1.0/224 of ../shared/peers/models (trained weights), quantized.
# (QOperator is covered by the small models; its copy of this one, 3.5 MB, was dropped for the size budget.)
PEERS_QUANTIZED = [("qdq", True, "u8", "s8")]


class ReferenceInputs:
    """The shared reference inputs of the TFLite V2 ((x - 128) / 128, NCHW), which the peers ONNX takes."""

    def __init__(self, shared):
        ref = shared / "testdata/reference/mobilenet_v2_1.0_224_quant"
        self.photos = {p.split(".")[0]: np.fromfile(ref / f"{p.split('.')[0]}.input.f32", "<f4").reshape(1, 3, 224, 224)
                       for p in PHOTOS}
        # The tests read them from ../shared.
        self.files = {s: f"@shared/testdata/reference/mobilenet_v2_1.0_224_quant/{s}.input.f32" for s in self.photos}

    def calibration(self):
        xs = list(self.photos.values())
        return xs + [x[:, :, :, ::-1].copy() for x in xs]


def peers(shared, out, entries):
    """ONNX Runtime on the shared float MobileNetV2 1.0/224 ONNX, fed the shared reference inputs (the float
    model's oracle), and the model quantized, with its oracle on the same inputs."""
    model = shared / "peers/models/mobilenet_v2_1.0_224_float_b1.onnx"
    inputs = ReferenceInputs(shared)
    (out / "peers").mkdir(exist_ok=True)
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for stem, x in inputs.photos.items():
        sess.run(None, {"input": x})[0].astype("<f4").tofile(out / "peers" / f"{stem}.probs.f32")
    for fmt, per_channel, act, weight in PEERS_QUANTIZED:
        qname = f"peers_mnv2_100_224_{fmt}_{'pc' if per_channel else 'pt'}_{act}{weight}"
        qpath = out / f"{qname}.onnx"
        quantize(model, qpath, inputs, fmt, per_channel, act, weight)
        sess = ort.InferenceSession(str(qpath), providers=["CPUExecutionProvider"])
        cases = []
        for stem, x in inputs.photos.items():
            rel_out = f"{qname}.{stem}.f32"
            sess.run(None, {"input": x})[0].astype("<f4").tofile(out / rel_out)
            cases.append({"inputs": [inputs.files[stem]], "output": rel_out, "batch": 1})
        entries[qname] = dict(name=qname, file=qpath.name, kind=fmt, opset=13, symbolic_batch=False,
                              input_shape=[1, 3, 224, 224], output_step=output_step(qpath), cases=cases)


def pad_model(out, inputs, entries):
    """A small hand-built graph whose zero Pad cannot be folded into a convolution: a GlobalAveragePool reads the
    padded tensor (its mean counts the zeros) beside a convolution; ONNX Runtime's output is the oracle."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(SEED)
    size, name = inputs.size, f"pad_zero_{inputs.size}_op13"
    init = lambda n, *shape: numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), n)
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Pad", ["r1", "pads"], ["padded"], mode="constant"),  # top 1, left 2, bottom 2, right 1
        helper.make_node("GlobalAveragePool", ["padded"], ["g1"]),
        helper.make_node("Conv", ["padded", "w2", "b2"], ["c2"], kernel_shape=[3, 3]),
        helper.make_node("GlobalAveragePool", ["c2"], ["g2"]),
        helper.make_node("Add", ["g1", "g2"], ["sum"]),
        helper.make_node("Flatten", ["sum"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w3", "b3"], ["output"], transB=1),
    ]
    pads = numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64), "pads")
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])],
                              [init("w1", 8, 3, 3, 3), init("b1", 8), pads, init("w2", 8, 8, 3, 3), init("b2", 8),
                               init("w3", 10, 8), init("b3", 10)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = out / f"{name}.onnx"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    entries[name] = dict(name=name, file=path.name, kind="float", opset=13, symbolic_batch=False,
                         input_shape=[1, 3, size, size], cases=run_cases(path, out, name, inputs, False))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared", type=pathlib.Path)
    ap.add_argument("--out", default="tests/data/onnx", type=pathlib.Path)
    ap.add_argument("--only", default="", help="comma-separated model names (default: all)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    only = set(filter(None, args.only.split(",")))
    index_path = args.out / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() and only else {"models": []}
    entries = {m["name"]: m for m in index["models"]}
    inputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for spec in FLOAT_MODELS:
            wanted = [q for q in QUANTIZED if q[0] == spec["name"]]
            if only and spec["name"] not in only:
                continue
            size = spec["size"]
            if size not in inputs:
                inputs[size] = ReferenceInputs(args.shared) if size == 224 else Inputs(args.shared, args.out, size)
            model = build(spec, inputs[size])
            keep = spec.get("keep_float", True)
            float_path = (args.out if keep else pathlib.Path(tmp)) / f"{spec['name']}.onnx"
            export(model, float_path, size, spec["opset"], spec["dynamic"], spec.get("unfolded", False))
            if keep:
                entries[spec["name"]] = dict(name=spec["name"], file=float_path.name, kind="float",
                                             opset=spec["opset"], symbolic_batch=spec["dynamic"],
                                             input_shape=[1, 3, size, size],
                                             cases=run_cases(float_path, args.out, spec["name"], inputs[size],
                                                             spec["dynamic"]))
            for _, fmt, per_channel, act, weight in wanted:
                qname = f"{spec['name']}_{fmt}_{'pc' if per_channel else 'pt'}_{act}{weight}"
                qpath = args.out / f"{qname}.onnx"
                quantize(float_path, qpath, inputs[size], fmt, per_channel, act, weight)
                entries[qname] = dict(name=qname, file=qpath.name, kind=fmt, opset=spec["opset"],
                                      symbolic_batch=spec["dynamic"], input_shape=[1, 3, size, size],
                                      output_step=output_step(qpath),
                                      cases=run_cases(qpath, args.out, qname, inputs[size], spec["dynamic"]))
            print("done", spec["name"], flush=True)
    if not only or "pad" in only:
        pad_model(args.out, inputs.get(96) or Inputs(args.shared, args.out, 96), entries)
    if not only or "peers" in only:
        peers(args.shared, args.out, entries)
    index = {"generator": "tools/onnx_zoo/generate.py", "onnxruntime": ort.__version__, "torch": torch.__version__,
             "preprocess": "torchvision: resize short side to size/0.875, centre crop, ImageNet mean/std",
             "models": [entries[k] for k in sorted(entries)]}
    index_path.write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
