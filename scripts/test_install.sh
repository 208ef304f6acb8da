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
  want=$(build/mnet classify -m "$model" -k 1 --json "$image" | jq -r '.predictions[0].index')
  for example in "$tmp/cmake/classify" "$tmp/classify-pc"; do
    got=$("$example" "$model" "$image" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
      echo "test_install: FAIL: $(basename "$example") says class $got for $image, mnet classify $want"; status=1
    fi
  done
done
# 3. The installed command line (when the CLI was built): `mnet models` lists the zoo from
# share/mnet/models/zoo.json, and a zoo model that is not fetched gets the fetch hint, not "not found".
checked_cli=""
if [ -x "$prefix/bin/mnet" ]; then
  empty="$tmp/empty-data"  # no models of the user's in the way
  mkdir -p "$empty"
  run_installed() { (cd "$tmp" && env -u MNET_MODEL_DIR XDG_DATA_HOME="$empty" "$prefix/bin/mnet" "$@"); }
  [ -f "$prefix/share/mnet/models/zoo.json" ] || { echo "test_install: FAIL: share/mnet/models/zoo.json not installed"; status=1; }
  want_zoo=$(jq -r '[.models[].name] | sort | join(" ")' models/zoo.json)
  got_zoo=$(run_installed models --json | jq -r '[.models[].name] | sort | join(" ")') || got_zoo="(mnet models failed)"
  if [ "$got_zoo" != "$want_zoo" ]; then
    echo "test_install: FAIL: installed 'mnet models' lists '$got_zoo', zoo.json has '$want_zoo'"; status=1
  fi
  zoo_name=$(jq -r '.models[0].name' models/zoo.json)
  hint=$(run_installed info -m "$zoo_name" 2>&1 >/dev/null) && hint_status=0 || hint_status=$?
  if [ "$hint_status" -ne 3 ] || [[ "$hint" != *"is not fetched yet: run "*"fetch_models.sh $zoo_name"* ]]; then
    echo "test_install: FAIL: installed 'mnet info -m $zoo_name' says (status $hint_status): $hint"; status=1
  fi
  checked_cli=", the installed mnet lists the zoo's $(jq '.models | length' models/zoo.json) models"
fi
[ $status -ne 0 ] || echo "test_install: ok: installed, examples/ built with find_package(mnet) and pkg-config, top-1 = mnet classify's on $(ls "$images" | wc -l) photos$checked_cli"
exit $status
