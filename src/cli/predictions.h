// SPDX-License-Identifier: Apache-2.0
// From a classification output to ranked, labelled predictions, and their text and JSON forms.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mnet/model.h"
#include "mnet/predict.h"  // Prediction, top_k, label_of: the library's, as embedders get them

namespace mnet::cli {

// One JSON line: {"file":..., "precision":..., "predictions":[{"index":..,"label":..,"probability":..}, ...]},
// "precision" ("int8" or "fp32", what ran) only when given.
std::string predictions_json(const std::string& file, const std::vector<Prediction>& predictions,
                             const char* precision = nullptr);
// One JSON line: {"file":..., "error":...}.
std::string error_json(const std::string& file, const std::string& error);

// Display width of UTF-8 text in terminal columns (wide CJK characters count two), for aligned tables.
size_t display_width(const std::string& utf8);

}  // namespace mnet::cli
