#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Compares `mnet quantize --calibration` methods on float models: each method's int8 model against the float model
# in fp32 on the same photos (top-1 agreement; per image the largest |delta probability| over all classes, its mean
# and max over the photos). Two protocols: calibrated on all photos and scored on them (in-sample), and
# leave-one-out (calibrated on the other photos, scored on the one left out). Standard library only; prints a
# Markdown table for docs/int8.md.
#   scripts/compare_calibration.py --mnet build/mnet --photos ../shared/testdata/images MODEL.json...
import argparse
import json
import os
import subprocess
import sys
import tempfile

METHODS = [
    ("minmax", []),
    ("percentile 99.999", ["--calibration", "percentile", "--percentile", "99.999"]),
    ("percentile 99.99", ["--calibration", "percentile", "--percentile", "99.99"]),
    ("percentile 99.9", ["--calibration", "percentile", "--percentile", "99.9"]),
    ("entropy", ["--calibration", "entropy"]),
]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr))
    return r.stdout


def probabilities(mnet, model, photos, precision):
    """file name -> probability per class index."""
    out = run([mnet, "classify", "--json", "-k", "100000", "--precision", precision, "-m", model] + photos)
    result = {}
    for line in out.splitlines():
        rec = json.loads(line)
        probs = {p["index"]: p["probability"] for p in rec["predictions"]}
        result[os.path.basename(rec["file"])] = probs
    return result


def quantize(mnet, model, calibration_dir, out, flags):
    run([mnet, "quantize", "-m", model, "--calibrate", calibration_dir, "-o", out, "--report-images", "0"] + flags)


def score(reference, quantized):
    """(top-1 agreements, per-image max |delta p|) over the files of `quantized`."""
    agree, deltas = 0, []
    for name, q in quantized.items():
        f = reference[name]
        agree += max(f, key=f.get) == max(q, key=q.get)
        deltas.append(max(abs(f[c] - q.get(c, 0.0)) for c in f))
    return agree, deltas


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mnet", required=True)
    ap.add_argument("--photos", required=True)
    ap.add_argument("--methods", help="comma-separated rows of the method column to run (default: all)")
    ap.add_argument("models", nargs="+", help="float model manifests (.json)")
    args = ap.parse_args()
    methods = [m for m in METHODS if not args.methods or m[0] in args.methods.split(",")]
    photos = sorted(os.path.join(args.photos, p) for p in os.listdir(args.photos))
    print("| model | method | top-1 = fp32 (in-sample) | mean / max \\|Δprob\\| (in-sample) "
          "| top-1 = fp32 (leave-one-out) | mean / max \\|Δprob\\| (leave-one-out) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for model in args.models:
        reference = probabilities(args.mnet, model, photos, "fp32")
        name = os.path.splitext(os.path.basename(model))[0]
        for method, flags in methods:
            with tempfile.TemporaryDirectory() as tmp:
                q = os.path.join(tmp, "q.json")
                quantize(args.mnet, model, args.photos, q, flags)
                agree, deltas = score(reference, probabilities(args.mnet, q, photos, "int8"))
                loo_agree, loo_deltas = 0, []
                for held_out in photos:
                    calib = os.path.join(tmp, "calib")
                    os.makedirs(calib, exist_ok=True)
                    for p in photos:
                        if p != held_out:
                            os.symlink(os.path.abspath(p), os.path.join(calib, os.path.basename(p)))
                    quantize(args.mnet, model, calib, q, flags)
                    a, d = score(reference, probabilities(args.mnet, q, [held_out], "int8"))
                    loo_agree += a
                    loo_deltas += d
                    for p in os.listdir(calib):
                        os.remove(os.path.join(calib, p))
            n = len(photos)
            print("| %s | %s | %d of %d | %.3f / %.3f | %d of %d | %.3f / %.3f |" % (
                name, method, agree, n, sum(deltas) / n, max(deltas), loo_agree, n, sum(loo_deltas) / n,
                max(loo_deltas)), flush=True)


if __name__ == "__main__":
    main()
