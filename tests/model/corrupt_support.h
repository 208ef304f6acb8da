// SPDX-License-Identifier: Apache-2.0
// The corrupt-model suite's starting points (a real converted MobileNet and a small model using every op) and the
// one check every case makes: the loader either accepts the file (and a Session then runs it) or throws mnet::Error
// with the expected code and message. Any other exception fails the test; a crash or hang fails the executable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mnet/error.h"
#include "mnet/model.h"

namespace mnet::test {

using json = nlohmann::json;

// What load_model_from_memory names the model in errors: every rejection must name it.
constexpr const char* kWhere = "corrupt.json";

struct ModelFiles {
    std::string manifest;          // the manifest's text
    std::vector<uint8_t> weights;  // the weights file's bytes
};

// Input 1x3x8x8 through conv2d (per-channel quantized weights, u8 saturation), depthwise, pointwise, add, mul by a
// constant, activation, identity, max_pool, avg_pool, global_avg_pool, reshape, fully_connected and softmax;
// 5 labels. Written by ModelWriter. Tensor and node indices are listed in corrupt_support.cpp.
ModelFiles small_model();

// mobilenet_v1_0.75_192_quant from ../shared, converted by the built mnet-convert once per process.
const ModelFiles& real_model();
std::string real_manifest_path();

json parse(const ModelFiles& m);
ModelFiles with_manifest(const ModelFiles& m, const json& manifest);
// Restates weights.size and weights.crc32c for the current weights bytes, so that a corruption of the weights
// reaches the checks behind the checksum.
ModelFiles refresh_checksum(ModelFiles m);

struct Outcome {
    bool loaded = false;
    std::shared_ptr<const Model> model;
    ErrorCode code = ErrorCode::Internal;
    std::string message;
};

// Loads from memory as kWhere. Any exception other than mnet::Error is a test failure.
Outcome load_outcome(const std::string& manifest, const std::vector<uint8_t>& weights);
Outcome load_outcome(const ModelFiles& m);
Outcome load_outcome_from_file(const std::string& manifest_path);

// Requires a rejection with `code`, `substring` in the message, and the message naming `names` (the manifest).
void require_rejected(const Outcome& o, ErrorCode code, const std::string& substring,
                      const std::string& names = kWhere);
void require_rejected(const ModelFiles& m, ErrorCode code, const std::string& substring);
void require_rejected(const std::string& manifest, const std::vector<uint8_t>& weights, ErrorCode code,
                      const std::string& substring);
void require_rejected(const json& manifest, const std::vector<uint8_t>& weights, ErrorCode code,
                      const std::string& substring);

// Builds a batch-1 Session and runs it once on a fixed input; requires an output of the declared shape.
void require_runs(const std::shared_ptr<const Model>& model);

}  // namespace mnet::test
