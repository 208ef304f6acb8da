// SPDX-License-Identifier: Apache-2.0
// `mnet profile` as a table, CSV and JSON (the trace and the SVG chart are in profile_charts.cpp).
#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/measure.h"
#include "cli/profile_report.h"

namespace mnet::cli {

namespace {

using json = nlohmann::ordered_json;  // keys in the order written: the documented order

constexpr size_t kMaxNameWidth = 48;  // longer step names keep their tail, the part that tells layers apart
constexpr double kMacsPerMega = 1e6;
constexpr double kBusyMachineRatio = 1.15;  // clock reads between steps cost far less than 15%

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
    char buf[512];
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    return buf;
}

std::string shorten(const std::string& s, size_t width) {
    if (s.size() <= width) return s;
    return "..." + s.substr(s.size() - (width - 3));
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

double percent(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; }

}  // namespace

std::string profile_table(const ProfileResult& r) {
    size_t name_w = 4, op_w = 2, shape_w = 6, impl_w = 4;
    for (const StepProfile& s : r.steps) {
        name_w = std::max(name_w, std::min(kMaxNameWidth, display_name(s.step.name).size()));
        op_w = std::max(op_w, s.step.op.size());
        shape_w = std::max(shape_w, shape_str(s.step.dst_shape).size());
        impl_w = std::max(impl_w, s.step.impl.size());
    }
    const int nw = static_cast<int>(name_w), ow = static_cast<int>(op_w), sw = static_cast<int>(shape_w),
              iw = static_cast<int>(impl_w);
    std::string out = format("%s: %s, batch %d, %d thread%s (%s), %s input, %d runs after %d warm-up%s (times in "
                             "ms)\n\n",
                             r.model.c_str(), r.precision.c_str(), r.batch, r.threads, r.threads == 1 ? "" : "s",
                             r.threads_reason.c_str(), r.input.c_str(), r.runs, r.warmup, r.fuse_dw ? ", --fuse-dw" : "");
    out += format("%4s  %-*s  %-*s  %-*s  %-*s  %-4s  %9s  %8s  %8s  %8s  %8s  %6s  %7s\n", "#", nw, "step", ow, "op",
                  sw, "output", iw, "impl", "type", "MMACs", "median", "p90", "min", "max", "share", "GFLOP/s");
    for (size_t i = 0; i < r.steps.size(); ++i) {
        const StepProfile& s = r.steps[i];
        const std::string gflops = s.step.macs > 0 ? format("%7.1f", s.gflops) : std::string(7, ' ');
        out += format("%4zu  %-*s  %-*s  %-*s  %-*s  %-4s  %9.2f  %8.3f  %8.3f  %8.3f  %8.3f  %5.1f%%  %s\n", i + 1,
                      nw, shorten(display_name(s.step.name), name_w).c_str(), ow, s.step.op.c_str(), sw,
                      shape_str(s.step.dst_shape).c_str(), iw, s.step.impl.c_str(), s.step.type.c_str(),
                      static_cast<double>(s.step.macs) / kMacsPerMega, s.stats.median, s.stats.p90, s.stats.min,
                      s.stats.max, 100.0 * s.share, gflops.c_str());
    }

    int reorders = 0;
    double reorder_ms = 0;
    for (const StepProfile& s : r.steps) {
        if (!s.is_reorder()) continue;
        ++reorders;
        reorder_ms += s.stats.median;
    }
    const double overhead = r.layer_sum_ms - r.end_to_end.median;
    const double gflops = r.end_to_end.median > 0 ? 2.0 * static_cast<double>(r.macs) / r.end_to_end.median * 1e-6 : 0;
    out += "\n";
    out += format("steps                 %zu (%d reorder%s: %.3f ms, %.1f%% — where the activation layout changes or "
                  "an output leaves the engine)\n",
                  r.steps.size(), reorders, reorders == 1 ? "" : "s", reorder_ms, percent(reorder_ms, r.layer_sum_ms));
    out += format("sum of step medians   %8.3f ms   (profiling on: a clock read and a stream wait per step)\n",
                  r.layer_sum_ms);
    out += format("profiled run median   %8.3f ms   (the same runs, timed as a whole)\n", r.profiled_run.median);
    out += format("end-to-end median     %8.3f ms   (a separate session, profiling off; p90 %.3f, min %.3f, "
                  "max %.3f)\n",
                  r.end_to_end.median, r.end_to_end.p90, r.end_to_end.min, r.end_to_end.max);
    out += format("profiling overhead    %8.3f ms   (%+.1f%% of end-to-end)\n", overhead,
                  percent(overhead, r.end_to_end.median));
    out += format("first run             %8.3f ms   (profiled session, steps add up to %.3f ms; excluded above)\n",
                  r.first_run_ms, r.first_run_layer_sum_ms);
    out += format("throughput            %8.1f images/s, %.1f GFLOP/s (%s MACs per run, end-to-end median)\n",
                  r.end_to_end.median > 0 ? 1000.0 * r.batch / r.end_to_end.median : 0.0, gflops,
                  human_count(static_cast<double>(r.macs)).c_str());
    out += format("model load            %8.3f ms,  session creation %.3f ms\n", r.load_ms, r.session_ms);
    out += format("peak RSS              %s\n", human_bytes(r.peak_rss).c_str());
    // A step's median skips the runs in which the OS preempted it; a whole run rarely escapes every preemption.
    // When the two disagree this much, the machine was busy and the end-to-end figures are inflated.
    if (r.profiled_run.median > kBusyMachineRatio * r.layer_sum_ms) {
        out += format("\nnote: whole profiled runs took %.0f%% longer than their steps' medians add up to: other "
                      "processes\n      were competing for the CPUs, so run-level times (end-to-end, overhead) are "
                      "inflated. Check `uptime` and repeat.\n",
                      percent(r.profiled_run.median - r.layer_sum_ms, r.layer_sum_ms));
    }
    return out;
}

std::string profile_csv(const ProfileResult& r) {
    std::string out = "index,name,op,kind,impl,type,output_shape,macs,median_ms,p90_ms,min_ms,max_ms,mean_ms,first_run_ms,"
                      "share,gflops\n";
    for (size_t i = 0; i < r.steps.size(); ++i) {
        const StepProfile& s = r.steps[i];
        out += std::to_string(i + 1) + "," + csv_field(s.step.name) + "," + csv_field(s.step.op) + "," +
               csv_field(s.kind) + "," + csv_field(s.step.impl) + "," + s.step.type + "," + shape_str(s.step.dst_shape) + "," +
               std::to_string(s.step.macs) +
               format(",%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f\n", s.stats.median, s.stats.p90, s.stats.min,
                      s.stats.max, s.stats.mean, s.first_ms, s.share, s.gflops);
    }
    return out;
}

std::string profile_json(const ProfileResult& r) {
    json steps = json::array();
    int reorders = 0;
    double reorder_ms = 0;
    for (size_t i = 0; i < r.steps.size(); ++i) {
        const StepProfile& s = r.steps[i];
        if (s.is_reorder()) {
            ++reorders;
            reorder_ms += s.stats.median;
        }
        steps.push_back({{"index", i + 1},
                         {"name", s.step.name},
                         {"display_name", display_name(s.step.name)},
                         {"op", s.step.op},
                         {"kind", s.kind},
                         {"impl", s.step.impl},
                         {"type", s.step.type},
                         {"reorder", s.is_reorder()},
                         {"shape", s.step.dst_shape},
                         {"macs", s.step.macs},
                         {"median_ms", s.stats.median},
                         {"p90_ms", s.stats.p90},
                         {"min_ms", s.stats.min},
                         {"max_ms", s.stats.max},
                         {"mean_ms", s.stats.mean},
                         {"first_run_ms", s.first_ms},
                         {"share", s.share},
                         {"gflops", s.gflops}});
    }
    auto summary = [](const Summary& s) {
        return json{{"median_ms", s.median}, {"p90_ms", s.p90}, {"p99_ms", s.p99},
                    {"min_ms", s.min},       {"max_ms", s.max}, {"mean_ms", s.mean}};
    };
    json doc = {{"model", r.model},
                {"input", r.input},
                {"batch", r.batch},
                {"threads", r.threads},
                {"threads_reason", r.threads_reason},
                {"thread_choice", thread_choice_json(r.thread_choice)},
                {"runs", r.runs},
                {"warmup", r.warmup},
                {"fuse_dw", r.fuse_dw},
                {"precision", r.precision},
                {"mnet_version", mnet_version()},
                {"onednn_version", onednn_version()},
                {"cpu_isa", cpu_isa()},
                {"cpu_model", cpu_model_name()},
                {"macs", r.macs},
                {"layers", steps},
                {"totals",
                 {{"layer_count", r.steps.size()},
                  {"reorder_count", reorders},
                  {"reorder_ms", reorder_ms},
                  {"layer_sum_median_ms", r.layer_sum_ms},
                  {"profiled_run", summary(r.profiled_run)},
                  {"end_to_end", summary(r.end_to_end)},
                  {"profiling_overhead_ms", r.layer_sum_ms - r.end_to_end.median},
                  {"first_run_ms", r.first_run_ms},
                  {"first_run_layer_sum_ms", r.first_run_layer_sum_ms},
                  {"load_ms", r.load_ms},
                  {"session_ms", r.session_ms},
                  {"gflops", r.end_to_end.median > 0 ? 2.0 * static_cast<double>(r.macs) / r.end_to_end.median * 1e-6
                                                     : 0.0},
                  {"peak_rss_bytes", r.peak_rss}}}};
    return doc.dump(2) + "\n";
}

}  // namespace mnet::cli
