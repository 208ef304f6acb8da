// SPDX-License-Identifier: Apache-2.0
// bf16 execution of single ops against the naive reference interpreter, each output element within a bound
// derived from bf16's 8-bit significand rather than a tolerance fitted to what the engine gives.
//
// The op under test reads values that bf16 holds exactly: a first 1x1 convolution with weights in {-1, 0, 1}
// and ReLU turns inputs k/8 (|k| <= 8) into non-negative multiples of 1/8 no larger than 3, which bf16's 8
// significant bits hold exactly. Then, for a convolution y = b + sum x w, with each weight rounded to bf16
// (relative error <= u = 2^-8, round to nearest even), the products and their f32 sum nearly exact, and the
// result rounded to bf16 once more (relative error <= u):
//     |y_bf16 - y| <= 2u (sum x |w| + |b|) + f32 accumulation error,
// and sum x |w| + |b| is the reference's output for the same graph with |w| and |b| (x >= 0). The clipping
// activations are 1-Lipschitz, so the bound holds after them too. Pools, adds and activations on exact inputs
// round only their result: |y_bf16 - y| <= u |y|.
// On a CPU without bf16 (support/bf16_cpu.h) every case asserts the session's refusal instead.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>

#include "mnet/engine.h"
#include "mnet/error.h"
#include "ops/reference/reference.h"
#include "support/bf16_cpu.h"
#include "support/expect_error.h"
#include "support/model_builder.h"

using namespace mnet;
using namespace mnet::test;

namespace {

constexpr double kUnit = 1.0 / 256;       // u = 2^-8: bf16 keeps 8 significant bits
constexpr double kF32Slack = 1e-5;        // f32 accumulation of at most a few hundred terms of size <= 3
constexpr int64_t kFirstChannelsMax = 3;  // the graph input has 3 channels

// Inputs k/8, exact in bf16.
Tensor eighths_input(const Model& model, int64_t batch, uint32_t seed) {
    Shape shape = model.input_shape();
    shape[0] = batch;
    Tensor t(shape);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> k(-8, 8);
    for (float& v : t.data) v = static_cast<float>(k(rng)) / 8.f;
    return t;
}

// The first layer: C channels of non-negative multiples of 1/8, at most 3 (see the top of the file).
std::string exact_features(ModelBuilder& b, int64_t channels) {
    std::uniform_int_distribution<int> w(-1, 1);
    std::vector<float> weights(static_cast<size_t>(channels * kFirstChannelsMax));
    for (float& v : weights) v = static_cast<float>(w(b.rng()));
    ConvSpec s = conv_spec(channels, 1, 1, {0, 0, 0, 0}, 1, "relu");
    return b.conv_with(b.input(), s, weights, {});
}

std::vector<Tensor> run_bf16(const std::shared_ptr<const Model>& model, const Tensor& src) {
    SessionOptions options;
    options.precision = Precision::Bf16;
    options.batch = static_cast<int>(src.shape[0]);
    Session session(model, options);
    session.run(src);
    std::vector<Tensor> out;
    for (size_t i = 0; i < session.output_count(); ++i) out.push_back(session.output(i));
    return out;
}

void expect_refusal(const std::shared_ptr<const Model>& model) {
    SessionOptions options;
    options.precision = Precision::Bf16;
    expect_error([&] { Session session(model, options); }, ErrorCode::Unsupported, {"bf16 precision: ", "bf16 needs AVX512_BF16 or AMX"});
}

// Every element of `got` within `bound[i]` of `want`.
void check_within(const Tensor& got, const Tensor& want, const std::vector<double>& bound) {
    REQUIRE(got.shape == want.shape);
    REQUIRE(bound.size() == want.data.size());
    int64_t worst = -1;
    double worst_ratio = 0;
    for (size_t i = 0; i < want.data.size(); ++i) {
        const double err = std::abs(double(got.data[i]) - double(want.data[i]));
        const double ratio = err / bound[i];
        if (!(ratio <= worst_ratio)) {  // NaN counts as worst
            worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
            worst = static_cast<int64_t>(i);
        }
    }
    INFO("worst element " << worst << ": engine " << (worst >= 0 ? got.data[worst] : 0.f) << ", reference "
                          << (worst >= 0 ? want.data[worst] : 0.f) << ", error / bound " << worst_ratio);
    CHECK(worst_ratio <= 1.0);
}

struct Bf16ConvCase {
    std::string name;
    int64_t channels, height, width;
    ConvSpec spec;
};

ConvSpec with(ConvSpec s, const std::string& activation, int64_t dilation = 1) {
    s.activation = activation;
    s.dilation_h = s.dilation_w = dilation;
    return s;
}

}  // namespace

