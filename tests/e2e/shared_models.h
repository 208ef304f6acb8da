// SPDX-License-Identifier: Apache-2.0
// The shared real models, converted once per test process, and their reference outputs.
#pragma once

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "mnet/model.h"
#include "mnet/tensor.h"
#include "support/test_data.h"

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

// The reference inputs of all of `m`'s images, in order, as one batch for `model` (batch = m.images.size()).
// Throws when a reference input is not one image of the model's input shape. Inline: the CLI tests link
// shared_models.cpp without the library.
inline Tensor reference_batch(const SharedModel& m, const Model& model) {
    Shape shape = model.input_shape();
    shape[0] = static_cast<int64_t>(m.images.size());
    Tensor input(shape);
    const size_t per_image = input.data.size() / m.images.size();
    auto at = input.data.begin();
    for (const ReferenceImage& image : m.images) {
        const std::vector<float> one = read_f32_file(image.input_path);
        if (one.size() != per_image) {
            throw std::runtime_error(image.input_path + ": " + std::to_string(one.size()) + " values, one input has " +
                                     std::to_string(per_image));
        }
        at = std::copy(one.begin(), one.end(), at);
    }
    return input;
}

}  // namespace mnet::test
