// SPDX-License-Identifier: Apache-2.0
// The oracle checked by hand: small inputs whose outputs follow from FORMAT.md by arithmetic done in the test.
#include <catch2/catch.hpp>
#include <cmath>

#include "graph/graph.h"
#include "graph/loader.h"
#include "mnet/error.h"
#include "ops/reference/reference.h"
#include "support/model_builder.h"

using namespace mnet;
using mnet::test::ConvSpec;
using mnet::test::ModelBuilder;
using mnet::test::conv_spec;

namespace {

// Input [N, 3, H, W] with element value f(n, c, h, w).
template <typename F>
Tensor make_input(int64_t n, int64_t h, int64_t w, F f) {
    Tensor t({n, 3, h, w});
    size_t i = 0;
    for (int64_t b = 0; b < n; ++b)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t y = 0; y < h; ++y)
                for (int64_t x = 0; x < w; ++x) t.data[i++] = f(b, c, y, x);
    return t;
}

float at(const Tensor& t, int64_t n, int64_t c, int64_t h, int64_t w) {
    return t.data[static_cast<size_t>(((n * t.shape[1] + c) * t.shape[2] + h) * t.shape[3] + w)];
}

}  // namespace

TEST_CASE("reference: activation functions", "[ops][reference]") {
    using reference::activate;
    CHECK(activate(Activation::None, -2.5) == -2.5);
    CHECK(activate(Activation::Relu, -2.5) == 0.0);
    CHECK(activate(Activation::Relu, 2.5) == 2.5);
    CHECK(activate(Activation::Relu6, 7.0) == 6.0);
    CHECK(activate(Activation::Relu6, -1.0) == 0.0);
    CHECK(activate(Activation::ReluN1To1, -3.0) == -1.0);
    CHECK(activate(Activation::ReluN1To1, 0.25) == 0.25);
    CHECK(activate(Activation::ReluN1To1, 3.0) == 1.0);
    CHECK(activate(Activation::HardSwish, -4.0) == 0.0);
    CHECK(activate(Activation::HardSwish, -1.0) == Approx(-1.0 / 3.0));
    CHECK(activate(Activation::HardSwish, 1.0) == Approx(4.0 / 6.0));
    CHECK(activate(Activation::HardSwish, 4.0) == 4.0);
    CHECK(activate(Activation::HardSigmoid, 0.0) == 0.5);
    CHECK(activate(Activation::HardSigmoid, -3.5) == 0.0);
    CHECK(activate(Activation::HardSigmoid, 3.5) == 1.0);
    CHECK(activate(Activation::Sigmoid, 0.0) == 0.5);
    CHECK(activate(Activation::Sigmoid, 2.0) == Approx(1.0 / (1.0 + std::exp(-2.0))));
}

TEST_CASE("reference: conv2d with TF-style asymmetric padding counts only real pixels", "[ops][reference]") {
    // Depthwise 3x3 of ones, stride 2, pad [0,0,1,1] on 4x4: windows at rows/cols {0..2} and {2..4}, 4 is padding.
    ModelBuilder b(4, 4, 1);
    ConvSpec s = conv_spec(3, 3, 2, {0, 0, 1, 1}, 3);
    b.conv_with(b.input(), s, std::vector<float>(27, 1.0f), {});
    auto model = b.build();
    Tensor x = make_input(2, 4, 4, [](int64_t n, int64_t c, int64_t, int64_t) { return float(c + 1 + 10 * n); });
    Tensor y = reference::run(*model, x)[0];
    REQUIRE(y.shape == Shape{2, 3, 2, 2});
    for (int64_t n = 0; n < 2; ++n) {
        for (int64_t c = 0; c < 3; ++c) {
            const float v = float(c + 1 + 10 * n);
            CHECK(at(y, n, c, 0, 0) == 9 * v);
            CHECK(at(y, n, c, 0, 1) == 6 * v);
            CHECK(at(y, n, c, 1, 0) == 6 * v);
            CHECK(at(y, n, c, 1, 1) == 4 * v);
        }
    }
}

