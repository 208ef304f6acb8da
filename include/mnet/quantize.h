// SPDX-License-Identifier: Apache-2.0
// mnet: post-training quantization. A float model's activations are observed over calibration images and the
// model is written again with quantization parameters, which int8 sessions then run on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mnet/model.h"
#include "mnet/tensor.h"

namespace mnet {

// A copy of `model` whose outputs are its own followed by every other node output, in execution order (kind
// "feature"): for looking at each activation of a run. Weights and parameters are unchanged.
std::shared_ptr<const Model> with_every_output(const Model& model);

// The range of one activation over the images observed.
struct ActivationRange {
    std::string name;  // the activation tensor: the model input or a node's output
    float min = 0.f, max = 0.f;
};

// Collects the per-tensor minimum and maximum of every activation of a float model over calibration batches (fp32
// execution), and writes the model again with asymmetric u8 parameters from those ranges:
// scale = (max - min) / 255 and zero point round(-min / scale), the range first widened to contain 0 (as
// TensorFlow Lite's converter does). Pooling, reshape and identity outputs share their input's parameters, as in
// TFLite models, so they run on the same integers; softmax outputs stay float. Min/max is the simplest choice and
// keeps every calibration value representable; a single outlier widens the step of the whole tensor.
class Calibrator {
public:
    // Throws InvalidArgument for a model that already carries quantization parameters.
    Calibrator(std::shared_ptr<const Model> model, int batch = 1, int threads = 0);
    ~Calibrator();
    Calibrator(const Calibrator&) = delete;
    Calibrator& operator=(const Calibrator&) = delete;

    int batch() const;
    // Runs `src` ({batch, C, H, W}, preprocessed as the model says) and widens each range with its first
    // `images` images (the rest of a final batch is padding).
    void observe(const Tensor& src, int images);
    int64_t images() const;  // observed so far
    std::vector<ActivationRange> ranges() const;  // the input first, then in execution order

    // Writes the quantized model (manifest `json_path`, weights beside it) named `name`. Throws InvalidArgument
    // before any image was observed, Io when the files cannot be written.
    void write(const std::string& json_path, const std::string& name) const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace mnet
