// SPDX-License-Identifier: Apache-2.0
// Sessions with lowering switches other than the defaults (fusion off, the u8 classifier off): for the tests that
// compare fused with unfused execution and for profile/bench's --no-fuse-dw. How a session chose its thread count,
// for bench and profile to report, and the seam through which tests give that choice its timings. Not part of the
// public API.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "mnet/engine.h"
#include "ops/lowering_options.h"

namespace mnet {

// How a session's thread count was decided (docs/performance.md, "Threads").
struct ThreadChoice {
    enum class Basis {
        Asked,      // SessionOptions::threads > 0: used as given
        Budget,     // threads = 0, nothing to choose: throughput streams, a budget of one, or work above the band
        SmallWork,  // threads = 0, a latency run under the band, or in it with measure_threads off: one thread
        Measured,   // threads = 0, work in the band: a one-thread and a budget plan timed, the faster one kept
    };
    Basis basis = Basis::Asked;
    int64_t work = 0;  // per run: MACs x batch, an fp32 MAC counting 4
    int budget = 1;    // the threads on offer: the count asked, or cpu_budget().threads for 0
    int threads = 1;   // what the session runs (Session::options().threads)
    // Measured only: the median time of one run of each plan over `rounds` alternated rounds, in ms.
    double one_thread_ms = 0;
    double budget_ms = 0;
    int rounds = 0;
};

// "asked", "budget", "small-work" or "measured": the name reports use.
const char* basis_name(ThreadChoice::Basis basis);

// One timed run of a candidate plan while a session chooses its thread count: calls `run` (one run of the plan
// with `threads` threads) and returns how long it took, in ms. The default reads the steady clock around it;
// tests give times of their own, so that no pass/fail result depends on the clock.
using PlanTimer = std::function<double(int threads, const std::function<void()>& run)>;

struct SessionFactory {
    static std::unique_ptr<Session> make(std::shared_ptr<const Model> model, const SessionOptions& options,
                                         const LoweringOptions& lowering, const PlanTimer& timer = {});
    static const ThreadChoice& thread_choice(const Session& session);
};

}  // namespace mnet
