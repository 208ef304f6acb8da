// SPDX-License-Identifier: Apache-2.0
// Pooling, global average pooling, fully connected, reshape and softmax through the engine against the reference.
#include <catch2/catch.hpp>
#include <string>

#include "op_check.h"
#include "support/model_builder.h"

using namespace mnet;
using namespace mnet::test;

namespace {

struct PoolCase {
    std::string name;
    int64_t channels, height, width;
    std::array<int64_t, 2> kernel, stride;
    std::array<int64_t, 4> pad;
};

const std::vector<PoolCase>& pool_cases() {
    static const std::vector<PoolCase> cases = {
        {"3x3 s2 TF pad[0,0,1,1] C=17 16x16", 17, 16, 16, {3, 3}, {2, 2}, {0, 0, 1, 1}},
        {"3x3 s2 pad[0,0,1,1] C=17 15x15", 17, 15, 15, {3, 3}, {2, 2}, {0, 0, 1, 1}},
        {"3x3 s2 TF pad[1,1,1,1] C=5 15x13", 5, 15, 13, {3, 3}, {2, 2}, {1, 1, 1, 1}},
        {"3x3 s1 pad1 C=5 7x9", 5, 7, 9, {3, 3}, {1, 1}, {1, 1, 1, 1}},
        {"3x3 s1 pad1 C=3 8x8", 3, 8, 8, {3, 3}, {1, 1}, {1, 1, 1, 1}},
        {"2x2 s2 valid C=24 8x8", 24, 8, 8, {2, 2}, {2, 2}, {0, 0, 0, 0}},
        {"2x2 s2 valid C=24 9x9 (last row dropped)", 24, 9, 9, {2, 2}, {2, 2}, {0, 0, 0, 0}},
        {"7x7 s1 valid C=24 7x7 (global)", 24, 7, 7, {7, 7}, {1, 1}, {0, 0, 0, 0}},
        {"3x3 asymmetric pad[1,0,2,1] C=17 9x8", 17, 9, 8, {3, 3}, {1, 1}, {1, 0, 2, 1}},
        {"2x3 s(1,2) pad[0,1,1,2] C=5 6x11", 5, 6, 11, {2, 3}, {1, 2}, {0, 1, 1, 2}},
        {"5x5 s2 pad2 C=32 16x16", 32, 16, 16, {5, 5}, {2, 2}, {2, 2, 2, 2}},
    };
    return cases;
}

std::string widen(ModelBuilder& b, int64_t channels) {
    return channels == 3 ? b.input() : b.conv(b.input(), conv_spec(channels, 1, 1, {0, 0, 0, 0}));
}

}  // namespace

TEST_CASE("avg_pool and max_pool match the reference", "[ops][pool]") {
    const size_t index = GENERATE(range(size_t{0}, pool_cases().size()));
    const std::string op = GENERATE(as<std::string>{}, "avg_pool", "max_pool");
    const int64_t batch = GENERATE(1, 3);
    const PoolCase& c = pool_cases()[index];
    CAPTURE(c.name, op, batch);
    ModelBuilder b(c.height, c.width, 4000u + static_cast<uint32_t>(index));
    b.pool(op, widen(b, c.channels), c.kernel, c.stride, c.pad);
    check_against_reference(b.build(), batch, 37u);
}

TEST_CASE("max_pool padding never wins over negative inputs", "[ops][pool]") {
    // All inputs negative: a maximum that counted the zero padding would return 0 at the borders.
    const size_t index = GENERATE(size_t{0}, size_t{2}, size_t{3}, size_t{4}, size_t{8}, size_t{9}, size_t{10});
    const int64_t batch = GENERATE(1, 3);
    PoolCase c = pool_cases()[index];
    CAPTURE(c.name, batch);
    ModelBuilder b(c.height, c.width, 41);
    b.pool("max_pool", b.input(), c.kernel, c.stride, c.pad);
    auto got = check_against_reference(b.build(), batch, 43u, -3.0f, -0.5f);
    for (float v : got[0].data) REQUIRE(v < 0.0f);
}

TEST_CASE("avg_pool excludes padding on a constant input", "[ops][pool]") {
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(batch);
    ModelBuilder b(9, 8, 47);
    b.pool("avg_pool", b.input(), {3, 3}, {2, 2}, {1, 1, 1, 1});
    auto model = b.build();
    Tensor x = random_input(*model, batch, 1);
    for (float& v : x.data) v = 2.5f;
    auto got = check_input_against_reference(model, x);
    for (float v : got[0].data) REQUIRE(v == Approx(2.5f).epsilon(1e-6));
}

TEST_CASE("global_avg_pool matches the reference", "[ops][pool]") {
    const bool keepdims = GENERATE(true, false);
    const int64_t channels = GENERATE(as<int64_t>{}, 3, 5, 17, 24);
    const int64_t size = GENERATE(as<int64_t>{}, 1, 7, 8, 15);
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(keepdims, channels, size, batch);
    ModelBuilder b(size, size + 1, 53);
    b.global_avg_pool(widen(b, channels), keepdims);
    check_against_reference(b.build(), batch, 59u);
}

