// SPDX-License-Identifier: Apache-2.0
#include "cli/quantize_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "cli/measure.h"
#include "mnet/engine.h"
#include "mnet/quantize.h"

namespace mnet::cli {

namespace {

constexpr size_t kWorstMarked = 3;

struct Sums {
    double dot = 0, fp = 0, q = 0, diff = 0;
};

size_t argmax(const Tensor& t) {
    return static_cast<size_t>(std::max_element(t.data.begin(), t.data.end()) - t.data.begin());
}

}  // namespace

QuantizeReport compare_quantized(const std::shared_ptr<const Model>& float_model,
                                 const std::shared_ptr<const Model>& quantized,
                                 const std::vector<std::vector<float>>& images, int threads) {
    const auto fp_every = with_every_output(*float_model);
    const auto q_every = with_every_output(*quantized);
    SessionOptions fo;
    fo.threads = threads;
    fo.precision = Precision::Fp32;
    SessionOptions qo = fo;
    qo.precision = Precision::Int8;
    Session fs(fp_every, fo), qs(q_every, qo);
    std::map<std::string, size_t> q_index;
    for (size_t i = 0; i < q_every->outputs().size(); ++i) q_index[q_every->outputs()[i].name] = i;

    // with_every_output lists the model's own outputs first, then the other node outputs in execution order; the
    // model's outputs come last in a graph, so they are compared last.
    std::vector<size_t> compared;
    for (size_t i = float_model->outputs().size(); i < fp_every->outputs().size(); ++i) compared.push_back(i);
    for (size_t i = 0; i < float_model->outputs().size(); ++i) compared.push_back(i);
    std::vector<Sums> sums(fp_every->outputs().size());
    QuantizeReport report;
    Tensor input(float_model->input_shape());
    for (const std::vector<float>& image : images) {
        std::memcpy(input.data.data(), image.data(), std::min(image.size(), input.data.size()) * sizeof(float));
        fs.run(input);
        qs.run(input);
        report.top1_agree += argmax(fs.output(0)) == argmax(qs.output(0)) ? 1 : 0;
        ++report.images;
        for (size_t i : compared) {
            const auto it = q_index.find(fp_every->outputs()[i].name);
            if (it == q_index.end()) continue;
            const Tensor& a = fs.output(i);
            const Tensor& b = qs.output(it->second);
            const size_t n = std::min(a.data.size(), b.data.size());
            for (size_t k = 0; k < n; ++k) {
                const double x = a.data[k], y = b.data[k];
                sums[i].dot += x * y;
                sums[i].fp += x * x;
                sums[i].q += y * y;
                sums[i].diff += (x - y) * (x - y);
            }
        }
    }
    for (size_t i : compared) {
        if (!q_index.count(fp_every->outputs()[i].name)) continue;
        const Sums& s = sums[i];
        LayerError e;
        e.name = fp_every->outputs()[i].name;
        e.cosine = s.fp > 0 && s.q > 0 ? s.dot / std::sqrt(s.fp * s.q) : (s.fp == s.q ? 1.0 : 0.0);
        e.rel_error = s.fp > 0 ? std::sqrt(s.diff / s.fp) : std::sqrt(s.diff);
        report.layers.push_back(e);
    }
    return report;
}

void print_quantize_report(const QuantizeReport& r) {
    std::vector<size_t> order(r.layers.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r.layers[a].cosine < r.layers[b].cosine; });
    std::vector<bool> worst(r.layers.size(), false);
    for (size_t i = 0; i < std::min(kWorstMarked, order.size()); ++i) worst[order[i]] = true;

    std::printf("int8 against fp32, layer by layer, on %zu calibration image%s:\n", r.images, r.images == 1 ? "" : "s");
    std::printf("%4s  %-48s  %9s  %9s\n", "#", "activation", "cosine", "rel.error");
    for (size_t i = 0; i < r.layers.size(); ++i) {
        const LayerError& e = r.layers[i];
        std::printf("%4zu  %-48s  %9.5f  %9.5f%s\n", i + 1, display_name(e.name).substr(0, 48).c_str(), e.cosine,
                    e.rel_error, worst[i] ? "  <- among the worst" : "");
    }
    std::printf("top-1 agreement (int8 vs fp32): %zu of %zu images (%.1f%%)\n", r.top1_agree, r.images,
                r.images ? 100.0 * static_cast<double>(r.top1_agree) / static_cast<double>(r.images) : 0.0);
}

}  // namespace mnet::cli
