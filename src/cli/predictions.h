// SPDX-License-Identifier: Apache-2.0
// From a classification output to ranked, labelled predictions, and their text and JSON forms.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mnet/model.h"

namespace mnet::cli {

struct Prediction {
    int64_t index = 0;
    std::string label;
    float probability = 0.f;
};

// The k most probable classes of one image's scores (`count` values; logits go through a softmax first),
// highest first; ties keep the lower index first.
std::vector<Prediction> top_k(const Model& model, const float* scores, int64_t count, int k);

// The label of class `index`, or "class <index>" when the model has no labels.
std::string label_of(const Model& model, int64_t index);

// One JSON line: {"file":..., "model":..., "predictions":[{"index":..,"label":..,"probability":..}, ...],
// "precision":...} ("int8" or "fp32", what ran).
std::string predictions_json(const std::string& file, const std::string& model,
                             const std::vector<Prediction>& predictions, const char* precision);
// One JSON line: {"file":..., "model":..., "error":...}.
std::string error_json(const std::string& file, const std::string& model, const std::string& error);
// One JSON line: {"file":..., "model":..., "output":..., "features":[...]} (a feature vector, --features).
std::string features_json(const std::string& file, const std::string& model, const std::string& output,
                          const float* values, int64_t count);

// Display width of UTF-8 text in terminal columns (wide CJK characters count two), for aligned tables.
size_t display_width(const std::string& utf8);

}  // namespace mnet::cli
