#!/usr/bin/env bash
# Installs every build, test and tool dependency of mnet from Debian 12 packages. Idempotent: packages already
# present are left alone, and apt is not touched at all when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config            # toolchain, CMake + CTest
  libdnnl-dev                                 # oneDNN 2.6: the compute engine
  ocl-icd-opencl-dev                          # Debian's oneDNN CMake config requires OpenCL (its GPU runtime);
                                              # only recommended by libdnnl-dev, so named here
  libopencv-dev                               # OpenCV 4.6: image decoding and resizing
  libcli11-dev nlohmann-json3-dev catch2      # command line, JSON, tests
  libflatbuffers-dev flatbuffers-compiler     # TFLite importer
  libhdf5-dev                                 # Keras .h5 importer
  libzip-dev                                  # Keras 3 .keras archives (zip) read in memory (checked, CRC-verified)
  libonnx-dev libprotobuf-dev                 # ONNX importer: onnx-ml.pb.h (built for Debian's protobuf 3.21)
  libjpeg-dev libpng-dev                      # JPEG and PNG decoding; tests: writing CMYK/YCCK JPEG fixtures
  jq curl ca-certificates                     # model fetching: zoo manifest, downloads
  clang libclang-rt-14-dev llvm               # fuzzing (tools/fuzz.sh): clang 14, its libFuzzer + sanitizer
                                              # runtimes (libclang_rt.fuzzer), llvm-symbolizer for stack traces
  slurmctld slurmd slurm-client munge         # tests/cli/test_slurm.sh: a single-node Slurm cluster it starts
                                              # itself (no service is enabled or started by installing them)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install_deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
