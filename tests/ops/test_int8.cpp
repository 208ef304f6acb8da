// SPDX-License-Identifier: Apache-2.0
// Int8 execution of small quantized graphs against the naive reference's fake-quantization (the same graph in
// double, every quantized activation rounded to its grid). Weights are integers on a grid the engine keeps
// exactly, so engine and reference compute the same function and may differ only where a value lies within
// float rounding of a half step: at most one step, in few elements.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "runtime/session_factory.h"
#include "mnet/engine.h"
#include "graph/loader.h"
#include "ops/reference/reference.h"
#include "support/model_builder.h"

using namespace mnet;
using namespace mnet::test;

namespace {

constexpr double kRelu6Scale = 6.0 / 255;  // TFLite's u8 ReLU6 output: [0, 6]
constexpr double kMaxOffElements = 0.01;   // share of elements allowed one step off (half-step ties)

// Scales are deliberately not simple ratios of each other: the sum of two quantized values would otherwise land
// exactly on half steps, where the reference (round half to even, then add the zero point) and oneDNN (add the
// zero point, then round half to even) may differ by one step.
//
// Convolution weights k * scale with integers k the engine's s8 re-quantization reproduces exactly: every output
// channel holds one +-127 (so max|w| / 127 is `scale`) whose partner input channel is 0, the rest in [-40, 40]
// (no pair of input channels reaches the AVX2 int16 limit, see ops/quantize.h).
std::vector<float> grid_weights(std::mt19937& rng, int64_t OC, int64_t ICG, int64_t taps, float scale) {
    std::uniform_int_distribution<int> small(-40, 40), sign(0, 1);
    std::vector<float> w(static_cast<size_t>(OC * ICG * taps));
    for (int64_t oc = 0; oc < OC; ++oc) {
        float* c = w.data() + oc * ICG * taps;
        for (int64_t i = 0; i < ICG * taps; ++i) c[i] = static_cast<float>(small(rng)) * scale;
        c[0] = (sign(rng) ? 127.f : -127.f) * scale;  // input channel 0, tap 0
        if (ICG > 1) c[taps] = 0.f;                    // input channel 1, tap 0: its pair partner
    }
    return w;
}

std::string conv(ModelBuilder& b, std::mt19937& rng, const std::string& x, const ConvSpec& spec, float weight_scale) {
    const Shape& s = b.shape(x);
    const int64_t ICG = s[1] / spec.groups;
    std::vector<float> bias = b.uniform(static_cast<size_t>(spec.out_channels), -0.5f, 0.5f);
    return b.conv_with(x, spec, grid_weights(rng, spec.out_channels, ICG, spec.kernel_h * spec.kernel_w, weight_scale),
                       bias);
}

// V1/V2 shapes: the 3-channel stride-2 first convolution with TF's bottom/right padding, depthwise and pointwise
// convolutions with ReLU6 saturation (and ReLU6s the saturation does not imply), a projection with a zero point,
// a residual add, pooling, the classifier.
std::shared_ptr<const Model> v2_like(uint32_t seed) {
    ModelBuilder b(17, 17, seed);
    std::mt19937 rng(seed);
    b.quantize_input(DType::U8, 1.0 / 128, 128);
    const std::string c1 = conv(b, rng, b.input(), conv_spec(8, 3, 2, {0, 0, 1, 1}, 1, "relu6"), 0.01f);
    b.quantize(c1, DType::U8, kRelu6Scale, 0);
    const std::string d1 = conv(b, rng, c1, conv_spec(8, 3, 1, {1, 1, 1, 1}, 8, "relu6"), 0.02f);
    b.quantize(d1, DType::U8, kRelu6Scale, 0);
    const std::string p1 = conv(b, rng, d1, conv_spec(8, 1, 1, {0, 0, 0, 0}), 0.005f);
    b.quantize(p1, DType::U8, 0.0517, 120);
    // ReLU6s whose clip the u8 range does not imply: above (range [0, 8.08]) and below (zero point 10).
    const std::string e1 = conv(b, rng, p1, conv_spec(16, 1, 1, {0, 0, 0, 0}, 1, "relu6"), 0.03f);
    b.quantize(e1, DType::U8, 0.0317, 0);
    const std::string d2 = conv(b, rng, e1, conv_spec(16, 3, 1, {1, 1, 1, 1}, 16, "relu6"), 0.02f);
    b.quantize(d2, DType::U8, 0.0244, 10);
    const std::string p2 = conv(b, rng, d2, conv_spec(8, 1, 1, {0, 0, 0, 0}), 0.004f);
    b.quantize(p2, DType::U8, 0.0613, 131);
    const std::string a = b.binary("add", p2, p1);
    b.quantize(a, DType::U8, 0.0789, 125);
    const std::string g = b.global_avg_pool(a, true);
    b.quantize(g, DType::U8, 0.0789, 125);
    const std::string l = conv(b, rng, g, conv_spec(10, 1, 1, {0, 0, 0, 0}), 0.01f);
    b.quantize(l, DType::U8, 0.1, 100);
    const std::string r = b.reshape(l, {10});
    b.quantize(r, DType::U8, 0.1, 100);
    return b.build({r, b.softmax(r)});
}

// V3 shapes: hard-swish after a convolution and on its own, a ReLU that exists only as saturation (zero point
// 0, no activation), squeeze-excite (pool, two 1x1 convolutions, + 3 and * 1/6 as hard-sigmoid, a broadcast
// product with an input whose zero point is not 0).
std::shared_ptr<const Model> v3_like(uint32_t seed) {
    ModelBuilder b(16, 16, seed);
    std::mt19937 rng(seed);
    b.quantize_input(DType::U8, 1.0 / 127, 128);
    const std::string c1 = conv(b, rng, b.input(), conv_spec(8, 3, 2, {0, 0, 1, 1}), 0.01f);
    b.quantize(c1, DType::U8, 0.03, 99);
    const std::string h1 = b.activation(c1, "hard_swish");
    b.quantize(h1, DType::U8, 0.02, 20);
    const std::string d1 = conv(b, rng, h1, conv_spec(8, 3, 1, {1, 1, 1, 1}, 8), 0.02f);
    b.quantize(d1, DType::U8, 0.02, 0);  // ReLU by saturation
    const std::string pool = b.global_avg_pool(h1, true);
    b.quantize(pool, DType::U8, 0.02, 20);
    const std::string s1 = conv(b, rng, pool, conv_spec(4, 1, 1, {0, 0, 0, 0}, 1, "relu"), 0.01f);
    b.quantize(s1, DType::U8, 0.01, 0);
    const std::string s2 = conv(b, rng, s1, conv_spec(8, 1, 1, {0, 0, 0, 0}), 0.02f);
    b.quantize(s2, DType::U8, 0.02, 128);
    const std::string plus3 = b.binary_const_with("add", s2, {1}, {3.0f});
    b.quantize(plus3, DType::U8, kRelu6Scale, 0);
    const std::string gate = b.binary_const_with("mul", plus3, {1}, {1.0f / 6});
    b.quantize(gate, DType::U8, 1.0 / 255, 0);
    const std::string m = b.binary("mul", h1, gate);
    b.quantize(m, DType::U8, 0.0213, 20);
    const std::string sum = b.binary("add", m, d1);
    b.quantize(sum, DType::U8, 0.0307, 40);
    const std::string h2 = b.activation(sum, "hard_swish");
    b.quantize(h2, DType::U8, 0.02, 10);
    const std::string p = conv(b, rng, h2, conv_spec(8, 1, 1, {0, 0, 0, 0}), 0.004f);
    b.quantize(p, DType::U8, 0.05, 130);
    return b.build({p});
}

// The step of each output: the quantization of the node producing it, or 0 for a float output.
std::vector<double> output_steps(const Model& model) {
    std::vector<double> steps;
    for (const OutputInfo& o : model.outputs()) {
        double step = 0;
        for (const NodeDef& n : model_impl(model).def.nodes) {
            if (n.output == o.name && n.dst_quant) step = n.dst_quant->scale[0];
        }
        steps.push_back(step);
    }
    return steps;
}

void check_int8(const std::shared_ptr<const Model>& model, int batch, bool fuse) {
    Tensor src = random_input(*model, batch, 7, -1.1f, 1.1f);  // a little past the input's range: saturation too
    const std::vector<Tensor> want = reference::run(*model, src, true);
    SessionOptions o;
    o.batch = batch;
    o.precision = Precision::Int8;
    o.profile = true;
    LoweringOptions lowering;
    lowering.fuse_add = fuse;
    lowering.fuse_activation = fuse;
    const std::unique_ptr<Session> fused = SessionFactory::make(model, o, lowering);
    Session& session = *fused;
    session.run(src);
    for (const LayerTiming& t : session.timings()) {
        CAPTURE(t.name, t.impl);
        CHECK(t.impl.rfind("ref", 0) != 0);
    }
    const std::vector<double> steps = output_steps(*model);
    for (size_t i = 0; i < want.size(); ++i) {
        const Tensor& got = session.output(i);
        REQUIRE(got.data.size() == want[i].data.size());
        double worst = 0;
        size_t off = 0;
        for (size_t k = 0; k < got.data.size(); ++k) {
            const double d = std::abs(double(got.data[k]) - double(want[i].data[k]));
            worst = std::max(worst, d);
            off += steps[i] > 0 && d > 0.5 * steps[i];
        }
        CAPTURE(i, batch, fuse, steps[i], worst, off);
        if (steps[i] > 0) {
            CHECK(worst <= steps[i] * 1.0001);
            CHECK(static_cast<double>(off) <= kMaxOffElements * static_cast<double>(got.data.size()) + 1);
        } else {
            // A float softmax of logits that agree within one step (0.1): p changes by at most 0.1 * p * (1 - p).
            CHECK(worst <= 0.025 + 1e-6);
        }
    }
}

}  // namespace

TEST_CASE("int8: V2-shaped graph agrees with the fake-quantized reference", "[ops][int8]") {
    for (uint32_t seed : {1u, 2u, 3u}) {
        auto model = v2_like(seed);
        for (int batch : {1, 3}) {
            for (bool fuse : {true, false}) check_int8(model, batch, fuse);
        }
    }
}

TEST_CASE("int8: V3-shaped graph (hard-swish, squeeze-excite) agrees with the fake-quantized reference",
          "[ops][int8]") {
    for (uint32_t seed : {1u, 2u, 3u}) {
        auto model = v3_like(seed);
        for (int batch : {1, 3}) {
            for (bool fuse : {true, false}) check_int8(model, batch, fuse);
        }
    }
}
