// SPDX-License-Identifier: Apache-2.0
// Post-training quantization: activation ranges observed in fp32 runs, written back as quantization parameters.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet/quantize.h"
#include "graph/loader.h"
#include "core/file_io.h"
#include "model/writer.h"
#include "ops/op.h"
#include "ops/quantize.h"
#include "runtime/activation_histogram.h"

namespace mnet {

namespace {

// The model's files rebuilt in memory under a changed definition: the same tensors, bytes and parameters.
ModelWriter rewrite(const Model::Impl& impl, ModelDef def) {
    def.tensors.clear();
    ModelWriter writer(std::move(def));
    for (const TensorDef& t : impl.def.tensors) {
        writer.add_tensor(t.name, t.dtype, t.shape, impl.weights.data() + t.offset, t.nbytes, t.quant);
    }
    return writer;
}

}  // namespace

std::shared_ptr<const Model> with_every_output(const Model& model) {
    const Model::Impl& impl = model_impl(model);
    ModelDef def = impl.def;
    std::set<std::string> listed;
    for (const OutputDef& o : def.outputs) listed.insert(o.name);
    for (const NodeDef& n : def.nodes) {
        if (listed.insert(n.output).second) def.outputs.push_back(OutputDef{n.output, OutputKind::Feature});
    }
    ModelWriter writer = rewrite(impl, std::move(def));
    const std::string manifest = writer.manifest_json("every_output.bin");
    return load_model_from_memory(manifest, writer.weights_bytes(), impl.path + " (every output)");
}

struct Calibrator::Impl {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Model> observed;
    Session session;
    std::map<std::string, ActivationHistogram> histograms;  // by activation name
    int64_t images = 0;

