// SPDX-License-Identifier: Apache-2.0
// `mnet profile` as pictures: trace-event JSON for chrome://tracing and ui.perfetto.dev, and an SVG bar chart.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/measure.h"
#include "cli/profile_report.h"

namespace mnet::cli {

namespace {

using json = nlohmann::ordered_json;  // keys in the order written: the documented order

constexpr double kUsPerMs = 1000.0;  // trace-event timestamps and durations are in microseconds

// The SVG's geometry, in pixels.
constexpr double kChartWidth = 1000;
constexpr double kCharWidth = 6.6;  // of 11px monospace, for sizing the label column
constexpr size_t kMaxLabelChars = 48;
constexpr double kMargin = 12;
constexpr double kRowHeight = 15;
constexpr double kBarHeight = 11;
constexpr double kTitleHeight = 50;  // a title and a subtitle line
constexpr double kLegendRowHeight = 18;
constexpr double kValueWidth = 110;  // room right of the longest bar for its value
constexpr double kAxisHeight = 28;
constexpr int kTargetTicks = 6;

// Tableau 10: distinguishable, and readable for the common colour-vision deficiencies.
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f"};
// Layout plumbing stays grey, whatever else is on the chart.
constexpr const char* kReorderColour = "#bab0ac";
constexpr const char* kOutputCopyColour = "#79706e";

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string num(double v, int decimals = 1) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

// 1, 2 or 5 times a power of ten, giving about kTargetTicks gridlines up to `max`.
double tick_step(double max) {
    if (max <= 0) return 1;
    const double raw = max / kTargetTicks;
    const double pow10 = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0}) {
        if (m * pow10 >= raw) return m * pow10;
    }
    return 10 * pow10;
}

std::string tail(const std::string& s, size_t width) {
    return s.size() <= width ? s : "..." + s.substr(s.size() - (width - 3));
}

}  // namespace

