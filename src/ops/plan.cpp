// SPDX-License-Identifier: Apache-2.0
// Lowering the validated graph to oneDNN primitives, planning the activation arena, and running the plan.
#include "ops/plan.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "graph/loader.h"
#include "mnet/error.h"
#include "ops/lowering.h"

namespace mnet {

using dnnl::memory;

namespace {

constexpr size_t kArenaAlignment = 64;  // a cache line; oneDNN's own allocations use the same

size_t align_up(size_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

std::shared_ptr<void> aligned_buffer(size_t bytes) {
    if (bytes == 0) return nullptr;
    void* p = std::aligned_alloc(kArenaAlignment, align_up(bytes));
    if (!p) throw Error(ErrorCode::Backend, "cannot allocate " + std::to_string(bytes) + " bytes of activations");
    return std::shared_ptr<void>(p, std::free);
}

// Places each slot at the lowest offset where it overlaps no slot alive at the same time, largest first: the
// greedy strategy TFLite's arena planner uses, within a few percent of optimal on chain-like graphs.
size_t plan_arena(std::vector<Slot>& slots) {
    std::vector<size_t> order;
    for (size_t i = 0; i < slots.size(); ++i) {
        if (!slots[i].external && slots[i].first_step >= 0) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return slots[a].bytes > slots[b].bytes; });
    std::vector<size_t> placed;
    size_t total = 0;
    for (size_t i : order) {
        Slot& s = slots[i];
        std::vector<std::pair<size_t, size_t>> busy;  // [begin, end) of live neighbours
        for (size_t j : placed) {
            const Slot& o = slots[j];
            if (o.first_step <= s.last_step && s.first_step <= o.last_step) busy.emplace_back(o.offset, o.offset + align_up(o.bytes));
        }
        std::sort(busy.begin(), busy.end());
        size_t offset = 0;
        for (const auto& [begin, end] : busy) {
            if (offset + align_up(s.bytes) <= begin) break;
            offset = std::max(offset, end);
        }
        s.offset = offset;
        total = std::max(total, offset + align_up(s.bytes));
        placed.push_back(i);
    }
    return total;
}

}  // namespace

std::string cpu_isa() {
    switch (dnnl::get_effective_cpu_isa()) {
        case dnnl::cpu_isa::sse41: return "sse41";
        case dnnl::cpu_isa::avx: return "avx";
        case dnnl::cpu_isa::avx2: return "avx2";
        case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
        case dnnl::cpu_isa::avx512_core: return "avx512_core";
        case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
        case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
        case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
        default: return "other";
    }
}

// Decided once, from the affinity, cgroup quota and OMP_NUM_THREADS (src/graph/cpu_budget.h), never from OpenMP's
// current count, which every Plan changes (omp_set_num_threads is process-wide on the calling thread): "all
// threads" must not depend on which sessions were built before.
int Plan::process_threads() { return cpu_budget().threads; }

bool avx512_kernels() {
    switch (dnnl::get_effective_cpu_isa()) {  // ISA values are bit sets, not an order
        case dnnl::cpu_isa::avx512_core:
        case dnnl::cpu_isa::avx512_core_vnni:
        case dnnl::cpu_isa::avx512_core_bf16:
        case dnnl::cpu_isa::avx512_core_amx: return true;
        default: return false;
    }
}

bool vnni_kernels() {
    switch (dnnl::get_effective_cpu_isa()) {
        case dnnl::cpu_isa::avx2_vnni:
        case dnnl::cpu_isa::avx512_core_vnni:
        case dnnl::cpu_isa::avx512_core_bf16:
        case dnnl::cpu_isa::avx512_core_amx: return true;
        default: return false;
    }
}

// From oneDNN's effective ISA rather than the CPU's flags: it is what the kernels will use, so it follows a cap set
// with ONEDNN_MAX_CPU_ISA and oneDNN's own reach (2.6 runs bf16 on no AVX2 CPU, and on AVX-512 without
// AVX512_BF16 only by emulation, slower than fp32).
bool bf16_kernels() {
    switch (dnnl::get_effective_cpu_isa()) {
        case dnnl::cpu_isa::avx512_core_bf16:
        case dnnl::cpu_isa::avx512_core_amx: return true;
        default: return false;
    }
}

Plan::Plan(const Model::Impl& model, const SessionOptions& options, const LoweringOptions& lowering)
    : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    if (options.batch < 1) throw Error(ErrorCode::InvalidArgument, "batch size must be at least 1");
    if (options.threads < 0) throw Error(ErrorCode::InvalidArgument, "thread count must not be negative");
    threads_ = options.threads > 0 ? options.threads : process_threads();
    // oneDNN sizes its work split by the OpenMP thread count when a primitive is created, so set it first.
    omp_set_num_threads(threads_);

