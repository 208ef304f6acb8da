// SPDX-License-Identifier: Apache-2.0
// Builds small models in memory for tests: each call appends one node (with seeded random weights where the op has
// weights) and returns the name of the activation it produces; build() writes the model with ModelWriter and loads
// it back with load_model_from_memory, so every test model also passes the loader's validation.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "mnet/model.h"
#include "model/model_def.h"
#include "model/writer.h"

namespace mnet::test {

struct ConvSpec {
    int64_t out_channels = 1;
    int64_t kernel_h = 1, kernel_w = 1;
    int64_t stride_h = 1, stride_w = 1;
    int64_t dilation_h = 1, dilation_w = 1;
    std::array<int64_t, 4> pad{0, 0, 0, 0};  // top, left, bottom, right
    int64_t groups = 1;
    std::string activation = "none";
    bool bias = true;
    float weight_scale = 1.0f;  // multiplies the default weights (variance 1 / fan-in)
};

// A square-kernel convolution: the common case in one line.
ConvSpec conv_spec(int64_t out_channels, int64_t kernel, int64_t stride, std::array<int64_t, 4> pad,
                   int64_t groups = 1, const std::string& activation = "none", int64_t dilation = 1);

class ModelBuilder {
public:
    // The input is [1, 3, height, width] (the graph requires 3 channels), named "input".
    ModelBuilder(int64_t height, int64_t width, uint32_t seed);

    const std::string& input() const { return input_; }
    const Shape& shape(const std::string& value) const;  // batch 1
    std::mt19937& rng() { return rng_; }
    std::vector<float> uniform(size_t n, float lo, float hi);

    std::string conv(const std::string& x, const ConvSpec& spec);
    std::string conv_with(const std::string& x, const ConvSpec& spec, const std::vector<float>& weights,
                          const std::vector<float>& bias);  // explicit weights; bias empty for none
    std::string fully_connected(const std::string& x, int64_t out_channels, const std::string& activation = "none",
                                bool bias = true, float weight_scale = 1.0f);
    std::string fully_connected_with(const std::string& x, int64_t out_channels, const std::vector<float>& weights,
                                     const std::vector<float>& bias);
    // op is "add" or "mul"; b is a second activation.
    std::string binary(const std::string& op, const std::string& a, const std::string& b,
                       const std::string& activation = "none");
    // op is "add" or "mul"; b is a constant of shape `b_shape` with uniform random values in [lo, hi].
    std::string binary_const(const std::string& op, const std::string& a, const Shape& b_shape,
                             const std::string& activation = "none", float lo = -1.0f, float hi = 1.0f);
    std::string binary_const_with(const std::string& op, const std::string& a, const Shape& b_shape,
                                  const std::vector<float>& values, const std::string& activation = "none");
    std::string activation(const std::string& x, const std::string& kind);
    std::string identity(const std::string& x);
    // op is "avg_pool" or "max_pool".
    std::string pool(const std::string& op, const std::string& x, std::array<int64_t, 2> kernel,
                     std::array<int64_t, 2> stride, std::array<int64_t, 4> pad);
    std::string global_avg_pool(const std::string& x, bool keepdims);
    std::string reshape(const std::string& x, const std::vector<int64_t>& dims);
    std::string softmax(const std::string& x);
    // pad: {top, left, bottom, right} zeros around H and W.
    std::string pad(const std::string& x, std::array<int64_t, 4> pads);

    // Gives the node that produced `value` the quantization {dtype, scale, zero_point}: FORMAT.md's saturation rule.
    void quantize(const std::string& value, DType dtype, double scale, int64_t zero_point);
    // Gives the graph input the quantization {dtype, scale, zero_point}, as a quantized source model's input has.
    void quantize_input(DType dtype, double scale, int64_t zero_point);
    // Sets the fused `activation` attribute of the node that produced `value` (conv2d, fully_connected, add, mul).
    void set_activation(const std::string& value, const std::string& activation);

    // Writes and loads the model; `outputs` default to the last node's output.
    std::shared_ptr<const Model> build(std::vector<std::string> outputs = {});

private:
    std::string add_node(const std::string& op, std::vector<std::string> inputs,
                         std::map<std::string, AttrValue> attrs, std::map<std::string, std::string> weights,
                         Shape out);
    std::string add_weights(const std::string& role, const Shape& shape, const std::vector<float>& values);
    std::vector<float> he_uniform(size_t n, int64_t fan_in, float scale);

    ModelWriter writer_;
    std::mt19937 rng_;
    std::string input_ = "input";
    std::map<std::string, Shape> shapes_;
    std::map<std::string, size_t> producers_;  // value -> index into def().nodes
    std::string last_;
};

// A tensor of the model input's shape at batch `batch`, uniform random in [lo, hi].
Tensor random_input(const Model& model, int64_t batch, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

}  // namespace mnet::test