TEST_CASE("reference: conv2d bias, dilation and full channel sum", "[ops][reference]") {
    // 3->1 conv, 3x3 kernel dilated by 2 with only its centre and corner (0,0) set, no padding, on 5x5.
    ModelBuilder b(5, 5, 1);
    ConvSpec s = conv_spec(1, 3, 1, {0, 0, 0, 0}, 1, "none", 2);
    std::vector<float> w(27, 0.0f);
    for (int c = 0; c < 3; ++c) {
        w[static_cast<size_t>(c * 9 + 4)] = float(c + 1);  // centre tap: input pixel (2,2) for output (0,0)
        w[static_cast<size_t>(c * 9 + 0)] = 1.0f;          // tap (0,0): input pixel (0,0)
    }
    b.conv_with(b.input(), s, w, {0.5f});
    auto model = b.build();
    Tensor x = make_input(1, 5, 5, [](int64_t, int64_t c, int64_t h, int64_t ww) { return float(100 * c + 10 * h + ww); });
    Tensor y = reference::run(*model, x)[0];
    REQUIRE(y.shape == Shape{1, 1, 1, 1});
    double want = 0.5;
    for (int c = 0; c < 3; ++c) want += (c + 1) * (100.0 * c + 22) + 100.0 * c;
    CHECK(y.data[0] == Approx(want));
}

TEST_CASE("reference: depthwise multiplier follows TensorFlow's channel order", "[ops][reference]") {
    // groups 3, 6 outputs, 1x1 weights oc+1: output channel oc reads input channel oc / 2.
    ModelBuilder b(2, 2, 1);
    std::vector<float> w = {1, 2, 3, 4, 5, 6};
    b.conv_with(b.input(), conv_spec(6, 1, 1, {0, 0, 0, 0}, 3), w, {});
    auto model = b.build();
    Tensor x = make_input(1, 2, 2, [](int64_t, int64_t c, int64_t, int64_t) { return float(10 * (c + 1)); });
    Tensor y = reference::run(*model, x)[0];
    for (int64_t oc = 0; oc < 6; ++oc) CHECK(at(y, 0, oc, 1, 1) == float(10 * (oc / 2 + 1) * (oc + 1)));
}

TEST_CASE("reference: pools exclude padding", "[ops][reference]") {
    auto f = [](int64_t, int64_t c, int64_t h, int64_t w) { return -float(1 + c + 3 * h + w); };
    Tensor x = make_input(1, 3, 3, f);
    {
        ModelBuilder b(3, 3, 1);
        b.pool("avg_pool", b.input(), {3, 3}, {1, 1}, {1, 1, 1, 1});
        Tensor y = reference::run(*b.build(), x)[0];
        // corner (0,0) averages the 4 real pixels (0..1, 0..1), not 9 with zeros
        CHECK(at(y, 0, 1, 0, 0) == Approx((f(0, 1, 0, 0) + f(0, 1, 0, 1) + f(0, 1, 1, 0) + f(0, 1, 1, 1)) / 4));
        CHECK(at(y, 0, 1, 1, 1) == Approx(-(2 + 3 * 1 + 1)));  // centre: mean of all 9 = value at centre
    }
    {
        ModelBuilder b(3, 3, 1);
        b.pool("max_pool", b.input(), {2, 2}, {2, 2}, {0, 0, 1, 1});
        Tensor y = reference::run(*b.build(), x)[0];
        REQUIRE(y.shape == Shape{1, 3, 2, 2});
        CHECK(at(y, 0, 2, 1, 1) == f(0, 2, 2, 2));  // only real pixel of the window: negative, padding never wins
        CHECK(at(y, 0, 2, 0, 0) == f(0, 2, 0, 0));
    }
}

TEST_CASE("reference: fully connected reads the image in NCHW order", "[ops][reference]") {
    ModelBuilder b(2, 3, 1);
    const int64_t k = 3 * 2 * 3;
    std::vector<float> w(static_cast<size_t>(2 * k), 0.0f);
    w[10] = 1.0f;              // output 0 = element 10 = (c1, h1, w1)
    w[static_cast<size_t>(k + 13)] = 2.0f;  // output 1 = 2 * element 13 = (c2, h0, w1)
    b.fully_connected_with(b.input(), 2, w, {0.0f, 1.0f});
    auto model = b.build();
    Tensor x = make_input(3, 2, 3, [](int64_t n, int64_t c, int64_t h, int64_t ww) { return float(1000 * n + 100 * c + 10 * h + ww); });
    Tensor y = reference::run(*model, x)[0];
    REQUIRE(y.shape == Shape{3, 2});
    for (int64_t n = 0; n < 3; ++n) {
        CHECK(y.data[static_cast<size_t>(2 * n)] == float(1000 * n + 111));
        CHECK(y.data[static_cast<size_t>(2 * n + 1)] == float(2 * (1000 * n + 201) + 1));
    }
}

