// SPDX-License-Identifier: Apache-2.0
// The shared real models, converted once per test process, and their reference outputs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mnet/model.h"

namespace mnet::test {

struct ReferenceImage {
    std::string stem;
    std::string image_path;     // the photo
    std::string input_path;     // <stem>.input.f32
    std::string probs_path;     // <stem>.probs.f32
    std::string feature_path;   // <stem>.feature.f32, or empty
};

struct SharedModel {
    std::string name;           // folder under shared/models and shared/testdata/reference
    std::string source;         // the upstream file the importer reads
    std::vector<ReferenceImage> images;
};

// The TFLite models of ../shared, with their reference images.
std::vector<SharedModel> shared_tflite_models();

// Converts `m` with mnet-convert into a per-process temporary folder (once) and returns the manifest path.
std::string converted_manifest(const SharedModel& m);

}  // namespace mnet::test
