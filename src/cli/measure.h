// SPDX-License-Identifier: Apache-2.0
// What `mnet profile` and `mnet bench` share: the machine and process facts a report records, the input they
// run, and number formatting for their tables.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/stats.h"
#include "mnet/bench.h"
#include "mnet/engine.h"
#include "mnet/model.h"
#include "mnet/tensor.h"
#include "ops/lowering_options.h"
#include "runtime/session_factory.h"

namespace mnet::cli {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Runs `session` on `input` `warmup` times untimed, then `runs` times timed one by one: the wall time of each run.
Summary time_runs(Session& session, const Tensor& input, int warmup, int runs);

// `--fuse-dw` / `--no-fuse-dw`: LoweringOptions::fuse_dw (an internal A/B switch, not public API), so profile
// and bench can compare the two paths. `fuse_dw` holds the engine's default until a flag is given.
CLI::Option* add_fuse_dw_flag(CLI::App* sub, bool& fuse_dw);
// A Session as `options` say, with the pointwise+depthwise fusion on or off (runtime/session_factory.h).
std::unique_ptr<Session> make_session(std::shared_ptr<const Model> model, const SessionOptions& options,
                                      bool fuse_dw);

// How `session` chose its thread count (runtime/session_factory.h).
const ThreadChoice& thread_choice(const Session& session);
// For JSON reports: {"basis", "budget", "threads"}, and when measured "one_thread_ms", "budget_ms", "rounds"
// (docs/profile.md).
nlohmann::ordered_json thread_choice_json(const ThreadChoice& choice);
// For table headers, why the count is what it is: "-t", the budget's reason (cpu_budget), or the choice,
// e.g. "measured at session creation: 1 thread 0.950 ms, 2 threads 1.240 ms, medians of 3 rounds".
std::string thread_choice_text(const ThreadChoice& choice);

// Peak resident set size of this process in bytes (getrusage ru_maxrss): a high-water mark since the process
// started, or since the last successful reset_peak_rss().
int64_t peak_rss_bytes();
// Lowers the kernel's peak-RSS mark to the current RSS (Linux >= 4.0, /proc/self/clear_refs "5"), so the next
// peak_rss_bytes() covers only what ran since. False when the system does not allow it.
bool reset_peak_rss();

// The CPU model as /proc/cpuinfo names it ("model name"), or "unknown".
std::string cpu_model_name();

// The thread count a Session asked for `threads` would use: `threads` itself when > 0, else
// mnet::cpu_budget().threads (OMP_NUM_THREADS, else the CPU affinity capped by the cgroup CPU quota).
int resolve_threads(int threads);
// Why resolve_threads(threads) chose its count, for report headers: "-t" or mnet::cpu_budget().reason.
std::string threads_reason(int threads);

// The model input for `batch` images: `image` preprocessed and repeated, or, when `image` is empty, random
// pixels (uniform 0..255, seeded) through the model's own normalisation, so values have a real input's range.
// Throws Io when the image cannot be read.
Tensor make_input(const Model& model, int batch, const std::string& image, uint32_t seed);

// A node name short enough for a table: TFLite names a fused op by all its source tensors joined with ';'
// ("MobilenetV2/Conv/Relu6;MobilenetV2/Conv/add_fold;..."), and the first of them says which layer it is. Applied
// to each part of a fused step ("a+b") and after a "reorder:"/"output:" prefix.
std::string display_name(const std::string& name);

// "1x3x224x224".
std::string shape_str(const Shape& shape);
// 300775552 -> "300.78 M", 3504872 -> "3.50 M", 1234 -> "1.23 k", 17 -> "17".
std::string human_count(double n);
// 89128960 -> "85.0 MiB".
std::string human_bytes(int64_t bytes);

}  // namespace mnet::cli
