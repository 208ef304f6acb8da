// SPDX-License-Identifier: Apache-2.0
// The fuzz targets' seed corpora, built from the real files of the shared data folder (models/, testdata/images/)
// each time rather than committed: tools/fuzz.sh writes them out for libFuzzer, and the regression tests feed
// every one through its target.
#pragma once

#include <string>
#include <vector>

namespace mnet::fuzz {

// The fuzz targets: tests/fuzz/fuzz_<name>.cpp.
const std::vector<std::string>& target_names();

struct Seed {
    std::string name;   // a file name for the corpus folder, e.g. "mobilenet_v2_1.0_224_quant.tflite"
    std::string bytes;  // one fuzz input, in the target's input format (see its source)
};

// The seeds for `target` from `shared_dir`:
//   model:  every shared model converted in memory (labels included), as manifest, NUL, weights file;
//   tflite: every .tflite file; keras: every .h5 file, every TF.js folder packed as fuzz_keras.cpp reads it, and
//           the .keras archives of tests/data/zoo;
//   image:  every photo in testdata/images.
// Throws std::runtime_error for an unknown target, a missing folder or no seeds at all; mnet::Error when a
// real model fails to convert.
std::vector<Seed> make_seeds(const std::string& target, const std::string& shared_dir);

}  // namespace mnet::fuzz
