// SPDX-License-Identifier: Apache-2.0
// The ops target's face to the runtime: a compiled Plan (plan.h) without a oneDNN type in sight. oneDNN stays
// inside src/ops: its errors become mnet::Error here, and the OpenMP thread count a Plan sets for its kernels is
// put back after every call, so building or running a Session leaves the caller's omp_get_max_threads() as it was.
#pragma once

#include <memory>
#include <vector>

#include "mnet/engine.h"
#include "mnet/model.h"
#include "mnet/tensor.h"
#include "ops/fusion.h"

namespace mnet {

class Plan;

class Executable {
public:
    // Lowers the model's graph for `options` (batch, threads, fusion) and the lowering switches. Throws Backend
    // when oneDNN refuses, InvalidArgument for a bad batch or thread count.
    Executable(const Model::Impl& model, const SessionOptions& options, const LoweringOptions& lowering = {});
    // A replica sharing the primitives and weights (Plan's copy constructor): replicas run concurrently.
    Executable(const Executable& proto);
    Executable& operator=(const Executable&) = delete;
    ~Executable();

    // Runs every step on `src` (the batch, plain NCHW); outputs land in outputs(). Throws Backend.
    void run(const float* src, bool profile, std::vector<LayerTiming>* timings);
    std::vector<Tensor>& outputs();

    static int process_threads();    // what `threads = 0` means (Plan::process_threads)
    static int min_stream_images();  // Plan::min_stream_images

private:
    std::unique_ptr<Plan> plan_;
};

}  // namespace mnet
