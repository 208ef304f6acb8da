# SPDX-License-Identifier: Apache-2.0
"""The peer model files the shared folder does not hold, made once into an output folder and checked:

- `<tflite stem>_b<B>.tflite`: the TFLite model with its final RESHAPE's target shape [1, classes] changed to
  [B, classes], so that LiteRT and OpenVINO can run it at batch B (the file fixes batch 1 there, nowhere else).
  Checked: every image of a batch-B run gives the same output as that image run alone.
- `mobilenet_v2_1.0_224_qdq_b<B>.onnx`: the QDQ int8 twin of the shared float ONNX MobileNetV2 (ONNX Runtime's
  quantize_static: u8 activations, s8 per-channel weights, MinMax calibration) calibrated on the shared photos as
  the canonical preprocessing makes them (testdata/reference/<model>/*.input.f32, (pixel - 128) / 128, NCHW).
  The same calibration data at every batch size, so every twin has the same scales. Reported: its top-1 against
  the float reference's on those photos.
"""
import glob
import os

import numpy as np

REFERENCE_MODEL = 'mobilenet_v2_1.0_224_quant'  # whose reference inputs calibrate the QDQ twin


def tflite_with_batch(src, dst, batch):
    """Writes `src` with every RESHAPE whose constant target shape starts with 1 retargeted to `batch`, and every
    activation declared with batch 1 declared with `batch`."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    model = schema.ModelT.InitFromPackedBuf(open(src, 'rb').read(), 0)
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    changed = 0
    for graph in model.subgraphs:
        for op in graph.operators:
            if codes[op.opcodeIndex] != schema.BuiltinOperator.RESHAPE:
                continue
            if len(op.inputs) > 1:
                buf = model.buffers[graph.tensors[op.inputs[1]].buffer]
                if buf.data is not None and len(buf.data) >= 4:
                    shape = np.frombuffer(bytes(buf.data), dtype='<i4').copy()
                    if shape[0] == 1:
                        shape[0] = batch
                        buf.data = np.frombuffer(shape.tobytes(), dtype=np.uint8)
                        changed += 1
            opts = op.builtinOptions
            if opts is not None and getattr(opts, 'newShape', None) is not None and opts.newShape[0] == 1:
                opts.newShape = np.array([batch, *opts.newShape[1:]], dtype=np.int32)
        # Activations (tensors without constant data) are declared with batch 1 too; OpenVINO reads them.
        for t in graph.tensors:
            constant = model.buffers[t.buffer].data is not None
            if not constant and t.shape is not None and len(t.shape) > 0 and t.shape[0] == 1:
                t.shape = np.array([batch, *t.shape[1:]], dtype=np.int32)
                if t.shapeSignature is not None and len(t.shapeSignature) == len(t.shape):
                    t.shapeSignature = t.shape.copy()
    if changed == 0:
        raise ValueError(f'{src}: no RESHAPE to batch 1 found; cannot make a batch-{batch} twin')
    builder = flatbuffers.Builder(len(open(src, 'rb').read()) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b'TFL3')
    with open(dst, 'wb') as f:
        f.write(builder.Output())


def check_tflite_batch(single, batched, batch):
    """Every image of a batch run must give exactly what it gives alone (same integer kernels)."""
    from ai_edge_litert.interpreter import Interpreter
    one = Interpreter(model_path=single, num_threads=1)
    many = Interpreter(model_path=batched, num_threads=1)
    many.allocate_tensors()
    inp = many.get_input_details()[0]
    one.allocate_tensors()
    rng = np.random.default_rng(7)
    x = rng.integers(0, 255, size=(batch, *inp['shape'][1:]), endpoint=True).astype(inp['dtype'])
    many.set_tensor(inp['index'], x)
    many.invoke()
    got = many.get_tensor(many.get_output_details()[0]['index']).reshape(batch, -1)
    for i in range(batch):
        one.set_tensor(one.get_input_details()[0]['index'], x[i:i + 1])
        one.invoke()
        want = one.get_tensor(one.get_output_details()[0]['index']).reshape(-1)
        if not np.array_equal(got[i], want):
            raise ValueError(f'{batched}: image {i} of a batch of {batch} differs from the same image alone')


def reference_inputs(shared):
    files = sorted(glob.glob(os.path.join(shared, 'testdata', 'reference', REFERENCE_MODEL, '*.input.f32')))
    if not files:
        raise FileNotFoundError(f'{shared}/testdata/reference/{REFERENCE_MODEL}: no *.input.f32 calibration inputs')
    return [(os.path.basename(f)[:-len('.input.f32')], np.fromfile(f, dtype=np.float32).reshape(1, 3, 224, 224))
            for f in files]


def make_qdq(shared, float_onnx, dst, batch):
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    images = [x for _, x in reference_inputs(shared)]
    stacked = np.concatenate([images[i % len(images)] for i in range(max(batch, len(images)))])
    batches = [stacked[i:i + batch] for i in range(0, len(stacked) - batch + 1, batch)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{'input': b} for b in batches])

        def get_next(self):
            return next(self.it, None)

    pre = dst + '.pre.onnx'
    quant_pre_process(float_onnx, pre, skip_symbolic_shape=True)
    try:
        quantize_static(pre, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    finally:
        os.remove(pre)


def qdq_top1_agreement(shared, qdq_b1):
    """Top-1 of the QDQ model against the float reference, per shared photo."""
    import onnxruntime as ort
    session = ort.InferenceSession(qdq_b1, providers=['CPUExecutionProvider'])
    agree = {}
    for name, x in reference_inputs(shared):
        probs = session.run(None, {'input': x})[0].reshape(-1)
        ref = np.fromfile(os.path.join(shared, 'testdata', 'reference', REFERENCE_MODEL, name + '.probs.f32'),
                          dtype=np.float32)
        agree[name] = bool(int(np.argmax(probs)) == int(np.argmax(ref)))
    return agree


def ensure(path, make, log):
    """Makes `path` through `make(tmp)` unless it exists; written under a temporary name, then renamed."""
    if os.path.exists(path):
        return path
    tmp = path + '.tmp'
    make(tmp)
    os.replace(tmp, path)
    log(f'made {path}')
    return path