std::string profile_trace(const ProfileResult& r) {
    std::string out = "{\"traceEvents\":[\n";
    const json meta_process = {{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"tid", 1},
                               {"args", {{"name", "mnet profile " + r.model}}}};
    const json meta_thread = {{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", 1},
                              {"args", {{"name", "batch " + std::to_string(r.batch) + ", " +
                                                     std::to_string(r.threads) +
                                                     (r.threads == 1 ? " thread" : " threads")}}}};
    out += meta_process.dump() + ",\n" + meta_thread.dump();
    // Each run starts when it really started (so gaps between runs show), steps follow back to back: the
    // engine runs them in order on one stream, and the clock reads between them are all that separates them.
    double cursor_us = 0;
    for (int run = 0; run < r.runs; ++run) {
        const double start_ms = run < static_cast<int>(r.run_start_ms.size()) ? r.run_start_ms[run] : 0.0;
        double t_us = std::max(start_ms * kUsPerMs, cursor_us);
        for (size_t i = 0; i < r.steps.size(); ++i) {
            const StepProfile& s = r.steps[i];
            const double dur_us = s.ms[static_cast<size_t>(run)] * kUsPerMs;
            const json event = {{"name", display_name(s.step.name)},
                                {"cat", s.kind},
                                {"ph", "X"},
                                {"ts", t_us},
                                {"dur", dur_us},
                                {"pid", 1},
                                {"tid", 1},
                                {"args",
                                 {{"run", run},
                                  {"node", s.step.name},
                                  {"step", i + 1},
                                  {"op", s.step.op},
                                  {"impl", s.step.impl},
                                  {"shape", shape_str(s.step.dst_shape)},
                                  {"macs", s.step.macs}}}};
            out += ",\n" + event.dump();
            t_us += dur_us;
        }
        cursor_us = t_us;
    }
    const json other = {{"model", r.model},          {"batch", r.batch},
                        {"threads", r.threads},      {"runs", r.runs},
                        {"warmup", r.warmup},        {"fuse_dw", r.fuse_dw},
                        {"mnet_version", mnet_version()},
                        {"onednn_version", onednn_version()}, {"cpu_isa", cpu_isa()}};
    out += "\n],\"displayTimeUnit\":\"ms\",\"otherData\":" + other.dump() + "}\n";
    return out;
}

std::string profile_svg(const ProfileResult& r) {
    // Colours by kind, in order of first appearance.
    std::vector<std::string> kinds;
    std::map<std::string, std::string> colour;
    std::map<std::string, double> kind_ms;
    size_t next = 0;
    double max_ms = 0;
    size_t label_chars = 4;
    for (const StepProfile& s : r.steps) {
        if (!colour.count(s.kind)) {
            kinds.push_back(s.kind);
            if (s.is_reorder()) {
                colour[s.kind] = s.kind == "reorder" ? kReorderColour : kOutputCopyColour;
            } else {
                colour[s.kind] = kPalette[next++ % std::size(kPalette)];
            }
        }
        kind_ms[s.kind] += s.stats.median;
        max_ms = std::max(max_ms, s.stats.median);
        label_chars = std::max(label_chars, std::min(kMaxLabelChars, display_name(s.step.name).size()));
    }
    const double label_w = static_cast<double>(label_chars) * kCharWidth;
    const double x0 = kMargin + label_w + 8;
    const double bar_w = kChartWidth - x0 - kValueWidth - kMargin;
    const double step = tick_step(max_ms);
    const double axis_max = std::max(step, std::ceil(max_ms / step) * step);
    const double scale = bar_w / axis_max;

    // The legend flows left to right and wraps.
    std::string legend;
    double lx = kMargin, ly = kMargin + kTitleHeight;
    for (const std::string& k : kinds) {
        const std::string text = k + " " + num(kind_ms[k], 2) + " ms (" +
                                 num(r.layer_sum_ms > 0 ? 100 * kind_ms[k] / r.layer_sum_ms : 0) + "%)";
        const double w = 16 + static_cast<double>(text.size()) * kCharWidth + 18;
        if (lx + w > kChartWidth - kMargin && lx > kMargin) {
            lx = kMargin;
            ly += kLegendRowHeight;
        }
        // A path, not a rect: the chart has exactly one <rect> per step, which tools (and our tests) count.
        legend += "<path d=\"M" + num(lx) + " " + num(ly - 10) + "h11v11h-11z\" fill=\"" + colour[k] + "\"/>";
        legend += "<text x=\"" + num(lx + 16) + "\" y=\"" + num(ly) + "\">" + xml_escape(text) + "</text>\n";
        lx += w;
    }
    const double top = ly + kLegendRowHeight;
    const double plot_h = static_cast<double>(r.steps.size()) * kRowHeight;
    const double height = top + plot_h + kAxisHeight + kMargin;

    std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kChartWidth, 0) + "\" height=\"" +
                      num(height, 0) + "\" viewBox=\"0 0 " + num(kChartWidth, 0) + " " + num(height, 0) +
                      "\" font-family=\"monospace\" font-size=\"11\" style=\"background:#fff\">\n";
    out += "<text x=\"" + num(kMargin) + "\" y=\"" + num(kMargin + 12) + "\" font-size=\"14\" font-weight=\"bold\">" +
           xml_escape(r.model + ": median time per step") + "</text>\n";
    out += "<text x=\"" + num(kMargin) + "\" y=\"" + num(kMargin + 30) + "\">" +
           xml_escape("batch " + std::to_string(r.batch) + ", " + std::to_string(r.threads) +
                      (r.threads == 1 ? " thread, " : " threads, ") + std::to_string(r.runs) +
                      " runs; steps add up to " + num(r.layer_sum_ms, 3) + " ms, end-to-end (profiling off) " +
                      num(r.end_to_end.median, 3) + " ms") +
           "</text>\n";
    out += legend;
    // Gridlines and their labels (ms).
    for (double t = 0; t <= axis_max + step / 2; t += step) {
        const double x = x0 + t * scale;
        out += "<line x1=\"" + num(x) + "\" y1=\"" + num(top - 4) + "\" x2=\"" + num(x) + "\" y2=\"" +
               num(top + plot_h) + "\" stroke=\"#ddd\"/>";
        out += "<text x=\"" + num(x) + "\" y=\"" + num(top + plot_h + 14) + "\" text-anchor=\"middle\">" +
               num(t, step < 0.01 ? 3 : step < 0.1 ? 2 : step < 1 ? 1 : 0) + "</text>\n";
    }
    out += "<text x=\"" + num(x0 + bar_w / 2) + "\" y=\"" + num(top + plot_h + 26) +
           "\" text-anchor=\"middle\">milliseconds (median over runs)</text>\n";
    for (size_t i = 0; i < r.steps.size(); ++i) {
        const StepProfile& s = r.steps[i];
        const double y = top + static_cast<double>(i) * kRowHeight;
        const double w = std::max(0.5, s.stats.median * scale);
        const std::string tip = display_name(s.step.name) + " (" + s.step.op + ", " + s.step.impl + ", " +
                                shape_str(s.step.dst_shape) + "): median " + num(s.stats.median, 3) + " ms, " +
                                num(100 * s.share) + "%";
        out += "<text x=\"" + num(x0 - 6) + "\" y=\"" + num(y + kBarHeight - 1) + "\" text-anchor=\"end\">" +
               xml_escape(tail(display_name(s.step.name), kMaxLabelChars)) + "</text>";
        out += "<rect x=\"" + num(x0) + "\" y=\"" + num(y) + "\" width=\"" + num(w, 2) + "\" height=\"" +
               num(kBarHeight) + "\" fill=\"" + colour[s.kind] + "\"><title>" + xml_escape(tip) + "</title></rect>";
        out += "<text x=\"" + num(x0 + w + 4) + "\" y=\"" + num(y + kBarHeight - 1) + "\">" +
               num(s.stats.median, 3) + " ms</text>\n";
    }
    out += "</svg>\n";
    return out;
}

}  // namespace mnet::cli
