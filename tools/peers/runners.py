# SPDX-License-Identifier: Apache-2.0
"""The two kinds of runner peers.py alternates: mnet (`mnet bench --json`, one process per round) and a peer
runtime (worker.py, one long-lived process per configuration holding its session)."""
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def median(values):
    return float(statistics.median(values))


class MnetBench:
    """`mnet bench` on the mnet conversion of a shared model, at the given thread count."""

    def __init__(self, binary, threads):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f'peers: {binary} is not an executable mnet: build first (scripts/build.sh)')
        self.binary = binary
        self.threads = threads
        self.header = None
        self.threads_used = {}  # (model, precision, batch) -> the threads the session ran (bench's threads_used)

    def run(self, model, precision, batches, runs, batch_runs, warmup):
        """Median ms per batch size. Batch 1 and the larger batches run in separate processes so that each gets
        its own count of timed runs."""
        out = {}
        groups = [([b for b in batches if b == 1], runs), ([b for b in batches if b != 1], batch_runs)]
        for group, n in groups:
            if group:
                out.update(self._bench(model, precision, group, n, warmup))
        return out

    def _bench(self, model, precision, batches, runs, warmup):
        cmd = [self.binary, 'bench', '-m', model, '--precision', precision, '-t', str(self.threads),
               '-n', str(runs), '--warmup', str(warmup), '--json', '-b', *map(str, batches)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f'peers: {" ".join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}')
        out = {}
        for line in proc.stdout.splitlines():
            obj = json.loads(line)
            if obj.get('type') == 'header':
                self.header = obj
            elif obj.get('type') == 'result':
                out[obj['batch']] = obj['latency_ms']['median']
                self.threads_used[(model, precision, obj['batch'])] = obj.get('threads_used', obj['threads'])
        missing = [b for b in batches if b not in out]
        if missing:
            raise SystemExit(f'peers: {" ".join(cmd)} gave no result for batch {missing}')
        return out

    def machine(self):
        h = self.header or {}
        return {key: h.get(key) for key in ('cpu_model', 'cpu_isa', 'cpus', 'mnet_version', 'onednn_version')}


class PeerWorker:
    """One worker.py process: the session is made at start; run() asks for one round's timed runs."""

    def __init__(self, runtime, label, path, batch, threads, precision):
        self.label, self.path = label, path
        cmd = [sys.executable, os.path.join(HERE, 'worker.py'), '--runtime', runtime, '--model', path,
               '--batch', str(batch), '--threads', str(threads), '--precision', precision]
        # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" on stderr: not ours to show.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        hello = self._reply()
        self.version, self.info = hello['version'], hello['info']
        self.session_ms, self.first_run_ms = hello['session_ms'], hello['first_run_ms']

    def _reply(self):
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f'peers: the {self.label} worker on {self.path} ended without answering')
        obj = json.loads(line)
        if 'error' in obj:
            raise SystemExit(f'peers: {obj["error"]}')
        return obj

    def run(self, runs, warmup):
        self.proc.stdin.write(f'{runs} {warmup}\n')
        self.proc.stdin.flush()
        return median(self._reply()['times_ms'])

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('quit\n')
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            self.proc.wait()
