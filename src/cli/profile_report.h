// SPDX-License-Identifier: Apache-2.0
// What `mnet profile` measured, and its five renderings: an aligned table, CSV, one JSON document,
// Chrome/Perfetto trace events, and an SVG bar chart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/stats.h"
#include "mnet/engine.h"
#include "runtime/session_factory.h"

namespace mnet::cli {

// One executed step (a node, a fused group of nodes, a layout reorder or a graph-output copy) over all runs.
struct StepProfile {
    LayerTiming step;        // name, op, impl, dst_shape, macs (at the session's batch); `ms` unused
    std::string kind;        // what the step is, for colours and legends: "conv 1x1", "depthwise conv", "reorder"...
    std::vector<double> ms;  // one per timed run
    double first_ms = 0;     // in the very first run
    Summary stats;           // of `ms`
    double share = 0;        // stats.median / the sum of all medians
    double gflops = 0;       // 2 * macs / stats.median

    bool is_reorder() const { return step.op == "reorder"; }
};

struct ProfileResult {
    std::string model;
    std::string input;  // the image, or "random (seed N)"
    int batch = 1;
    int threads = 0;                      // what the session ran
    std::string threads_reason;           // thread_choice_text(): how the count was chosen
    ThreadChoice thread_choice;
    int runs = 0;
    int warmup = 0;
    bool fuse_dw = false;                 // SessionOptions::fuse_dw
    std::string precision = "fp32";       // what ran: "fp32" or "int8"
    int64_t macs = 0;                     // per run: the model's MACs times the batch
    double load_ms = 0;                   // Model::load
    double session_ms = 0;                // creating the profiled Session
    std::vector<StepProfile> steps;       // in execution order
    std::vector<double> run_start_ms;     // start of each timed profiled run, from the first one's
    Summary profiled_run;                 // wall time of the profiled runs
    Summary end_to_end;                   // wall time of the runs of a separate session with profiling off
    double first_run_ms = 0;              // wall time of the profiled session's first run
    double first_run_layer_sum_ms = 0;    // the first run's steps, added up
    double layer_sum_ms = 0;              // the steps' medians, added up
    int64_t peak_rss = 0;                 // bytes
};

std::string profile_table(const ProfileResult& r);
std::string profile_csv(const ProfileResult& r);
std::string profile_json(const ProfileResult& r);
// {"traceEvents":[...]}: one complete ("X") event per step per timed run, the runs one after another.
std::string profile_trace(const ProfileResult& r);
// A standalone SVG: one horizontal bar (<rect>) per step, its median time, coloured by kind, with a legend.
std::string profile_svg(const ProfileResult& r);

}  // namespace mnet::cli