TEST_CASE("reference: broadcasting add and mul", "[ops][reference]") {
    Tensor x = make_input(2, 2, 2, [](int64_t n, int64_t c, int64_t h, int64_t w) { return float(n + c + h + w); });
    {
        ModelBuilder b(2, 2, 1);
        b.binary_const_with("add", b.input(), {3, 1, 1}, {10, 20, 30});
        Tensor y = reference::run(*b.build(), x)[0];
        CHECK(at(y, 1, 2, 1, 0) == 1 + 2 + 1 + 30);
    }
    {
        // SE-style: the smaller operand first.
        ModelBuilder b(2, 2, 1);
        std::string g = b.global_avg_pool(b.input(), true);
        b.binary("mul", g, b.input());
        Tensor y = reference::run(*b.build(), x)[0];
        REQUIRE(y.shape == Shape{2, 3, 2, 2});
        const float mean = 1 + 2 + 1.0f;  // n=1, c=2: mean of 3 + h + w over h, w in {0, 1}
        CHECK(at(y, 1, 2, 0, 1) == Approx(mean * (1 + 2 + 0 + 1)));
    }
}

TEST_CASE("reference: softmax, global pool, reshape", "[ops][reference]") {
    ModelBuilder b(2, 2, 1);
    std::string g = b.global_avg_pool(b.input(), false);
    std::string s = b.softmax(g);
    std::string r = b.reshape(b.input(), {2, -1});
    auto model = b.build({s, r, g});
    Tensor x = make_input(1, 2, 2, [](int64_t, int64_t c, int64_t h, int64_t w) { return float(c * 4 + h * 2 + w); });
    auto ys = reference::run(*model, x);
    REQUIRE(ys[2].shape == Shape{1, 3});
    CHECK(ys[2].data == std::vector<float>{1.5f, 5.5f, 9.5f});
    const double z = std::exp(1.5) + std::exp(5.5) + std::exp(9.5);
    CHECK(ys[0].data[1] == Approx(std::exp(5.5) / z));
    REQUIRE(ys[1].shape == Shape{1, 2, 6});
    CHECK(ys[1].data == x.data);
}

TEST_CASE("reference: saturation after the fused activation", "[ops][reference]") {
    ModelBuilder b(1, 2, 1);
    std::string y = b.binary_const_with("add", b.input(), {1}, {0.0f}, "relu6");
    b.quantize(y, DType::U8, 0.02, 0);  // [0, 5.1]
    std::string z = b.identity(y);
    b.quantize(z, DType::S8, 0.01, 0);  // [-1.28, 1.27]
    auto model = b.build({y, z});
    REQUIRE(model_impl(*model).graph.nodes[0].saturate.has_value());
    CHECK(model_impl(*model).graph.nodes[0].saturate->hi == Approx(5.1));
    Tensor x({1, 3, 1, 2});
    x.data = {-7, -0.5f, 0.5f, 3, 5.5f, 9};
    auto ys = reference::run(*model, x);
    CHECK(ys[0].data == std::vector<float>{0, 0, 0.5f, 3, 5.1f, 5.1f});
    CHECK(ys[1].data == std::vector<float>{0, 0, 0.5f, 1.27f, 1.27f, 1.27f});
}

TEST_CASE("reference: refuses a wrong input shape", "[ops][reference]") {
    ModelBuilder b(4, 4, 1);
    b.identity(b.input());
    auto model = b.build();
    CHECK_THROWS_AS(reference::run(*model, Tensor({1, 3, 4, 5})), Error);
    CHECK_THROWS_AS(reference::run(*model, Tensor({2, 1, 4, 4})), Error);
    CHECK(reference::run(*model, Tensor({5, 3, 4, 4}))[0].shape == Shape{5, 3, 4, 4});
}
