#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A Teachable Machine-style TF.js layers model for the zoo (tests/data/zoo/tm_v1_0.25_224, docs/zoo.md).

Teachable Machine's image library (@teachablemachine/image, custom-mobilenet.ts and teachable-mobilenet.ts)
truncates MobileNet V1 0.25/224 at 'conv_pw_13_relu' (its default base model when no options are given), puts a
GlobalAveragePooling2D after it, and trains a head Dense(100, relu) -> Dense(classes, softmax, no bias); the
export is Sequential[Sequential[truncated model, pooling], Sequential[head]] in the TF.js layers format with a
metadata.json holding the labels. This script builds that model with tf_keras (Keras 2, whose topology JSON is
what tfjs-layers writes), seeded weights and BatchNorm statistics from the shared photos (zoo_inputs.py), saves
it with the real tensorflowjs converter, and records the Keras model's own predictions as the oracle. tfjs-node
(the JavaScript runtime) cannot be used: npm is not reachable here. As a check on the converter's output, the
files are also loaded back with tensorflowjs's Python loader and its predictions compared (index.json:
tfjs_reload_max_abs_diff).

tensorflowjs pins tensorflow 2.19, which conflicts with generate.py's 2.21, so it has its own environment:
  python3 -m venv /work/venv-zoo-tfjs
  /work/venv-zoo-tfjs/bin/pip install -r tools/zoo/requirements-tfjs.txt
  /work/venv-zoo-tfjs/bin/python tools/zoo/generate_tm.py
"""
import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import tensorflow as tf
import tf_keras as keras
import tensorflowjs as tfjs

from zoo_inputs import PHOTOS, SEED, VARIANCE_FLOOR, calibrate_batchnorm, inputs_for

NAME = "tm_v1_0.25_224"
SIZE = 224
PRE = (1 / 127.5, -1.0)  # keras.applications MobileNet preprocessing, mnet-convert's default for Keras models
LABELS = ["cat", "cup", "dog"]
HIDDEN_UNITS = 100       # teachable-mobilenet.ts: the first dense layer of the head
LOGIT_SPREAD = 1.0       # standard deviation of the logits over the classes (see scale_head)


def build():
    """Teachable Machine's model, layer for layer (names as tfjs-layers would give them do not matter)."""
    mobilenet = keras.applications.MobileNet(input_shape=(SIZE, SIZE, 3), alpha=0.25, weights=None)
    truncated = keras.Model(mobilenet.inputs, mobilenet.get_layer("conv_pw_13_relu").output, name="model1")
    base = keras.Sequential([truncated, keras.layers.GlobalAveragePooling2D()], name="sequential_1")
    features = base.output_shape[-1]
    head = keras.Sequential([
        keras.layers.Dense(HIDDEN_UNITS, activation="relu", input_shape=(features,), name="dense_Dense1"),
        keras.layers.Dense(len(LABELS), activation="softmax", use_bias=False, name="dense_Dense2"),
    ], name="sequential_2")
    return keras.Sequential([base, head], name="sequential_3")


def scale_head(model, x):
    """Scales the last kernel so the logits spread with standard deviation LOGIT_SPREAD over the classes.

    The head stays otherwise as seeded, so every input gets nearly the same probabilities. A head that told the
    photos apart would have to amplify differences the random backbone barely makes (its pooled features vary
    about 3.5% between the photos): centring the hidden layer and the logits on the photos (as generate.py does
    for its heads) made the outputs move by 1e-3 for a 1e-6 relative change of the features, so any float
    rounding would fail a 1e-4 comparison. As seeded, that change moves them by 1e-6."""
    last = model.layers[-1].layers[-1]
    last.activation = keras.activations.linear
    logits = model(x, training=False).numpy()
    last.activation = keras.activations.softmax
    last.kernel.assign(last.kernel.numpy() * (LOGIT_SPREAD / max(float(np.mean(np.std(logits, axis=1))), 1e-6)))


def main():
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=root.parent / "shared")
    ap.add_argument("--out", type=Path, default=root / "tests/data/zoo")
    args = ap.parse_args()
    keras.utils.set_random_seed(SEED)
    inputs = inputs_for(SIZE, args.shared / "testdata/images")
    model = build()
    x = calibrate_batchnorm(model, keras.layers.BatchNormalization, [inputs[Path(p).stem] for p in PHOTOS], PRE,
                            VARIANCE_FLOOR)
    scale_head(model, x)

    folder = args.out / NAME
    shutil.rmtree(folder, ignore_errors=True)
    tfjs.converters.save_keras_model(model, str(folder))
    (folder / "metadata.json").write_text(json.dumps({
        "tfjsVersion": "1.3.1", "packageName": "@teachablemachine/image", "modelName": NAME,
        "labels": LABELS, "imageSize": SIZE}) + "\n")
    reloaded = tfjs.converters.load_keras_model(str(folder / "model.json"))

    outputs, worst = {}, 0.0
    for stem, px in inputs.items():
        pixels = args.out / f"pixels_{SIZE}.{stem}.u8"  # generate.py's, which the tests read: the same bytes
        if pixels.exists() and pixels.read_bytes() != px.tobytes():
            sys.exit(f"{pixels}: differs from this script's input; regenerate both with the same Pillow")
        px.tofile(pixels)
        x1 = px.astype(np.float32)[None] * PRE[0] + PRE[1]
        y = model(x1, training=False).numpy()
        worst = max(worst, float(np.max(np.abs(reloaded(x1, training=False).numpy() - y))))
        outputs[stem] = f"{NAME}.{stem}.f32"
        y.astype("<f4").tofile(args.out / outputs[stem])
        print(f"  {stem}: {LABELS[int(y.argmax())]} {float(y.max()):.3f}")
    print(f"  tensorflowjs reload: max |diff| {worst:.3g}")

    index_path = args.out / "index.json"
    index = json.loads(index_path.read_text())
    index["tfjs"] = [e for e in index.get("tfjs", []) if e["name"] != NAME]
    index["tfjs"].append({"file": f"{NAME}/model.json", "name": NAME, "size": SIZE, "pixel_scale": PRE[0],
                           "pixel_offset": PRE[1], "outputs": outputs, "output_shape": list(y.shape),
                           "labels": LABELS, "tfjs_reload_max_abs_diff": worst})
    index["versions_tfjs"] = {"tensorflow": tf.__version__, "tf_keras": keras.__version__,
                              "tensorflowjs": tfjs.__version__, "numpy": np.__version__}
    index_path.write_text(json.dumps(index, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
