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

// How Calibrator chooses each activation's range from the values it observed (docs/int8.md, "Calibration
// methods"). Every range is then widened to contain 0 and becomes asymmetric u8 parameters.
enum class CalibrationMethod {
    MinMax,      // [min, max]: every calibration value representable; one outlier widens the step of its tensor
    Percentile,  // the range holding CalibrationOptions::percentile % of the values; the rest saturate
    Entropy,     // the clipping threshold whose quantized histogram is closest to the observed one (KL divergence,
                 // after TensorRT's entropy calibrator)
};

// "minmax", "percentile" or "entropy": the words `mnet quantize --calibration` takes.
const char* calibration_method_name(CalibrationMethod method);

// Below this a percentile range would saturate more values than it represents.
constexpr double kMinPercentile = 50.0;

struct CalibrationOptions {
    CalibrationMethod method = CalibrationMethod::MinMax;
    // Percentile only: the share of values kept, from kMinPercentile to 100. With no negative value seen (a ReLU
    // output) the rest is cut at the top; otherwise half at each end.
    double percentile = 99.999;  // ONNX Runtime's default too; measured best of 99.9-99.999 (docs/int8.md)
};

// The range of one activation over the images observed.
struct ActivationRange {
    std::string name;  // the activation tensor: the model input or a node's output
    float min = 0.f, max = 0.f;  // observed
    // The range its u8 parameters are computed from under the options asked for (before widening to contain 0):
    // a pooling, reshape or identity output has its input's. An output that stays float (softmax) has
    // `quantized` false and lo, hi equal to min, max.
    float lo = 0.f, hi = 0.f;
    bool quantized = true;
};

// Collects the minimum, maximum and a histogram of every activation of a float model over calibration batches
// (fp32 execution; a fixed number of bins per activation, whatever the number of images), and writes the model
// again with asymmetric u8 parameters from the range the chosen CalibrationMethod gives each activation:
// scale = (hi - lo) / 255 and zero point round(-lo / scale), the range first widened to contain 0 (as
// TensorFlow Lite's converter does). Pooling, reshape and identity outputs share their input's parameters, as in
// TFLite models, so they run on the same integers; softmax outputs stay float. Under every method the logits (what
// a softmax reads, through such ops) keep [min, max]: their largest values decide the prediction. One thread at a
// time may use a Calibrator.
class Calibrator {
public:
    // Throws InvalidArgument for a model that already carries quantization parameters.
    Calibrator(std::shared_ptr<const Model> model, int batch = 1, int threads = 0);
    ~Calibrator();
    Calibrator(const Calibrator&) = delete;
    Calibrator& operator=(const Calibrator&) = delete;

    int batch() const;
    // Runs `src` ({batch, C, H, W}, preprocessed as the model says) and adds the values of its first `images`
    // images to each activation's statistics (the rest of a final batch is padding).
    void observe(const Tensor& src, int images);
    int64_t images() const;  // observed so far

    // Every activation's observed range and the one `options` choose: the input first, then in execution order
    // (empty before any image was observed). Throws InvalidArgument for a percentile outside
    // [kMinPercentile, 100].
    std::vector<ActivationRange> ranges(const CalibrationOptions& options = {}) const;

    // Writes the quantized model (manifest `json_path`, weights beside it) named `name`, its activation parameters
    // from the ranges `options` choose. Throws InvalidArgument before any image was observed and as ranges()
    // does, Io when the files cannot be written.
    void write(const std::string& json_path, const std::string& name, const CalibrationOptions& options = {}) const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace mnet
