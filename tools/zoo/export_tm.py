#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Exports the shared real Teachable Machine model (TF.js layers format) as a TensorFlow SavedModel, for
generate.py to convert into the TFLite zoo (tm_v2_0.35_224, docs/zoo.md).

tensorflowjs, which reads the TF.js layers files, pins tensorflow 2.19 and runs in requirements-tfjs.txt's
environment; generate.py (tensorflow 2.21) converts the SavedModel with the same converter as every other zoo model.
Write the SavedModel outside the repository:
  /work/venv-zoo-tfjs/bin/python tools/zoo/export_tm.py /tmp/tm_savedmodel
  /work/venv-zoo/bin/python tools/zoo/generate.py --only tm_v2 --tm-savedmodel /tmp/tm_savedmodel
"""
import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import tensorflow as tf
import tensorflowjs as tfjs


def main():
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="SavedModel directory to write (outside the repository)")
    ap.add_argument("--model", type=Path,
                    default=root.parent / "shared/models/teachable_machine_mobilenet_v2_0.35/model.json")
    args = ap.parse_args()
    model = tfjs.converters.load_keras_model(str(args.model))
    size = model.input_shape[1]

    # The same batch-free signature TFLiteConverter.from_keras_model traces for the other zoo models.
    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="input")])
    def serve(x):
        return {"output": model(x, training=False)}

    tf.saved_model.save(model, str(args.out), signatures={"serving_default": serve})
    metadata = json.loads((args.model.parent / "metadata.json").read_text())
    (args.out / "zoo_export.json").write_text(json.dumps({
        "source": str(args.model), "labels": metadata["labels"], "size": size,
        "versions": {"tensorflow": tf.__version__, "tensorflowjs": tfjs.__version__}}, ensure_ascii=False) + "\n")
    print(f"{args.out}: {model.input_shape} -> {model.output_shape}, labels {metadata['labels']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
