// SPDX-License-Identifier: Apache-2.0
// Post-training quantization: activation ranges observed in fp32 runs, written back as quantization parameters.
#include <algorithm>
#include <limits>
#include <filesystem>
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
    std::map<std::string, std::pair<float, float>> ranges;  // by activation name
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

void widen(std::pair<float, float>& range, const float* begin, const float* end) {
    for (const float* p = begin; p != end; ++p) {
        range.first = std::min(range.first, *p);
        range.second = std::max(range.second, *p);
    }
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
    constexpr float kInf = std::numeric_limits<float>::infinity();
    auto observe_tensor = [&](const std::string& name, const Tensor& t) {
        auto it = impl_->ranges.try_emplace(name, kInf, -kInf).first;
        const size_t per_image = t.data.size() / static_cast<size_t>(batch);
        widen(it->second, t.data.data(), t.data.data() + per_image * static_cast<size_t>(images));
    };
    observe_tensor(model_impl(*impl_->model).def.input.name, src);
    const std::vector<OutputInfo>& outputs = impl_->observed->outputs();
    for (size_t i = 0; i < outputs.size(); ++i) observe_tensor(outputs[i].name, impl_->session.output(i));
    impl_->images += images;
}

std::vector<ActivationRange> Calibrator::ranges() const {
    std::vector<ActivationRange> out;
    auto add = [&](const std::string& name) {
        auto it = impl_->ranges.find(name);
        if (it != impl_->ranges.end()) out.push_back({name, it->second.first, it->second.second});
    };
    const ModelDef& def = model_impl(*impl_->model).def;
    add(def.input.name);
    for (const NodeDef& n : def.nodes) add(n.output);
    return out;
}

void Calibrator::write(const std::string& json_path, const std::string& name) const {
    if (impl_->images == 0) throw Error(ErrorCode::InvalidArgument, "Calibrator::write: no image was observed");
    const Model::Impl& impl = model_impl(*impl_->model);
    ModelDef def = impl.def;
    def.name = name;
    def.source = (def.source.empty() ? "" : def.source + "; ") + "quantized by mnet " + mnet_version() +
                 ": u8 activation parameters from min/max over " + std::to_string(impl_->images) + " images";
    std::map<std::string, QuantParams> chosen;  // by activation name
    auto from_range = [&](const std::string& value) {
        const auto& r = impl_->ranges.at(value);
        return u8_params_for_range(r.first, r.second);
    };
    def.input.quant = chosen[def.input.name] = from_range(def.input.name);
    for (NodeDef& n : def.nodes) {
        const CalibratedRange rule = find_op(n.op)->calibrated_range;  // the model loaded: every op is known
        if (rule == CalibratedRange::Float) continue;
        const auto in = n.inputs.empty() ? chosen.end() : chosen.find(n.inputs[0]);
        n.dst_quant = rule == CalibratedRange::SameAsInput && in != chosen.end() ? in->second : from_range(n.output);
        chosen[n.output] = *n.dst_quant;
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

}  // namespace mnet
