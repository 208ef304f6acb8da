#!/usr/bin/env bash
# The library as an embedder gets it (issue 20): installs build/ into a temporary prefix, builds examples/
# against the installed package twice (find_package(mnet), then pkg-config alone), and checks that the example's
# top-1 equals `build/mnet classify`'s on the shared photos with the default model. Reuses build/ as it is
# (scripts/test.sh runs it after the suite); takes about half a minute, most of it compiling the example twice.
#   scripts/test_install.sh [MODEL_NAME]     (default mobilenet_v2_1.0_224_quant, fetched by scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
name="${1:-mobilenet_v2_1.0_224_quant}"
model="$root/models/$name/$name.json"
images="${MNET_TEST_DATA:-$root/../shared}/testdata/images"
[ -f "$model" ] || { echo "test_install: $model missing: run scripts/fetch_models.sh $name" >&2; exit 1; }
[ -d "$images" ] || { echo "test_install: no photos at $images (set MNET_TEST_DATA)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mnet-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
cmake --install build --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }

# 1. CMake: find_package(mnet) from the prefix.
cmake -S examples -B "$tmp/cmake" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cmake.log" 2>&1 &&
  cmake --build "$tmp/cmake" >> "$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; exit 1; }
# 2. pkg-config alone.
pc_dir=$(dirname "$(find "$prefix" -name mnet.pc | head -1)")
# shellcheck disable=SC2046  # pkg-config's flags are meant to split into words
"${CXX:-c++}" -std=c++17 -O2 examples/classify.cpp -o "$tmp/classify-pc" \
  $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs mnet) 2> "$tmp/pc.log" || { cat "$tmp/pc.log"; exit 1; }

status=0
for image in "$images"/*; do
  want=$(build/mnet classify -m "$model" -k 1 --json "$image" |
         python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["predictions"][0]["index"])')
  for example in "$tmp/cmake/classify" "$tmp/classify-pc"; do
    got=$("$example" "$model" "$image" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
      echo "test_install: FAIL: $(basename "$example") says class $got for $image, mnet classify $want"; status=1
    fi
  done
done
[ $status -ne 0 ] || echo "test_install: ok: installed, examples/ built with find_package(mnet) and pkg-config, top-1 = mnet classify's on $(ls "$images" | wc -l) photos"
exit $status