    SessionOptions resolved = options;
    resolved.threads = threads_;
    Lowering lowered(model, resolved, lowering, engine_, stream_, slots_, steps_);
    lowered.lower_all();
    input_slot_ = lowered.input_slot();
    outputs_ = lowered.take_outputs();
    arena_bytes_ = plan_arena(slots_);
    scratchpad_bytes_ = lowered.scratchpad_bytes();
    bind();
}

Plan::Plan(const Plan& proto)
    : engine_(proto.engine_), stream_(engine_), slots_(proto.slots_), steps_(proto.steps_),
      outputs_(proto.outputs_), input_slot_(proto.input_slot_), arena_bytes_(proto.arena_bytes_),
      scratchpad_bytes_(proto.scratchpad_bytes_), threads_(proto.threads_) {
    bind();
}

void Plan::bind() {
    arena_ = aligned_buffer(arena_bytes_);
    if (scratchpad_bytes_ > 0) {
        scratchpad_ = memory({{static_cast<memory::dim>(scratchpad_bytes_)}, memory::data_type::u8, memory::format_tag::a},
                             engine_);
    }
    auto* base = static_cast<uint8_t*>(arena_.get());
    for (Step& step : steps_) {
        step.args = step.fixed;
        if (step.output >= 0) {
            const memory& to = step.fixed.at(DNNL_ARG_TO);
            step.args[DNNL_ARG_TO] = memory(to.get_desc(), engine_, outputs_[step.output].data.data());
        }
        for (const auto& [arg, view] : step.views) {
            const Slot& slot = slots_[view.slot];
            if (slot.external) {
                step.args[arg] = memory(view.md, engine_, DNNL_MEMORY_NONE);  // bound per run
            } else {
                step.args[arg] = memory(view.md, engine_, base + slot.offset);
            }
        }
        if (scratchpad_bytes_ > 0) step.args[DNNL_ARG_SCRATCHPAD] = scratchpad_;
    }
}

void Plan::execute(Step& step) {
    if (step.kernel) {
        stream_.wait();  // the steps before have finished (free with oneDNN's OpenMP runtime, which runs in place)
        step.kernel(step.args);
    } else {
        step.prim.execute(stream_, step.args);
    }
}

void Plan::run(const float* src, bool profile, std::vector<LayerTiming>* timings) {
    using clock = std::chrono::steady_clock;
    omp_set_num_threads(threads_);
    if (timings) timings->clear();
    for (Step& step : steps_) {
        for (const auto& [arg, view] : step.views) {
            // The caller's input buffer changes from run to run; everything else is bound once.
            if (view.slot == input_slot_) step.args[arg].set_data_handle(const_cast<float*>(src));
        }
        if (!profile) {
            execute(step);
            continue;
        }
        const auto t0 = clock::now();
        execute(step);
        stream_.wait();
        const auto t1 = clock::now();
        LayerTiming t = step.info;
        t.ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
        timings->push_back(std::move(t));
    }
    stream_.wait();
}

}  // namespace mnet
