#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (the command CI runs), then scripts/test_install.sh. Tests read
# the real models and reference outputs from $MNET_TEST_DATA (default ../shared) and fail, not skip, when it is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# ctest runs tests side by side, so their OpenMP threads outnumber the cores: threads that sleep while waiting,
# instead of spinning, keep an oversubscribed two-thread test from running a hundred times slower.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
# The library as an embedder gets it: installed into a temporary prefix, examples/ built against it.
scripts/test_install.sh
