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

// The arithmetic a session runs in. Int8 needs a model carrying quantization parameters.
enum class Precision { Fp32, Int8 };

// How a batch runs. Latency: one pass over the whole batch, every layer split across all threads. Throughput:
// one single-threaded stream per thread, each taking the batch's images a small chunk at a time, so the working
// set stays in its core's caches and no layer waits for the other threads (docs/performance.md measures both).
// Auto: throughput when the batch has more than one image and at least one per thread, else latency.
enum class BatchMode { Auto, Latency, Throughput };

struct SessionOptions {
    int batch = 1;         // images per run
    // Compute threads at most; 0 = all the process may use. A latency-mode run too small to split (under 100 M
    // MACs x batch in int8, 25 M in fp32: V3-small int8 at batch 1) runs on one; options() says what was chosen.
    int threads = 0;
    bool profile = false;  // record per-layer timings (adds one clock read per layer)
    bool fuse_dw = true;   // fuse pointwise 1x1 + following depthwise (oneDNN append_dw) where a real kernel exists
    bool fuse_add = true;  // sum a convolution into the residual it is added to (oneDNN sum post-op)
    bool fuse_activation = true;  // run an activation node as post-ops of the op before it
    // A quantized model's classifier, at batch <= 4, reads its 8-bit weight integers rather than their float
    // values: the same weights in a quarter of the memory traffic (src/ops/u8_gemv.h).
    bool u8_classifier = true;
    BatchMode mode = BatchMode::Auto;  // profiling always runs in latency mode: its timings are of one pass
    Precision precision = Precision::Fp32;
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
    std::string type;   // the data type it reads: "f32", "u8" or "s8" (an int8 kernel's name need not say so)
    Shape dst_shape;
    int64_t macs = 0;
    double ms = 0.0;
};

// A model compiled for one batch size and thread count: every primitive built and every weight reordered once.
// Not thread-safe: one thread runs a Session at a time. Several Sessions may share one Model.
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
    const SessionOptions& options() const;  // as resolved: threads is never 0, mode never Auto
    const Model& model() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// The machine's measured fp32 peak in GFLOP/s: a large 1x1 convolution (oneDNN's most efficient kernel) timed
// for about `seconds` with `threads` threads (0 = all). A yardstick for benchmark reports, not a promise.
double measure_fp32_peak_gflops(int threads, double seconds = 0.5);

// The same for int8: the convolution on u8 activations and s8 weights, in GOP/s (two per multiply-accumulate).
double measure_int8_peak_gops(int threads, double seconds = 0.5);

// The instruction set oneDNN dispatches to on this machine, e.g. "avx2" or "avx512_core".
std::string cpu_isa();

// Version strings, for reports.
std::string mnet_version();
std::string onednn_version();

}  // namespace mnet
