// SPDX-License-Identifier: Apache-2.0
// Small Keras models for the Keras importer's tests: described here in Keras' own terms (NHWC, channels_last
// kernels), written out as TF.js layers folders or .h5 files, and run by a naive NHWC implementation of the Keras
// layers that shares nothing with the importer, so a transposition or padding bug shows as a mismatch.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "mnet/tensor.h"

namespace mnet::test::keras {

using json = nlohmann::json;

// A dense array in Keras layout, row-major: activations [H, W, C] or [K], kernels as Keras stores them.
struct Array {
    std::vector<int64_t> shape;
    std::vector<double> v;
};

struct Layer {
    std::string cls;                  // Keras class name, e.g. "Conv2D"
    std::string name;
    json config = json::object();     // the layer config without "name"
    std::vector<std::string> inputs;  // inbound layer names (Functional); empty: the previous layer
    std::vector<std::pair<std::string, Array>> weights;  // ("kernel", ...) in manifest order
    std::vector<Layer> layers;        // the layers of a nested "Sequential"
};

struct KerasModel {
    std::string cls = "Functional";   // or "Sequential"
    std::string name = "model";
    std::string input_name = "input_1";
    std::vector<int64_t> input_hwc = {16, 16, 3};
    std::vector<Layer> layers;        // in call order; the InputLayer is implied
    std::string output;               // Functional: the output layer (default: the last)
    bool keras3_nodes = false;        // write Keras 3's {"args": ...} inbound_nodes instead of Keras 2's lists
};

// Layer builders with seeded random weights (gamma, variance > 0).
class Builder {
public:
    explicit Builder(uint32_t seed) : rng_(seed) {}
    Array random(std::vector<int64_t> shape, double lo, double hi);
    Layer conv(const std::string& name, int64_t in_c, int64_t filters, int64_t k, int64_t stride, const std::string& padding,
               bool bias = true, const std::string& activation = "linear");
    Layer depthwise(const std::string& name, int64_t in_c, int64_t k, int64_t stride, const std::string& padding,
                    int64_t multiplier = 1, bool bias = false);
    Layer separable(const std::string& name, int64_t in_c, int64_t filters, int64_t k, const std::string& padding,
                    bool bias = false);
    Layer batch_norm(const std::string& name, int64_t channels, double epsilon = 1e-3);
    Layer dense(const std::string& name, int64_t in, int64_t units, const std::string& activation = "linear",
                bool bias = true);

private:
    std::mt19937 rng_;
};

// Weightless layers.
Layer relu(const std::string& name, const json& max_value = nullptr);
Layer activation(const std::string& name, const std::string& kind);
Layer simple(const std::string& cls, const std::string& name, json config = json::object(),
             std::vector<std::string> inputs = {});
Layer sequential(const std::string& name, std::vector<Layer> layers);

// The Keras topology JSON ({"class_name", "config"}).
json topology(const KerasModel& m);

struct TfjsOptions {
    std::string quantize;  // "uint8" or "uint16": store weights so, with {min, scale}; `m` gets the dequantized values
    int shards = 1;               // split the weights over this many .bin files
    json metadata;                // written as metadata.json when not null
};
// Writes dir/model.json and its weight files.
void write_tfjs(KerasModel& m, const std::string& dir, const TfjsOptions& options = {});
// Writes a Keras 2 style .h5: root attribute model_config, datasets model_weights/<layer>/<layer>/<name>:0.
void write_h5(const KerasModel& m, const std::string& path);

// The naive NHWC reference: runs `m` on an [H, W, C] input and returns the output in Keras layout.
Array run_naive(const KerasModel& m, const Array& input);

// Converts `src` (a TF.js folder or .h5) with the importer into dir/model.json, runs it with mnet::Session on
// `input` and returns every output in our layout (NCHW maps), with the batch dimension.
std::vector<Tensor> convert_and_run(const std::string& src, const std::string& dir, const Array& input);

// NHWC [H, W, C] -> our NCHW order (a vector stays as it is).
std::vector<double> to_nchw(const Array& a);
// max |a - b| / max(1, max |b|).
double max_rel_diff(const std::vector<float>& ours, const std::vector<double>& ref);

}  // namespace mnet::test::keras
