// SPDX-License-Identifier: Apache-2.0
// What `mnet quantize` did to each layer: the float model in fp32 against the quantized one in int8, layer by layer,
// on the calibration images, so a user sees which layer quantization broke.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mnet/model.h"

namespace mnet::cli {

struct LayerError {
    std::string name;      // the activation (a node's output)
    double cosine = 1.0;   // cosine similarity of the fp32 and int8 values over all compared images
    double rel_error = 0;  // ||int8 - fp32|| / ||fp32|| over all compared images
};

struct QuantizeReport {
    std::vector<LayerError> layers;  // in execution order
    size_t images = 0;
    size_t top1_agree = 0;  // images whose int8 top-1 class is the fp32 one
};

// Runs `float_model` in fp32 and `quantized` in int8, each with every node output exposed, on `images` (each one
// preprocessed image, the model's input size) and compares every activation they share.
QuantizeReport compare_quantized(const std::shared_ptr<const Model>& float_model,
                                 const std::shared_ptr<const Model>& quantized,
                                 const std::vector<std::vector<float>>& images, int threads);

// The report as a table on standard output: one row per layer, the three worst marked, then top-1 agreement.
void print_quantize_report(const QuantizeReport& report);

}  // namespace mnet::cli
