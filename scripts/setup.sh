#!/usr/bin/env bash
# One step from a fresh Debian 12 machine to a working mnet: dependencies, build, the default model and a
# sample photo (samples/dog.jpg).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
scripts/fetch_models.sh mobilenet_v2_1.0_224_quant
scripts/fetch_sample.sh
