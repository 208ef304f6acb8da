// SPDX-License-Identifier: Apache-2.0
#include "cli/measure.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/common_options.h"
#include "core/file_io.h"
#include "mnet/error.h"
#include "mnet/image.h"
#include "runtime/session_factory.h"

namespace mnet::cli {

Summary time_runs(Session& session, const Tensor& input, int warmup, int runs) {
    for (int i = 0; i < warmup; ++i) session.run(input);
    std::vector<double> samples;
    samples.reserve(static_cast<size_t>(std::max(runs, 0)));
    for (int i = 0; i < runs; ++i) {
        const auto start = Clock::now();
        session.run(input);
        samples.push_back(ms_since(start));
    }
    return summarize(std::move(samples));
}

namespace {

constexpr int64_t kBytesPerKib = 1024;  // Linux reports ru_maxrss in KiB
constexpr int kMaxPixel = 255;          // 8-bit images

}  // namespace

std::unique_ptr<Session> make_session(std::shared_ptr<const Model> model, const SessionOptions& options,
                                      bool fuse_dw) {
    LoweringOptions lowering;
    lowering.fuse_dw = fuse_dw;
    return SessionFactory::make(std::move(model), options, lowering);
}

CLI::Option* add_fuse_dw_flag(CLI::App* sub, bool& fuse_dw) {
    return sub->add_flag("--fuse-dw,!--no-fuse-dw", fuse_dw,
                         std::string("Fuse a pointwise 1x1 conv with the depthwise conv after it where oneDNN has "
                                     "a real fused kernel (default: ") +
                             (fuse_dw ? "on" : "off") + ")");
}

const ThreadChoice& thread_choice(const Session& session) { return SessionFactory::thread_choice(session); }

nlohmann::ordered_json thread_choice_json(const ThreadChoice& choice) {
    nlohmann::ordered_json out = {
        {"basis", basis_name(choice.basis)}, {"budget", choice.budget}, {"threads", choice.threads}};
    if (choice.basis == ThreadChoice::Basis::Measured) {
        out["one_thread_ms"] = choice.one_thread_ms;
        out["budget_ms"] = choice.budget_ms;
        out["rounds"] = choice.rounds;
    }
    return out;
}

std::string thread_choice_text(const ThreadChoice& choice) {
    switch (choice.basis) {
        case ThreadChoice::Basis::Asked: return "-t";
        case ThreadChoice::Basis::Budget: return threads_reason(0);
        case ThreadChoice::Basis::SmallWork:
            return "one of " + std::to_string(choice.budget) + ": too little work to split";
        case ThreadChoice::Basis::Measured: break;
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "of %d, measured at session creation: 1 thread %.3f ms, %d threads %.3f ms, "
                  "medians of %d rounds", choice.budget, choice.one_thread_ms, choice.budget, choice.budget_ms,
                  choice.rounds);
    return buf;
}

int64_t peak_rss_bytes() {
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
    return static_cast<int64_t>(usage.ru_maxrss) * kBytesPerKib;
}

bool reset_peak_rss() {
    // "5" resets the peak RSS to the current RSS (proc(5), clear_refs); getrusage reads the same mark.
    std::ofstream out("/proc/self/clear_refs");
    if (!out) return false;
    out << "5";
    out.close();
    return static_cast<bool>(out);
}

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) != 0) continue;
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        const size_t begin = line.find_first_not_of(" \t", colon + 1);
        return begin == std::string::npos ? "unknown" : line.substr(begin);
    }
    return "unknown";
}

int resolve_threads(int threads) { return threads > 0 ? threads : cpu_budget().threads; }

std::string threads_reason(int threads) { return threads > 0 ? "-t" : cpu_budget().reason; }

Tensor make_input(const Model& model, int batch, const std::string& image, uint32_t seed) {
    Shape shape = model.input_shape();
    shape[0] = batch;
    Tensor input(shape);
    const auto per_image = static_cast<size_t>(shape_numel(model.input_shape()));
    if (!image.empty()) {
        const Tensor one = load_image(image, model.preprocess());
        for (int b = 0; b < batch; ++b) std::copy(one.data.begin(), one.data.end(), input.data.begin() + b * per_image);
        return input;
    }
    const Preprocess& pp = model.preprocess();
    const auto plane = static_cast<size_t>(shape[2] * shape[3]);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pixel(0, kMaxPixel);
    for (size_t i = 0; i < input.data.size(); ++i) {
        const size_t c = (i / plane) % 3;
        input.data[i] = (static_cast<float>(pixel(rng)) - pp.mean[c]) / pp.std[c];
    }
    return input;
}

std::string display_name(const std::string& name) {
    std::string out;
    size_t pos = 0;
    const size_t colon = name.find(':');
    if (colon != std::string::npos && (name.rfind("reorder:", 0) == 0 || name.rfind("output:", 0) == 0)) {
        out = name.substr(0, colon + 1);
        pos = colon + 1;
    }
    while (pos <= name.size()) {
        const size_t plus = std::min(name.find('+', pos), name.size());
        const std::string part = name.substr(pos, plus - pos);
        out += part.substr(0, part.find(';'));
        if (plus == name.size()) break;
        out += '+';
        pos = plus + 1;
    }
    return out;
}

std::string shape_str(const Shape& shape) {
    std::string out;
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? "x" : "") + std::to_string(shape[i]);
    return out;
}

std::string human_count(double n) {
    char buf[32];
    if (n >= 1e9) {
        std::snprintf(buf, sizeof buf, "%.2f G", n / 1e9);
    } else if (n >= 1e6) {
        std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
    } else if (n >= 1e3) {
        std::snprintf(buf, sizeof buf, "%.2f k", n / 1e3);
    } else {
        std::snprintf(buf, sizeof buf, "%.0f", n);
    }
    return buf;
}

std::string human_bytes(int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return buf;
}

}  // namespace mnet::cli
