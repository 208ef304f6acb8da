#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mnet against LiteRT (XNNPACK), ONNX Runtime and OpenVINO, alternated round by round; prints the table.
#
#   tools/peers/run.sh [--rounds N] [--runs N] [--batch-runs N] [--threads T] [--batch B...] [--models v2 v3s]
#                      [--precision int8 fp32] [--runtimes litert ort openvino] [--json FILE]
#
# Sets up a Python venv from tools/peers/requirements.txt ($PEERS_VENV, default build/peers-venv; PyPI only),
# builds nothing: build/mnet must exist (scripts/build.sh). Fetches the mnet conversions of the shared models
# (scripts/fetch_models.sh) and makes the peers' batch and QDQ twins into build/peers/ once. The shared folder is
# $MNET_TEST_DATA (default ../shared). Run it on a quiet machine: every number is a ratio from the same minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=${PEERS_VENV:-$root/build/peers-venv}
req=tools/peers/requirements.txt

if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
  echo "peers: setting up $venv from $req" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$venv/requirements.txt"
fi
[ -x build/mnet ] || { echo "peers: build/mnet not found: run scripts/build.sh first" >&2; exit 1; }
for model in mobilenet_v2_1.0_224_quant mobilenet_v3_small_1.0_224_uint8; do
  [ -f "models/$model/$model.json" ] || scripts/fetch_models.sh "$model" >&2
done
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
exec "$venv/bin/python" tools/peers/peers.py "$@"
