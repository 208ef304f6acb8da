#!/usr/bin/env bash
# Runs one libFuzzer target for a given time: tools/fuzz.sh TARGET SECONDS [libFuzzer flags...]
# TARGET is model, tflite, keras, image or onnx (tests/fuzz/fuzz_TARGET.cpp; docs/fuzzing.md). The script builds the
# fuzzers with clang, ASan and UBSan into build-fuzz/ (incrementally), writes the seed corpus from the real files in
# $MNET_TEST_DATA (default ../shared), fuzzes, and prints executions and coverage. Under build-fuzz/fuzz/TARGET/:
#   seeds/    the seed corpus, rebuilt each run (seeds-large/: the ones left out)
#   corpus/   what the fuzzer found, kept across runs
#   crashes/  reproducers of findings (crash-*, oom-*, timeout-*, leak-*)      run.log   libFuzzer's output
# A reproducer re-runs with build-fuzz/fuzz/fuzz_TARGET FILE; once fixed, commit it to tests/fuzz/regressions/TARGET/.
# Environment: MNET_TEST_DATA, MNET_FUZZ_BUILD (default build-fuzz), MNET_FUZZ_LARGE_SEEDS=1 (see below).
# Exit status: 0 when the run ended with no finding, 1 when it found one, 2 for a usage or build error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
targets="model tflite keras image onnx"
# The image target's decompression-bomb limit must hold below this (docs/fuzzing.md); the others fit easily.
rss_limit_mb=2048
# One input taking this long is a hang. The slowest real seed takes a few seconds under ASan; the margin is for
# libFuzzer's wall clock on a loaded or paused machine (a re-run of a timeout-* file tells a real hang apart).
timeout_s=300
slow_unit_s=60

usage() { echo "usage: tools/fuzz.sh TARGET SECONDS [libFuzzer flags...]  (TARGET: ${targets// /, })" >&2; exit 2; }
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
[[ " $targets " == *" $target "* ]] || usage
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage

build="${MNET_FUZZ_BUILD:-$root/build-fuzz}"
shared="${MNET_TEST_DATA:-$root/../shared}"
[ -d "$shared/models" ] && [ -d "$shared/testdata" ] ||
  { echo "fuzz: shared data not found at '$shared' (set MNET_TEST_DATA)" >&2; exit 2; }
command -v clang++ > /dev/null || { echo "fuzz: clang++ not found (scripts/install_deps.sh installs it)" >&2; exit 2; }

# -O1 -g without NDEBUG: readable stack traces, and our own asserts stay on. A lock lets runs of different targets
# start at the same time: one builds while the other waits.
mkdir -p "$build"
log="$build/fuzz-build-$target.log"
(
  flock 9
  : > "$log"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DMNET_FUZZ=ON -DMNET_BUILD_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" >> "$log" 2>&1
  fi
  cmake --build "$build" --target "fuzz_$target" mnet-fuzz-seeds -j"${MNET_BUILD_JOBS:-2}" >> "$log" 2>&1
) 9> "$build/.fuzz-build.lock" || { tail -40 "$log"; echo "fuzz: build failed (log: $log)" >&2; exit 2; }

work="$build/fuzz/$target"
rm -rf "$work/seeds" "$work/seeds-large"
mkdir -p "$work/seeds" "$work/seeds-large" "$work/corpus" "$work/crashes"
"$build/fuzz/mnet-fuzz-seeds" "$target" "$work/seeds" "$shared"
# A whole real model (megabytes) runs a few times a second and nearly all mutations of it land in its weights, so
# by default libFuzzer gets only the seeds under 1 MiB: the cut-down models and the photos. The regression tests
# run the whole models; MNET_FUZZ_LARGE_SEEDS=1 gives them to libFuzzer too.
if [ "${MNET_FUZZ_LARGE_SEEDS:-0}" != 1 ]; then
  find "$work/seeds" -type f -size +1M -exec mv -t "$work/seeds-large" {} +
fi
# libFuzzer would cut every input to 1 MiB unless told otherwise; the real models are larger.
max_len=$(find "$work/seeds" "$work/corpus" -type f -printf '%s\n' | sort -n | tail -1)

# OpenCV: one thread (the fuzzer runs one input at a time) and no warnings about the corrupt images it is fed.
export OPENCV_FOR_THREADS_NUM=1 OPENCV_LOG_LEVEL=SILENT
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
# libFuzzer's malloc limit defaults to the RSS limit. libhdf5 mallocs sizes read from the file that it never
# touches (tests/fuzz/fuzz_keras.cpp), so the Keras target is held to its RSS alone.
limits=(-rss_limit_mb=$rss_limit_mb)
[ "$target" != keras ] || limits+=(-malloc_limit_mb=$((1 << 20)))
echo "fuzz: $target for ${seconds}s (log: $work/run.log)"
status=0
# New inputs go to corpus/ (the first folder); seeds/ is read only.
"$build/fuzz/fuzz_$target" -max_total_time="$seconds" "${limits[@]}" -timeout=$timeout_s \
  -max_len="$max_len" -report_slow_units=$slow_unit_s -print_final_stats=1 -artifact_prefix="$work/crashes/" "$@" \
  "$work/corpus" "$work/seeds" > "$work/run.log" 2>&1 || status=$?

# libFuzzer's last status line ("#123 DONE cov: 456 ft: 789 corp: 12/3456Kb ...") and final stats.
last=$(grep -E '^#[0-9]+' "$work/run.log" | tail -1 || true)
stat() { sed -n "s/^stat::$1: *//p" "$work/run.log" | tail -1; }
field() { sed -n "s/.* $1: \([^ ]*\).*/\1/p" <<< "$last"; }
echo "fuzz: target=$target seconds=$seconds executions=$(stat number_of_executed_units) exec/s=$(stat average_exec_per_sec)" \
  "cov=$(field cov) ft=$(field ft) corpus=$(field corp) peak_rss_mb=$(stat peak_rss_mb)"
if [ "$status" -ne 0 ]; then
  grep -E '^(==[0-9]+==ERROR|SUMMARY|terminate called|  what\(\)|.*runtime error:|artifact_prefix|Test unit written)' \
    "$work/run.log" | head -20 >&2 || true
  echo "fuzz: FINDING (libFuzzer exit $status); reproducers in $work/crashes/, full report in $work/run.log" >&2
  exit 1
fi
echo "fuzz: no finding"
