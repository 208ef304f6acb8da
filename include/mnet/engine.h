// SPDX-License-Identifier: Apache-2.0
// mnet: running a model on oneDNN.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mnet/model.h"
#include "mnet/tensor.h"

namespace mnet {

// The arithmetic a session runs in. Int8 needs a model carrying quantization parameters (Model::has_quantization);
// Auto is Int8 for such a model and Fp32 otherwise (what `mnet` runs by default too). Bf16: the convolutions,
// pools and elementwise ops on bfloat16 activations and weights (a quantized model's weights dequantized), the
// classifier and softmax in fp32; inputs and outputs stay f32. It needs a CPU where oneDNN runs bf16 natively
// (AVX512_BF16 or AMX); elsewhere creating the Session throws Unsupported, naming the CPU's instruction set.
enum class Precision { Auto, Fp32, Int8, Bf16 };

// What `requested` means for `model`: Auto resolved, the others as they are.
Precision effective_precision(const Model& model, Precision requested);

// How a batch runs. Latency: one pass over the whole batch, every layer split across all threads. Throughput:
// one single-threaded stream per thread, each taking the batch's images a small chunk at a time, so the working
// set stays in its core's caches and no layer waits for the other threads (docs/performance.md measures both).
// Auto: throughput when the batch has more than one image and at least one per thread, else latency.
enum class BatchMode { Auto, Latency, Throughput };

struct SessionOptions {
    int batch = 1;         // images per run
    // Compute threads. N > 0: exactly N, as asked. 0: all the process may use (cpu_budget().threads), except that
    // a latency-mode run with little work may run on one: under 10 M MACs x batch (an fp32 MAC counting 4) always,
    // and up to 200 M (V3-small int8 at batch 1) when one thread measured clearly faster at session creation,
    // where both plans are built and timed (docs/performance.md, "Threads"; measure_threads below). options()
    // says what was chosen. Results do not depend on the choice: int8 bit for bit, fp32 within the rounding of a summation
    // order (docs/performance.md).
    int threads = 0;
    // With threads = 0, whether a latency run in that band may time both plans. Off: one thread there, untimed, the
    // cheaper session to create. Timing costs a second plan's creation and a dozen runs, more than the faster plan
    // can save for a session that runs a few times (`mnet classify` turns it off); it pays for hundreds of runs.
    bool measure_threads = true;
    bool profile = false;  // record per-layer timings (adds one clock read per layer)
    BatchMode mode = BatchMode::Auto;  // profiling always runs in latency mode: its timings are of one pass
    Precision precision = Precision::Auto;
};

// What `threads = 0` means: the CPUs this process may use, decided once per process. `cpus` is the process's
// CPU affinity (taskset, Slurm's cpusets) capped by its cgroup CPU quota rounded up (a Kubernetes CPU limit, a
// cgroup-enforced Slurm --cpus-per-task; cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us), at least
// 1. `threads` is OMP_NUM_THREADS when that is set (the user's explicit choice), else `cpus`. `reason` says how
// it was decided, for reports, e.g. "affinity 8 CPUs, cgroup CPU quota 2.50 (/sys/fs/cgroup/cpu.max)".
struct CpuBudget {
    int threads = 1;
    int cpus = 1;
    std::string reason;
};
CpuBudget cpu_budget();

// Time spent in one executed step: a node, a group of fused nodes, or a layout reorder.
struct LayerTiming {
    std::string name;   // node name(s) joined by '+', or "reorder:<tensor>"
    std::string op;     // op kinds, e.g. "conv2d+add"
    std::string impl;   // the oneDNN implementation that ran it, e.g. "jit:avx2"
    std::string type;   // the data type it reads: "f32", "bf16", "u8" or "s8" (an int8 kernel's name need not say so)
    Shape dst_shape;
    int64_t macs = 0;
    double ms = 0.0;
};

// A model compiled for one batch size and thread count: every primitive built and every weight reordered once.
// Not thread-safe: one thread runs a Session at a time. Several Sessions may share one Model.
// Threads: a Session runs its kernels on OpenMP threads, `options.threads` of them, and leaves the calling
// thread's OpenMP setting (omp_get_max_threads) as it found it after construction and after every run; it never
// changes another thread's. threads = 0 means up to cpu_budget().threads: the CPUs this process may use, as above
// (OMP_NUM_THREADS, else affinity capped by the cgroup quota), or one for a small latency run (SessionOptions).
class Session {
public:
    Session(std::shared_ptr<const Model> model, const SessionOptions& options);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Runs the graph. REQUIRES: src.shape == {batch, C, H, W} of the model input. Throws InvalidArgument on a
    // shape mismatch, Backend if oneDNN fails. Outputs stay valid until the next run.
    void run(const Tensor& src);

    const Tensor& output(size_t i = 0) const;  // in Model::outputs() order, with the batch dimension
    size_t output_count() const;
    const std::vector<LayerTiming>& timings() const;  // of the last run; empty unless options.profile
    const SessionOptions& options() const;  // as resolved: threads is never 0, mode and precision never Auto
    const Model& model() const;

    struct Impl;

private:
    friend struct SessionFactory;  // internal: sessions with other lowering switches, for tests
    explicit Session(std::unique_ptr<Impl> impl);

    std::unique_ptr<Impl> impl_;
};

// The peak measurements and cpu_isa() for benchmark reports: mnet/bench.h.

// Version strings, for reports.
std::string mnet_version();
std::string onednn_version();

}  // namespace mnet
