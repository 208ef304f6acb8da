// SPDX-License-Identifier: Apache-2.0
// Session: a Plan for one batch size and thread count, and the checks at its edges.
#include <dnnl.hpp>

#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet_version.h"
#include "model/loader.h"
#include "ops/plan.h"

namespace mnet {

struct Session::Impl {
    std::shared_ptr<const Model> model;
    SessionOptions options;
    Plan plan;
    Shape input_shape;
    std::vector<LayerTiming> timings;

    Impl(std::shared_ptr<const Model> m, const SessionOptions& o)
        : model(std::move(m)), options(o), plan(model->impl(), o), input_shape(model->input_shape()) {
        input_shape[0] = o.batch;
    }
};

namespace {

std::string shape_str(const Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

}  // namespace

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options) {
    if (!model) throw Error(ErrorCode::InvalidArgument, "Session: no model");
    try {
        impl_ = std::make_unique<Impl>(std::move(model), options);
    } catch (const dnnl::error& e) {
        throw Error(ErrorCode::Backend, std::string("oneDNN: ") + e.what());
    }
}

Session::~Session() = default;

void Session::run(const Tensor& src) {
    if (src.shape != impl_->input_shape || src.numel() != shape_numel(impl_->input_shape)) {
        throw Error(ErrorCode::InvalidArgument, "input shape " + shape_str(src.shape) + " does not match the session's " +
                                                    shape_str(impl_->input_shape));
    }
    try {
        impl_->plan.run(src.data.data(), impl_->options.profile, &impl_->timings);
    } catch (const dnnl::error& e) {
        throw Error(ErrorCode::Backend, std::string("oneDNN: ") + e.what());
    }
}

const Tensor& Session::output(size_t i) const {
    if (i >= impl_->plan.outputs().size()) {
        throw Error(ErrorCode::InvalidArgument, "output index " + std::to_string(i) + " out of range");
    }
    return impl_->plan.outputs()[i];
}

size_t Session::output_count() const { return impl_->plan.outputs().size(); }
const std::vector<LayerTiming>& Session::timings() const { return impl_->timings; }
const SessionOptions& Session::options() const { return impl_->options; }
const Model& Session::model() const { return *impl_->model; }

std::string mnet_version() { return MNET_VERSION_STRING; }

std::string onednn_version() {
    const dnnl_version_t* v = dnnl_version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

}  // namespace mnet
