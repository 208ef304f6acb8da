#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""How close `mnet batch` comes to the rate its per-image CPU cost allows (issue 19's batch goal).

A measuring tool around the product (Python standard library only; nothing in mnet depends on it):

1. Builds a photo set: COUNT symbolic links cycling over the images of --images (default: the shared test
   photos), named NNNN_<photo>, plus a set of COUNT/5 the same way. Links, not copies: every run reads the same
   few files from the page cache, so file reading costs nothing measurable either way, as in a warm real run.
2. Measures CPU costs in CPU-seconds per image, from the rusage (user + sys) of each child process, as the
   difference of two runs of different lengths so start-up, model load and session creation cancel out:
     total   = (cpu(batch -j 1 -t 1 over COUNT) - cpu(same over COUNT/5)) / (COUNT - COUNT/5)
               decoding + preprocessing + the pipeline's hand-over + inference, each on one thread
     infer   = (cpu(bench -b B -t 1 -n N2) - cpu(same -n N1)) / ((N2 - N1) * B)   inference alone, one thread
     decode  = total - infer
   CPU time, unlike wall time, hardly changes when other processes share the machine.
3. possible rate = cores / (decode + infer)   [images/s; cores = this process's CPU affinity]
   i.e. every core busy with useful work all the time; no schedule of the same work can beat it.
4. Runs `mnet batch` with the defaults and the obvious -j/-t/-b alternatives, alternated round by round, and
   prints per configuration the median images/s (mnet's own summary: without session setup), the ratio to the
   possible rate, the cores the run kept busy (its CPU-seconds / wall seconds) and its CPU-seconds per image
   (start-up included; above decode + infer when threads spin at barriers instead of sleeping).

Wall-clock rates are only meaningful on a quiet machine: the load average is printed before and after.

    tools/bench/batch_rate.py --mnet build/mnet --rounds 3
    tools/bench/batch_rate.py --jpeg-decode scaled     # the same for the opt-in DCT-scaled JPEG decoding
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SUMMARY = re.compile(r"mnet: batch: (\d+) images?, (\d+) failed, ([0-9.]+) images/s, wall time ([0-9.]+) s")

# Each configuration: a name, extra `mnet batch` arguments, extra environment.
CONFIGS = [
    ("default", [], {}),
    ("-j 1 -t 1", ["-j", "1", "-t", "1"], {}),
    ("-j 2 -t 1", ["-j", "2", "-t", "1"], {}),
    ("-j 1 -t 2", ["-j", "1", "-t", "2"], {}),
    ("-j 2 -t 2", ["-j", "2", "-t", "2"], {}),
    ("-j 2 -t 2 passive", ["-j", "2", "-t", "2"], {"OMP_WAIT_POLICY": "passive"}),
    ("-b 16", ["-b", "16"], {}),
    ("-b 32", ["-b", "32"], {}),
]


def run(cmd, env=None):
    """Runs cmd; returns (stdout, stderr, wall seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate()
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"batch_rate: {' '.join(cmd)} exited {proc.returncode}: {err.decode(errors='replace').strip()}")
    return out.decode(), err.decode(), wall


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, env=None):
    """(stdout, stderr, CPU-seconds, wall seconds) of one child run: the growth of RUSAGE_CHILDREN (user + sys)
    across it, since children run one at a time and each is reaped before the next starts."""
    before = child_cpu()
    out, err, wall = run(cmd, env)
    return out, err, child_cpu() - before, wall


def make_set(folder, images, count):
    os.makedirs(folder)
    width = len(str(count - 1))
    for i in range(count):
        src = images[i % len(images)]
        os.symlink(src, os.path.join(folder, f"{i // len(images):0{width}d}_{os.path.basename(src)}"))


def env_with(extra):
    env = dict(os.environ)
    env.update(extra)
    return env


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mnet", default="build/mnet", help="the mnet binary (default build/mnet)")
    ap.add_argument("-m", "--model", default="mobilenet_v2_1.0_224_quant")
    default_images = os.path.join(os.environ.get("MNET_TEST_DATA", "/work/shared"), "testdata", "images")
    ap.add_argument("--images", default=default_images, help="folder of photos to cycle over")
    ap.add_argument("--count", type=int, default=1000, help="photos in the set (default 1000)")
    ap.add_argument("-b", "--batch", type=int, default=8, help="batch of the cost measurement (mnet's default 8)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every configuration, alternated (default 3)")
    ap.add_argument("--jpeg-decode", default="exact", choices=["exact", "scaled"],
                    help="passed to every mnet batch run (default exact)")
    ap.add_argument("--configs", default="", help="comma-separated names of CONFIGS to run (default all)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--keep", help="build the photo sets in this folder and keep them (default: a temp folder)")
    args = ap.parse_args()

    mnet = os.path.abspath(args.mnet)
    images = sorted(os.path.join(args.images, n) for n in os.listdir(args.images)
                    if not n.startswith(".") and os.path.isfile(os.path.join(args.images, n)))
    if not images:
        sys.exit(f"batch_rate: no images in {args.images}")
    small = args.count // 5
    if small < len(images) or args.count - small <= 0:
        sys.exit("batch_rate: --count must be at least 5 times the number of images")
    configs = CONFIGS
    if args.configs:
        wanted = [c.strip() for c in args.configs.split(",")]
        configs = [c for c in CONFIGS if c[0] in wanted]
        if len(configs) != len(wanted):
            sys.exit(f"batch_rate: --configs names one of: {', '.join(c[0] for c in CONFIGS)}")

    work = args.keep or tempfile.mkdtemp(prefix="batch_rate.")
    try:
        full, part = os.path.join(work, f"photos{args.count}"), os.path.join(work, f"photos{small}")
        for folder, n in ((full, args.count), (part, small)):
            if not os.path.isdir(folder):
                make_set(folder, images, n)
        cores = len(os.sched_getaffinity(0))
        header = json.loads(run([mnet, "bench", "-m", args.model, "--json", "-n", "1", "--warmup", "0",
                                 "-t", "1"])[0].splitlines()[0])
        version = run([mnet, "--version"])[0].strip()
        print(f"# {version}; CPU {cpu_model()}, oneDNN ISA {header['cpu_isa']}; {cores} cores (affinity)")
        print(f"# model {args.model}; {args.count} photos = links cycling over {len(images)} files in {args.images}")
        print(f"# OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; --jpeg-decode {args.jpeg_decode}; "
              f"load average before: {load_average()}")

        batch = [mnet, "batch", "-m", args.model, "-o", "/dev/null", "--jpeg-decode", args.jpeg_decode]
        bench = [mnet, "bench", "-m", args.model, "-b", str(args.batch), "-t", "1", "--warmup", "2"]
        runs_short, runs_long = 5, 5 + max(1, 400 // args.batch)
        totals, infers = [], []
        for _ in range(args.rounds):
            one_thread = ["-j", "1", "-t", "1", "-b", str(args.batch)]
            cpu_full = timed(batch + one_thread + [full])[2]
            cpu_part = timed(batch + one_thread + [part])[2]
            totals.append((cpu_full - cpu_part) / (args.count - small))
            cpu_long = timed(bench + ["-n", str(runs_long)])[2]
            cpu_short = timed(bench + ["-n", str(runs_short)])[2]
            infers.append((cpu_long - cpu_short) / ((runs_long - runs_short) * args.batch))
        total, infer = statistics.median(totals), statistics.median(infers)
        decode = total - infer
        possible = cores / total
        print(f"# CPU-seconds per image (median of {args.rounds}): decode+preprocess {decode * 1e3:.2f} ms "
              f"(1 thread: {1 / decode:.0f} images/s), inference b{args.batch} {infer * 1e3:.2f} ms "
              f"(1 thread: {1 / infer:.0f} images/s)")
        print(f"# possible = cores / (decode + infer) = {cores} / {total * 1e3:.2f} ms = {possible:.1f} images/s")

        rates = {name: [] for name, _, _ in configs}
        busy = {name: [] for name, _, _ in configs}
        spent = {name: [] for name, _, _ in configs}
        for _ in range(args.rounds):
            for name, extra, env in configs:
                _, err, cpu, wall = timed(batch + extra + [full], env_with(env))
                m = SUMMARY.search(err)
                if not m:
                    sys.exit(f"batch_rate: no summary from mnet batch {' '.join(extra)}: {err.strip()}")
                rates[name].append(float(m.group(3)))
                busy[name].append(cpu / wall)
                spent[name].append(cpu / args.count)
        print(f"{'configuration':<20} {'images/s':>9} {'achieved/possible':>18} {'cores busy':>11} "
              f"{'CPU ms/image':>13}  runs")
        results = []
        for name, _, _ in configs:
            rate = statistics.median(rates[name])
            cpu_ms = statistics.median(spent[name]) * 1e3
            results.append({"config": name, "images_per_s": rate, "ratio": rate / possible,
                            "cores_busy": statistics.median(busy[name]), "cpu_ms_per_image": cpu_ms,
                            "runs": rates[name]})
            print(f"{name:<20} {rate:9.1f} {rate / possible:18.3f} {statistics.median(busy[name]):11.2f} "
                  f"{cpu_ms:13.2f}  " + " ".join(f"{r:.1f}" for r in rates[name]))
        print(f"# load average after: {load_average()}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"version": version, "cpu": cpu_model(), "isa": header["cpu_isa"], "cores": cores,
                           "model": args.model, "count": args.count, "jpeg_decode": args.jpeg_decode,
                           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "batch": args.batch,
                           "decode_cpu_s": decode, "infer_cpu_s": infer, "possible_images_per_s": possible,
                           "results": results}, f, indent=1)
    finally:
        if not args.keep:
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
