// SPDX-License-Identifier: Apache-2.0
// A compiled execution plan: the graph lowered to a list of oneDNN primitives (and the odd kernel of our own)
// over one activation arena.
// Only src/ops includes oneDNN; the Session sees the Plan through this header.
#pragma once

#include <dnnl.hpp>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/graph.h"
#include "graph/loader.h"
#include "ops/fusion.h"
#include "mnet/engine.h"

namespace mnet {


// Part of an activation buffer, seen through one memory descriptor. Several views may share a slot (a reshape,
// a flatten); slots whose lifetimes do not overlap share arena bytes.
struct View {
    int slot = -1;
    dnnl::memory::desc md;
};

struct Slot {
    size_t bytes = 0;
    int first_step = -1, last_step = -1;  // lifetime, in steps
    size_t offset = 0;                    // in the arena, once planned
    bool external = false;                // the graph input: the caller's buffer
};

struct Step {
    dnnl::primitive prim;
    // Instead of `prim`, a kernel of our own over the bound arguments (u8_gemv.h says why one exists).
    std::function<void(const std::unordered_map<int, dnnl::memory>& args)> kernel;
    std::vector<std::pair<int, View>> views;                 // DNNL_ARG_* -> activation view
    std::unordered_map<int, dnnl::memory> fixed;             // weights, biases, constants, outputs
    std::unordered_map<int, dnnl::memory> args;              // bound by Plan::bind()
    int output = -1;  // a copy into outputs()[output]: its destination is the plan's own tensor
    LayerTiming info;
};

// True when oneDNN dispatches to its AVX-512 kernels on this CPU.
bool avx512_kernels();
// Whether oneDNN's int8 kernels multiply with VNNI (vpdpbusd: u8 x s8 into int32, no saturating int16 pairs).
bool vnni_kernels();
// Whether oneDNN runs bf16 natively here (AVX512_BF16's vdpbf16ps, or AMX), which Precision::Bf16 requires.
bool bf16_kernels();

class Plan {
public:
    // Lowers the model's graph for `options` (batch, threads, fusion). Throws Backend when oneDNN refuses.
    Plan(const Model::Impl& model, const SessionOptions& options, const LoweringOptions& lowering);

    // A replica: shares the primitives and weights, owns its activations, scratchpad, stream and outputs, so
    // replicas may run concurrently on different threads (oneDNN primitives are immutable once created and
    // take a user-provided scratchpad).
    Plan(const Plan& proto);
    Plan& operator=(const Plan&) = delete;

    // Runs every step. `src` holds the batch in plain NCHW; outputs land in the tensors of outputs().
    void run(const float* src, bool profile, std::vector<LayerTiming>* timings);
    std::vector<Tensor>& outputs() { return outputs_; }
    // What `threads = 0` means: cpu_budget().threads.
    static int process_threads();
    // The fewest images a throughput stream should run per call: 2 where oneDNN has AVX-512 kernels (executor.cpp
    // says why), else 1.
    static int min_stream_images() { return avx512_kernels() ? 2 : 1; }

private:
    void bind();  // allocates the arena, scratchpad and outputs, and points every step's arguments at them
    void execute(Step& step);

    dnnl::engine engine_;
    dnnl::stream stream_;
    std::vector<Slot> slots_;
    std::vector<Step> steps_;
    std::vector<Tensor> outputs_;
    int input_slot_ = -1;
    std::shared_ptr<void> arena_;
    size_t arena_bytes_ = 0;
    size_t scratchpad_bytes_ = 0;
    dnnl::memory scratchpad_;
    int threads_ = 0;
};


}  // namespace mnet