TEST_CASE("bf16: convolutions stay within 2u of the sum of |terms| of the reference", "[ops][bf16]") {
    const Bf16ConvCase c = GENERATE(values<Bf16ConvCase>({
        {"3x3 s1 pad1 16->24 12x12", 16, 12, 12, conv_spec(24, 3, 1, {1, 1, 1, 1})},
        {"3x3 s1 pad1 17->33 9x11 relu6", 17, 9, 11, with(conv_spec(33, 3, 1, {1, 1, 1, 1}), "relu6")},
        {"3x3 s2 TF pad 32->16 16x16", 32, 16, 16, conv_spec(16, 3, 2, {0, 0, 1, 1})},
        {"3x3 dilation 2 16->16 11x11", 16, 11, 11, with(conv_spec(16, 3, 1, {2, 2, 2, 2}), "none", 2)},
        {"1x1 pointwise 32->64 8x8", 32, 8, 8, conv_spec(64, 1, 1, {0, 0, 0, 0})},
        {"1x1 pointwise 17->24 7x9 relu", 17, 7, 9, with(conv_spec(24, 1, 1, {0, 0, 0, 0}), "relu")},
        {"1x1 pointwise 96->24 14x14", 96, 14, 14, conv_spec(24, 1, 1, {0, 0, 0, 0})},
        {"dw 3x3 s1 pad1 C=32 16x16 relu6", 32, 16, 16, with(conv_spec(32, 3, 1, {1, 1, 1, 1}, 32), "relu6")},
        {"dw 3x3 s2 TF pad C=17 15x15", 17, 15, 15, conv_spec(17, 3, 2, {0, 0, 1, 1}, 17)},
        {"dw 5x5 s1 pad2 C=48 9x9", 48, 9, 9, conv_spec(48, 5, 1, {2, 2, 2, 2}, 48)},
        {"grouped 3x3 4 groups 16->32 8x8", 16, 8, 8, conv_spec(32, 3, 1, {1, 1, 1, 1}, 4)},
    }));
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(c.name, batch);
    constexpr uint32_t kSeed = 19;
    // The graph twice: with the weights, and with their absolute values (the bound's sum of |terms|).
    auto build = [&](bool absolute) {
        ModelBuilder b(c.height, c.width, kSeed);
        const std::string x = exact_features(b, c.channels);
        const int64_t fan_in = c.channels / c.spec.groups * c.spec.kernel_h * c.spec.kernel_w;
        std::vector<float> w = b.uniform(static_cast<size_t>(c.spec.out_channels * fan_in), -1.f, 1.f);
        std::vector<float> bias = b.uniform(static_cast<size_t>(c.spec.out_channels), -0.5f, 0.5f);
        ConvSpec spec = c.spec;
        if (absolute) {
            for (float& v : w) v = std::abs(v);
            for (float& v : bias) v = std::abs(v);
            spec.activation = "none";
        }
        b.conv_with(x, spec, w, bias);
        return b.build();
    };
    const auto model = build(false);
    if (!expect_bf16()) {
        expect_refusal(model);
        return;
    }
    const Tensor src = eighths_input(*model, batch, kSeed);
    const Tensor want = reference::run(*model, src)[0];
    const Tensor terms = reference::run(*build(true), src)[0];
    std::vector<double> bound(terms.data.size());
    for (size_t i = 0; i < bound.size(); ++i) bound[i] = 2 * kUnit * terms.data[i] + kF32Slack;
    check_within(run_bf16(model, src)[0], want, bound);
}

TEST_CASE("bf16: pools, adds and activations round only their result", "[ops][bf16]") {
    const std::string op = GENERATE("avg_pool", "max_pool", "global_avg_pool", "add", "hard_swish", "pad");
    CAPTURE(op);
    constexpr uint32_t kSeed = 7;
    ModelBuilder b(13, 13, kSeed);
    const std::string x = exact_features(b, 24);
    if (op == "avg_pool" || op == "max_pool") {
        b.pool(op, x, {3, 3}, {2, 2}, {0, 0, 1, 1});
    } else if (op == "global_avg_pool") {
        b.global_avg_pool(x, true);
    } else if (op == "add") {
        b.binary("add", x, exact_features(b, 24));
    } else if (op == "hard_swish") {
        b.activation(x, op);
    } else {
        b.pad(x, {1, 2, 0, 3});
    }
    const auto model = b.build();
    if (!expect_bf16()) {
        expect_refusal(model);
        return;
    }
    const Tensor src = eighths_input(*model, 2, kSeed);
    const Tensor want = reference::run(*model, src)[0];
    std::vector<double> bound(want.data.size());
    for (size_t i = 0; i < bound.size(); ++i) bound[i] = kUnit * std::abs(want.data[i]) + kF32Slack;
    check_within(run_bf16(model, src)[0], want, bound);
}
