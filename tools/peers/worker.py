#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One peer runtime holding one session, driven over stdin/stdout by peers.py.

Each runtime runs in its own process so that thread pools of different runtimes never share one process (ONNX
Runtime's spinning pool, OpenVINO's TBB and LiteRT's pthreadpool would otherwise compete while "idle"), and so
that the session is created once and reused across rounds, as an application would.

    worker.py --runtime {litert,ort,openvino} --model FILE --batch B --threads T [--precision fp32|int8]

Protocol: one JSON line on start ({"ready": true, "version": ..., "info": {...}}), then per request line
"RUNS WARMUP" one JSON line {"times_ms": [...]}; "quit" or end of input ends the process. Errors: one JSON line
{"error": "..."} and exit status 1.
"""
import argparse
import json
import sys
import time

import numpy as np

SEED = 12345


def random_input(shape, dtype):
    rng = np.random.default_rng(SEED)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.uniform(-1, 1, size=shape).astype(dtype)


class LiteRT:
    """LiteRT (TFLite) with its default delegate, XNNPACK, on `threads` threads."""

    def __init__(self, model, batch, threads, precision):
        from ai_edge_litert import interpreter as litert
        self.version = 'ai-edge-litert ' + _dist_version('ai-edge-litert')
        self.interp = litert.Interpreter(model_path=model, num_threads=threads)
        inp = self.interp.get_input_details()[0]
        if batch != inp['shape'][0]:
            self.interp.resize_tensor_input(inp['index'], [batch, *inp['shape'][1:]])
        self.interp.allocate_tensors()
        inp = self.interp.get_input_details()[0]
        self.index = inp['index']
        self.x = random_input(tuple(inp['shape']), inp['dtype'])
        self.info = {'input': [int(d) for d in inp['shape']], 'input_dtype': np.dtype(inp['dtype']).name,
                     'note': 'XNNPACK delegate'}

    def run(self):
        self.interp.set_tensor(self.index, self.x)
        self.interp.invoke()


class OnnxRuntime:
    """ONNX Runtime's CPU execution provider, every graph optimization, intra-op threads = `threads`."""

    def __init__(self, model, batch, threads, precision):
        import onnxruntime as ort
        self.version = 'onnxruntime ' + ort.__version__
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(model, so, providers=['CPUExecutionProvider'])
        inp = self.session.get_inputs()[0]
        shape = [d if isinstance(d, int) else batch for d in inp.shape]
        if shape[0] != batch:
            raise ValueError(f'{model}: batch {shape[0]} in the file, {batch} asked for (use the _b{batch} twin)')
        self.feeds = {inp.name: random_input(tuple(shape), np.float32)}
        ops = {}
        for node in _onnx_nodes(model):
            ops[node] = ops.get(node, 0) + 1
        self.info = {'input': shape, 'providers': self.session.get_providers(),
                     'note': f"{ops.get('QuantizeLinear', 0)} QuantizeLinear"}

    def run(self):
        self.session.run(None, self.feeds)


class OpenVINO:
    """OpenVINO's CPU plugin: INFERENCE_NUM_THREADS, latency hint (one stream). fp32 asks for f32 inference
    precision (the plugin would otherwise pick bf16 on CPUs that have it); int8 leaves the plugin its defaults: a
    quantized model runs in int8 where its low-precision transformations apply, the rest as it chooses."""

    def __init__(self, model, batch, threads, precision):
        import openvino as ov
        self.version = 'openvino ' + ov.get_version()
        core = ov.Core()
        m = core.read_model(model)
        shape = list(m.inputs[0].get_partial_shape().to_shape())
        if shape[0] != batch:
            shape[0] = batch
            m.reshape({m.inputs[0]: ov.PartialShape(shape)})
        config = {'INFERENCE_NUM_THREADS': threads, 'PERFORMANCE_HINT': 'LATENCY', 'NUM_STREAMS': 1}
        if precision == 'fp32':
            config['INFERENCE_PRECISION_HINT'] = 'f32'
        self.compiled = core.compile_model(m, 'CPU', config)
        self.request = self.compiled.create_infer_request()
        dtype = m.inputs[0].get_element_type().to_dtype()
        self.x = random_input(tuple(shape), dtype)
        self.info = {'input': shape, 'input_dtype': np.dtype(dtype).name,
                     'runtime_precisions': _openvino_precisions(self.compiled),
                     'inference_precision': str(self.compiled.get_property('INFERENCE_PRECISION_HINT'))}
        self.info['note'] = _openvino_note(self.info['runtime_precisions'])

    def run(self):
        self.request.infer({0: self.x})


def _openvino_precisions(compiled):
    """How many executed convolutions / fully connected layers run in each precision: whether a quantized model
    really ran in int8 (OpenVINO falls back to float where its low-precision transformations do not apply)."""
    counts = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        kind = info['layerType'].astype(str)
        if kind in ('Convolution', 'FullyConnected'):
            key = kind + ':' + info['runtimePrecision'].astype(str)
            counts[key] = counts.get(key, 0) + 1
    return counts


def _openvino_note(counts):
    total = sum(counts.values())
    integer = sum(n for k, n in counts.items() if k.endswith((':u8', ':i8')))
    return f'{integer}/{total} conv int8'


def _onnx_nodes(path):
    import onnx
    return [n.op_type for n in onnx.load(path, load_external_data=False).graph.node]


def _dist_version(name):
    from importlib.metadata import version
    return version(name)


RUNTIMES = {'litert': LiteRT, 'ort': OnnxRuntime, 'openvino': OpenVINO}


def time_runs(rt, runs, warmup):
    for _ in range(warmup):
        rt.run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        rt.run()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runtime', choices=sorted(RUNTIMES), required=True)
    ap.add_argument('--model', required=True)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--precision', choices=['fp32', 'int8'], default='fp32')
    a = ap.parse_args()
    try:
        start = time.perf_counter()
        rt = RUNTIMES[a.runtime](a.model, a.batch, a.threads, a.precision)
        session_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        rt.run()
        first_ms = (time.perf_counter() - start) * 1e3
    except Exception as e:  # any failure of the runtime: reported to the driver as one line
        print(json.dumps({'error': f'{a.runtime} on {a.model}: {type(e).__name__}: {e}'}), flush=True)
        return 1
    print(json.dumps({'ready': True, 'version': rt.version, 'info': rt.info, 'session_ms': round(session_ms, 2),
                      'first_run_ms': round(first_ms, 3)}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == 'quit':
            break
        runs, warmup = int(words[0]), int(words[1])
        print(json.dumps({'times_ms': time_runs(rt, runs, warmup)}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