    Impl(std::shared_ptr<const Model> m, const SessionOptions& o)
        : model(std::move(m)), observed(with_every_output(*model)), session(observed, o) {}
};

namespace {

SessionOptions calibration_options(int batch, int threads) {
    SessionOptions o;
    o.batch = batch;
    o.threads = threads;
    o.precision = Precision::Fp32;
    return o;
}

// `v` as printf's %g writes it: 99.99, not std::to_string's 99.990000.
std::string shortest(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

void check(const CalibrationOptions& options) {
    if (options.method == CalibrationMethod::Percentile &&
        !(options.percentile >= kMinPercentile && options.percentile <= 100)) {
        throw Error(ErrorCode::InvalidArgument, "Calibrator: percentile " + shortest(options.percentile) +
                                                    " is outside [" + shortest(kMinPercentile) + ", 100]");
    }
}

ValueRange choose_range(const ActivationHistogram& h, const CalibrationOptions& options) {
    switch (options.method) {
        case CalibrationMethod::Percentile: return h.percentile_range(options.percentile);
        case CalibrationMethod::Entropy: return h.entropy_range();
        case CalibrationMethod::MinMax: break;
    }
    return {h.min(), h.max()};
}

// The range each quantized activation's parameters come from, by name: the input's and each node's own, or for
// an op whose output holds its input's values (CalibratedRange::SameAsInput) its input's; none for float outputs.
std::map<std::string, ValueRange> plan_ranges(const ModelDef& def,
                                              const std::map<std::string, ActivationHistogram>& histograms,
                                              const CalibrationOptions& options) {
    // The logits: what a float output (softmax) reads, through ops that pass their input's values on. They keep
    // min/max under every method: their largest values decide the prediction and its probability, and a histogram
    // method would count them as outliers (docs/int8.md, "Calibration methods").
    std::set<std::string> logits;
    for (auto n = def.nodes.rbegin(); n != def.nodes.rend(); ++n) {
        const CalibratedRange rule = find_op(n->op)->calibrated_range;  // the model loaded: every op is known
        const bool feeds_float = rule == CalibratedRange::Float ||
                                 (rule == CalibratedRange::SameAsInput && logits.count(n->output));
        if (feeds_float && !n->inputs.empty()) logits.insert(n->inputs[0]);
    }
    const CalibrationOptions minmax;
    auto range_of = [&](const std::string& value) {
        return choose_range(histograms.at(value), logits.count(value) ? minmax : options);
    };
    std::map<std::string, ValueRange> chosen;
    chosen[def.input.name] = range_of(def.input.name);
    for (const NodeDef& n : def.nodes) {
        const CalibratedRange rule = find_op(n.op)->calibrated_range;
        if (rule == CalibratedRange::Float) continue;
        const auto in = n.inputs.empty() ? chosen.end() : chosen.find(n.inputs[0]);
        chosen[n.output] = rule == CalibratedRange::SameAsInput && in != chosen.end() ? in->second : range_of(n.output);
    }
    return chosen;
}

std::string method_description(const CalibrationOptions& options) {
    switch (options.method) {
        case CalibrationMethod::Percentile: return "the " + shortest(options.percentile) + " percentile";
        case CalibrationMethod::Entropy: return "entropy (KL divergence)";
        case CalibrationMethod::MinMax: break;
    }
    return "min/max";
}

}  // namespace

Calibrator::Calibrator(std::shared_ptr<const Model> model, int batch, int threads) {
    if (!model) throw Error(ErrorCode::InvalidArgument, "Calibrator: no model");
    if (model->has_quantization()) {
        throw Error(ErrorCode::InvalidArgument, model->path() + ": already carries quantization parameters");
    }
    impl_ = std::make_unique<Impl>(std::move(model), calibration_options(batch, threads));
}

Calibrator::~Calibrator() = default;

int Calibrator::batch() const { return impl_->session.options().batch; }
int64_t Calibrator::images() const { return impl_->images; }

void Calibrator::observe(const Tensor& src, int images) {
    const int batch = this->batch();
    if (images < 1 || images > batch) {
        throw Error(ErrorCode::InvalidArgument, "Calibrator::observe: " + std::to_string(images) +
                                                    " images in a batch of " + std::to_string(batch));
    }
    impl_->session.run(src);
    auto observe_tensor = [&](const std::string& name, const Tensor& t) {
        const size_t per_image = t.data.size() / static_cast<size_t>(batch);
        impl_->histograms[name].add(t.data.data(), t.data.data() + per_image * static_cast<size_t>(images));
    };
    observe_tensor(model_impl(*impl_->model).def.input.name, src);
    const std::vector<OutputInfo>& outputs = impl_->observed->outputs();
    for (size_t i = 0; i < outputs.size(); ++i) observe_tensor(outputs[i].name, impl_->session.output(i));
    impl_->images += images;
}

std::vector<ActivationRange> Calibrator::ranges(const CalibrationOptions& options) const {
    check(options);
    std::vector<ActivationRange> out;
    if (impl_->images == 0) return out;
    const ModelDef& def = model_impl(*impl_->model).def;
    const std::map<std::string, ValueRange> chosen = plan_ranges(def, impl_->histograms, options);
    auto add = [&](const std::string& name) {
        const ActivationHistogram& h = impl_->histograms.at(name);
        ActivationRange r{name, h.min(), h.max(), h.min(), h.max(), false};
        const auto it = chosen.find(name);
        if (it != chosen.end()) {
            r.lo = static_cast<float>(it->second.lo);
            r.hi = static_cast<float>(it->second.hi);
            r.quantized = true;
        }
        out.push_back(r);
    };
    add(def.input.name);
    for (const NodeDef& n : def.nodes) add(n.output);
    return out;
}

void Calibrator::write(const std::string& json_path, const std::string& name,
                       const CalibrationOptions& options) const {
    check(options);
    if (impl_->images == 0) throw Error(ErrorCode::InvalidArgument, "Calibrator::write: no image was observed");
    const Model::Impl& impl = model_impl(*impl_->model);
    ModelDef def = impl.def;
    def.name = name;
    def.source = (def.source.empty() ? "" : def.source + "; ") + "quantized by mnet " + mnet_version() +
                 ": u8 activation parameters from " + method_description(options) + " over " +
                 std::to_string(impl_->images) + " images";
    const std::map<std::string, ValueRange> chosen = plan_ranges(def, impl_->histograms, options);
    auto params = [&](const std::string& value) {
        const ValueRange& r = chosen.at(value);
        return u8_params_for_range(static_cast<float>(r.lo), static_cast<float>(r.hi));
    };
    def.input.quant = params(def.input.name);
    for (NodeDef& n : def.nodes) {
        if (chosen.count(n.output)) n.dst_quant = params(n.output);
    }
    ModelWriter writer = rewrite(impl, std::move(def));
    // The model calibrated is an input of this write, whether or not the caller holds a scope of its own.
    io::InputScope inputs;
    inputs.add(impl.path);
    if (const auto weights = io::resolve_inside(std::filesystem::path(impl.path).parent_path().string(),
                                                impl.def.weights_file)) {
        inputs.add(*weights);
    }
    writer.write(json_path);
}

const char* calibration_method_name(CalibrationMethod method) {
    switch (method) {
        case CalibrationMethod::Percentile: return "percentile";
        case CalibrationMethod::Entropy: return "entropy";
        case CalibrationMethod::MinMax: break;
    }
    return "minmax";
}

}  // namespace mnet