TEST_CASE("fully_connected matches the reference", "[ops][fc]") {
    const std::string src = GENERATE(as<std::string>{}, "image [N,3,5,7]", "conv [N,5,3,3]", "pool keepdims=0 [N,17]",
                                     "pool keepdims=1 [N,24,1,1]", "fc [N,10]");
    const int64_t out = GENERATE(as<int64_t>{}, 1, 10, 17);
    const std::string act = GENERATE(as<std::string>{}, "none", "relu", "hard_swish");
    const bool bias = GENERATE(true, false);
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(src, out, act, bias, batch);
    ModelBuilder b(5, 7, 61);
    std::string x = b.input();
    if (src == "conv [N,5,3,3]") x = b.conv(x, conv_spec(5, 3, 2, {0, 0, 1, 1}, 1, "relu"));
    if (src == "pool keepdims=0 [N,17]") x = b.global_avg_pool(widen(b, 17), false);
    if (src == "pool keepdims=1 [N,24,1,1]") x = b.global_avg_pool(widen(b, 24), true);
    if (src == "fc [N,10]") x = b.fully_connected(x, 10, "relu");
    b.fully_connected(x, out, act, bias);
    check_against_reference(b.build(), batch, 67u, -2.0f, 2.0f);
}

TEST_CASE("reshape matches the reference", "[ops][reshape]") {
    struct ReshapeCase {
        std::string name;
        int64_t channels;
        bool pool;  // global pool (keepdims) first
        std::vector<int64_t> dims;
        bool then_fc;
    };
    const ReshapeCase c = GENERATE(values<ReshapeCase>({
        {"[N,C,1,1] -> [C]", 17, true, {17}, false},
        {"[N,C,1,1] -> [-1] -> fc", 24, true, {-1}, true},
        {"[N,C,H,W] -> [C*H*W]", 5, false, {5 * 6 * 7}, false},
        {"[N,C,H,W] -> [-1] -> fc", 17, false, {-1}, true},
        {"[N,C,H,W] -> [C, H*W]", 5, false, {5, 42}, false},
        {"[N,C,H,W] -> [H, C, W] (element order kept)", 5, false, {6, 5, 7}, false},
        {"[N,C,H,W] -> [C*H, W, 1]", 17, false, {17 * 6, 7, 1}, false},
    }));
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(c.name, batch);
    ModelBuilder b(6, 7, 71);
    // A 3x3 conv first, so that the engine's own (possibly blocked) layout reaches the reshape.
    std::string x = b.conv(b.input(), conv_spec(c.channels, 3, 1, {1, 1, 1, 1}));
    if (c.pool) x = b.global_avg_pool(x, true);
    x = b.reshape(x, c.dims);
    if (c.then_fc) x = b.fully_connected(x, 10);
    check_against_reference(b.build(), batch, 73u);
}

TEST_CASE("reshape to [C,1,1] feeds a 1x1 convolution", "[ops][reshape]") {
    // MobileNet v1's head as TF-slim exports it: pooled features reshaped back to an image for a 1x1 conv.
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(batch);
    ModelBuilder b(8, 8, 79);
    std::string x = b.global_avg_pool(b.conv(b.input(), conv_spec(17, 3, 2, {0, 0, 1, 1}, 1, "relu6")), false);
    x = b.reshape(x, {17, 1, 1});
    x = b.conv(x, conv_spec(11, 1, 1, {0, 0, 0, 0}));
    x = b.reshape(x, {11});
    b.softmax(x);
    check_against_reference(b.build(), batch, 83u);
}

TEST_CASE("softmax matches the reference", "[ops][softmax]") {
    const bool keepdims = GENERATE(true, false);
    const int64_t classes = GENERATE(as<int64_t>{}, 1, 5, 17, 1001);
    const float logit_scale = GENERATE(1.0f, 30.0f);  // large logits test the max-subtraction
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(keepdims, classes, logit_scale, batch);
    ModelBuilder b(4, 5, 89);
    ConvSpec head = conv_spec(classes, 1, 1, {0, 0, 0, 0});
    head.weight_scale = logit_scale;
    std::string x = b.conv(b.global_avg_pool(widen(b, 24), true), head);
    if (!keepdims) x = b.reshape(x, {classes});
    b.softmax(x);
    auto got = check_against_reference(b.build(), batch, 97u, -3.0f, 3.0f);
    for (int64_t n = 0; n < batch; ++n) {
        double sum = 0.0;
        for (int64_t i = 0; i < classes; ++i) sum += got[0].data[static_cast<size_t>(n * classes + i)];
        CHECK(sum == Approx(1.0).epsilon(1e-5));
    }
}

// The saturation of a pooling runs as the pooling's post-op, and a reshape of a value already inside its range
// drops its clip: both checked where the clip changes values (a range narrower than the inputs').
TEST_CASE("saturating pools and reshapes match the reference", "[ops][pool][reshape]") {
    const std::string op = GENERATE(as<std::string>{}, "avg_pool", "max_pool", "global_avg_pool");
    const bool narrower = GENERATE(false, true);  // the reshape's range: the pool's, or narrower (must clip)
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(op, narrower, batch);
    ModelBuilder b(9, 9, 77u);
    const std::string x = widen(b, 24);
    const std::string p = op == "global_avg_pool" ? b.global_avg_pool(x, true)
                                                  : b.pool(op, x, {3, 3}, {2, 2}, {1, 1, 1, 1});
    b.quantize(p, DType::U8, 0.002, 100);  // [-0.2, 0.31]
    const Shape s = b.shape(p);
    const std::string r = b.reshape(p, {1, s[1] * s[2] * s[3]});
    b.quantize(r, DType::U8, narrower ? 0.001 : 0.002, 100);
    check_against_reference(b.build(), batch, 41u);
}
