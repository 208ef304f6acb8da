// SPDX-License-Identifier: Apache-2.0
#include "ops/executable.h"

#include <omp.h>

#include <utility>

#include "graph/loader.h"
#include "mnet/error.h"
#include "ops/plan.h"

namespace mnet {

namespace {

// Restores the calling thread's OpenMP thread count, which a Plan sets for oneDNN before building and running.
class KeepOmpThreads {
public:
    KeepOmpThreads() : saved_(omp_get_max_threads()) {}
    ~KeepOmpThreads() { omp_set_num_threads(saved_); }
    KeepOmpThreads(const KeepOmpThreads&) = delete;
    KeepOmpThreads& operator=(const KeepOmpThreads&) = delete;

private:
    int saved_;
};

// Runs `f` with oneDNN's exceptions translated into mnet::Error at the edge of src/ops.
template <class F>
decltype(auto) translating_backend_errors(F&& f) {
    try {
        return std::forward<F>(f)();
    } catch (const dnnl::error& e) {
        throw Error(ErrorCode::Backend, std::string("oneDNN: ") + e.what());
    }
}

}  // namespace

Executable::Executable(const Model::Impl& model, const SessionOptions& options, const LoweringOptions& lowering) {
    const KeepOmpThreads keep;
    plan_ = translating_backend_errors([&] { return std::make_unique<Plan>(model, options, lowering); });
}

Executable::Executable(const Executable& proto) {
    plan_ = translating_backend_errors([&] { return std::make_unique<Plan>(*proto.plan_); });
}

Executable::~Executable() = default;

void Executable::run(const float* src, bool profile, std::vector<LayerTiming>* timings) {
    const KeepOmpThreads keep;
    translating_backend_errors([&] { plan_->run(src, profile, timings); });
}

std::vector<Tensor>& Executable::outputs() { return plan_->outputs(); }
int Executable::process_threads() { return Plan::process_threads(); }
int Executable::min_stream_images() { return Plan::min_stream_images(); }

std::string onednn_version() {  // mnet/engine.h
    const dnnl_version_t* v = dnnl_version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

}  // namespace mnet
