#!/usr/bin/env bash
# Configures and builds mnet into build/ (Release). Extra arguments go to the CMake configure step.
# MNET_WERROR=ON (as .ci/run sets it) turns every compiler warning into an error.
set -euo pipefail
cd "$(dirname "$0")/.."
werror=()
[ -z "${MNET_WERROR:-}" ] || werror=(-DMNET_WERROR="$MNET_WERROR")
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${werror[@]}" "$@" > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j"$(nproc)" >> build.log 2>&1 || { tail -60 build.log; exit 1; }
echo "build: ok (build/mnet, build/mnet-convert; log in build.log)"
