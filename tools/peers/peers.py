#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mnet against its peers (LiteRT/XNNPACK, ONNX Runtime, OpenVINO) on the same model, threads and batch.

Each round runs every runtime once per configuration (mnet first in even rounds, last in odd ones); a
configuration's ratio is mnet's median time over the peer's in the same round, and the table quotes the median of
those per-round ratios (below 1: mnet is faster). Prints a table; --json writes every round's numbers, the
machine (CPU, ISA) and the versions. See docs/performance.md, "Peers".
"""
import argparse
import json
import os
import platform
import sys

import prepare
from runners import MnetBench, PeerWorker, median

V2, V3S = 'mobilenet_v2_1.0_224_quant', 'mobilenet_v3_small_1.0_224_uint8'
TFLITE = {V2: 'mobilenet_v2_1.0_224_quant/mobilenet_v2_1.0_224_quant.tflite',
          V3S: 'mobilenet_v3_small_1.0_224_uint8/v3-small_224_1.0_uint8.tflite'}
ALIASES = {'v2': V2, 'v3s': V3S}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rounds', type=int, default=8, help='alternated rounds (default 8)')
    ap.add_argument('--runs', type=int, default=100, help='timed runs per round at batch 1 (default 100)')
    ap.add_argument('--batch-runs', type=int, default=10, help='timed runs per round at batch > 1 (default 10)')
    ap.add_argument('--warmup', type=int, default=5, help='untimed runs before each round\'s timed ones (default 5)')
    ap.add_argument('--threads', type=int, default=2, help='threads for every runtime (default 2)')
    ap.add_argument('--batch', type=int, nargs='+', default=[1, 16], help='batch sizes (default 1 16)')
    ap.add_argument('--models', nargs='+', default=['v2', 'v3s'], help='v2 and/or v3s (default both)')
    ap.add_argument('--precision', nargs='+', default=['int8', 'fp32'], choices=['int8', 'fp32'])
    ap.add_argument('--runtimes', nargs='+', default=['litert', 'ort', 'openvino'],
                    choices=['litert', 'ort', 'openvino'], help='peers to run (default all)')
    ap.add_argument('--mnet', default='build/mnet', help='the mnet binary (default build/mnet)')
    ap.add_argument('--shared', default=os.environ.get('MNET_TEST_DATA', '../shared'),
                    help='the shared folder: models/, peers/models/, testdata/ ($MNET_TEST_DATA, ../shared)')
    ap.add_argument('--work', default='build/peers', help='where the made model twins go (default build/peers)')
    ap.add_argument('--json', help='write the full results here')
    a = ap.parse_args(argv)
    a.models = [ALIASES.get(m, m) for m in a.models]
    for m in a.models:
        if m not in TFLITE:
            ap.error(f'unknown model {m}: v2 or v3s')
    return a


def log(msg):
    print(f'peers: {msg}', file=sys.stderr, flush=True)


def peer_models(a, model, precision, batch):
    """(runtime, label, file) of every peer for one configuration; made twins are created on first use."""
    os.makedirs(a.work, exist_ok=True)
    tflite = os.path.join(a.shared, 'models', TFLITE[model])
    if batch != 1:
        stem = os.path.splitext(os.path.basename(tflite))[0]
        twin = os.path.join(a.work, f'{stem}_b{batch}.tflite')
        prepare.ensure(twin, lambda tmp: (prepare.tflite_with_batch(tflite, tmp, batch),
                                          prepare.check_tflite_batch(tflite, tmp, batch)), log)
        tflite = twin
    float_onnx = os.path.join(a.shared, 'peers', 'models', f'mobilenet_v2_1.0_224_float_b{batch}.onnx')
    out = []
    if precision == 'int8':
        out.append(('litert', 'LiteRT/XNNPACK .tflite', tflite))
        out.append(('openvino', 'OpenVINO .tflite', tflite))
        if model == V2 and os.path.exists(float_onnx):
            qdq = os.path.join(a.work, f'mobilenet_v2_1.0_224_qdq_b{batch}.onnx')
            prepare.ensure(qdq, lambda tmp: prepare.make_qdq(a.shared, float_onnx, tmp, batch), log)
            out.append(('ort', 'ONNX Runtime QDQ .onnx', qdq))
            out.append(('openvino', 'OpenVINO QDQ .onnx', qdq))
    elif model == V2 and os.path.exists(float_onnx):
        out.append(('ort', 'ONNX Runtime .onnx', float_onnx))
        out.append(('openvino', 'OpenVINO .onnx', float_onnx))
    return [p for p in out if p[0] in a.runtimes]


def configurations(a):
    """Every (model, precision, batch) with the peers that run it; one without a peer still runs mnet alone."""
    configs = []
    for model in a.models:
        for precision in a.precision:
            for batch in a.batch:
                configs.append({'model': model, 'precision': precision, 'batch': batch,
                                'peers': peer_models(a, model, precision, batch)})
    return configs


def start_workers(a, configs):
    workers = {}
    for c in configs:
        for runtime, label, path in c['peers']:
            key = (c['model'], c['precision'], c['batch'], label)
            log(f'starting {label} on {os.path.basename(path)}, batch {c["batch"]}, {a.threads} threads')
            workers[key] = PeerWorker(runtime, label, path, c['batch'], a.threads, c['precision'])
    return workers


def run_round(a, r, configs, workers, mnet, results):
    """One round: mnet (every batch of a model and precision in one process) and each peer, once each."""
    for model in a.models:
        for precision in a.precision:
            mine = [c for c in configs if c['model'] == model and c['precision'] == precision]
            peers = [(c, w) for c in mine for k, w in workers.items() if k[:3] == (model, precision, c['batch'])]
            mnet_first = r % 2 == 0
            if not mnet_first:
                run_peers(a, peers, results)
            for batch, ms in mnet.run(model, precision, a.batch, a.runs, a.batch_runs, a.warmup).items():
                results[(model, precision, batch, 'mnet')].append(ms)
            if mnet_first:
                run_peers(a, peers, results)


def run_peers(a, peers, results):
    for c, w in peers:
        runs = a.runs if c['batch'] == 1 else a.batch_runs
        results[(c['model'], c['precision'], c['batch'], w.label)].append(w.run(runs, a.warmup))


def summarize(configs, workers, results, mnet):
    rows = []
    for c in configs:
        key = (c['model'], c['precision'], c['batch'])
        mine = results[key + ('mnet',)]
        rows.append(row(c, 'mnet ' + c['precision'], mine, None))
        used = mnet.threads_used.get(key)
        rows[-1]['info'] = {'threads_used': used, 'note': f'{used} thread{"s" * (used != 1)} used' if used else ''}
        for (*k, label), w in workers.items():
            if tuple(k) == key:
                rows.append(row(c, label, results[key + (label,)], mine, w))
        if c['precision'] == 'int8':
            rows += float_rows(c, mine, results)
    return rows


def float_rows(c, mine, results):
    """For an int8 configuration: the same rounds' fp32 times of mnet itself and of ONNX Runtime, where they ran
    (the goals int8 >= 1.5x its own fp32 and int8 <= 0.30x ONNX Runtime fp32)."""
    rows = []
    for label in ('mnet', 'ONNX Runtime .onnx'):
        times = results.get((c['model'], 'fp32', c['batch'], label))
        if times:
            rows.append(row(c, label + ' (fp32)', times, mine))
    return rows


def row(c, label, times, mnet_times, worker=None):
    ratios = [m / t for m, t in zip(mnet_times, times)] if mnet_times else []
    out = {'model': c['model'], 'precision': c['precision'], 'batch': c['batch'], 'runtime': label,
           'median_ms': median(times), 'rounds_ms': times, 'images_per_s': 1000.0 * c['batch'] / median(times)}
    if ratios:
        out.update({'mnet_over_peer': median(ratios), 'ratio_min': min(ratios), 'ratio_max': max(ratios),
                    'rounds_ratio': ratios})
    if worker is not None:
        out.update({'version': worker.version, 'file': worker.path, 'info': worker.info})
    return out


def print_table(machine, a, rows):
    print(f'mnet vs peers: {machine["cpu_model"]}, oneDNN ISA {machine["cpu_isa"]}, {a.threads} threads, '
          f'{a.rounds} rounds ({a.runs} runs at batch 1, {a.batch_runs} at larger batches per round)')
    print(f'{"model":34} {"prec":5} {"batch":>5}  {"runtime":24} {"ms (median)":>11} {"images/s":>9}  '
          f'{"mnet/peer time":>14}  {"range":>11}  note')
    for r in rows:
        ratio = f'{r["mnet_over_peer"]:.3f}x' if 'mnet_over_peer' in r else ''
        spread = f'{r["ratio_min"]:.2f}-{r["ratio_max"]:.2f}' if 'mnet_over_peer' in r else ''
        note = r.get('info', {}).get('note', '')
        print(f'{r["model"]:34} {r["precision"]:5} {r["batch"]:>5}  {r["runtime"]:24} {r["median_ms"]:>11.3f} '
              f'{r["images_per_s"]:>9.1f}  {ratio:>14}  {spread:>11}  {note}')
    print('mnet/peer time: median over rounds of (mnet median / peer median) in the same round; < 1 = mnet faster')


def main(argv):
    a = parse_args(argv)
    mnet = MnetBench(a.mnet, a.threads)
    configs = configurations(a)
    workers = start_workers(a, configs)
    results = {(c['model'], c['precision'], c['batch'], lbl): [] for c in configs
               for lbl in ['mnet'] + [p[1] for p in c['peers']]}
    try:
        for r in range(a.rounds):
            log(f'round {r + 1}/{a.rounds}')
            run_round(a, r, configs, workers, mnet, results)
    finally:
        for w in workers.values():
            w.close()
    rows = summarize(configs, workers, results, mnet)
    machine = mnet.machine()
    machine.update({'python': platform.python_version(), 'cpu_flags': cpu_flags()})
    print_table(machine, a, rows)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'machine': machine, 'settings': vars(a), 'rows': rows}, f, indent=1)
        log(f'wrote {a.json}')
    return 0


def cpu_flags():
    """The SIMD flags of /proc/cpuinfo that decide which kernels any of these runtimes can use."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = next(line for line in f if line.startswith('flags')).split(':')[1].split()
    except (OSError, StopIteration):
        return []
    return sorted(f for f in flags if f.startswith(('avx', 'amx', 'fma', 'sse4', 'f16c', 'vnni')))


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
