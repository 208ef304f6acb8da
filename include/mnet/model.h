// SPDX-License-Identifier: Apache-2.0
// mnet: a loaded, fully validated model (models/FORMAT.md) and what it says about itself.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mnet/tensor.h"

namespace mnet {

enum class ColorOrder { RGB, BGR };

// How an image becomes the model's input tensor (FORMAT.md "preprocess"); the front end reads only this.
struct Preprocess {
    int height = 0;                 // model input size in pixels
    int width = 0;
    double crop = 1.0;              // central crop, as a fraction of each side, before resizing
    ColorOrder color = ColorOrder::RGB;
    std::array<float, 3> mean{};    // per channel, in `color` order: x = (pixel - mean) / std
    std::array<float, 3> std{};
};

// What a graph output holds.
enum class OutputKind { Probabilities, Logits, Feature };

struct OutputInfo {
    std::string name;
    OutputKind kind = OutputKind::Probabilities;
    Shape shape;  // with batch 1
};

// One node as `mnet info` shows it. Convolution fields are 0 for other ops.
struct LayerInfo {
    std::string name;
    std::string op;                    // FORMAT.md op name, e.g. "conv2d"
    std::string activation;            // fused activation, "none" if none
    std::vector<std::string> inputs;   // activation tensors read
    std::string output;                // the activation tensor it writes
    Shape dst_shape;                   // with batch 1
    int64_t params = 0;                // weight + bias elements
    int64_t macs = 0;                  // multiply-accumulates at batch 1
    int64_t kernel_h = 0, kernel_w = 0, stride_h = 0, stride_w = 0, groups = 0;
    int64_t in_channels = 0, out_channels = 0;
};

class Model {
public:
    // Loads and validates a model: `json_path` names the manifest; its weights file must sit in the same folder.
    // Throws mnet::Error (Io, ModelFormat, Unsupported) naming the file and the problem. Nothing is read out
    // of bounds of the weights file, whatever the manifest says.
    static std::shared_ptr<const Model> load(const std::string& json_path);

    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const std::string& name() const;
    const std::string& path() const;                // the manifest path it was loaded from
    Shape input_shape() const;                      // {1, C, H, W}
    const Preprocess& preprocess() const;
    const std::vector<std::string>& labels() const; // may be empty; index i names class i
    const std::vector<OutputInfo>& outputs() const; // outputs()[0] is the classification output
    const std::vector<LayerInfo>& layers() const;   // in execution order
    int64_t total_macs() const;
    int64_t total_params() const;
    bool has_quantization() const;                  // the source model carried quantization parameters

    struct Impl;  // the engine's view (src/graph/loader.h); not part of the API

private:
    friend struct ModelAccess;
    explicit Model(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace mnet
