// SPDX-License-Identifier: Apache-2.0
// Small random end-to-end graphs shaped like MobileNet v1, v2 and v3, the separable-convolution example, and the
// pointwise+depthwise fusion option, all through the engine against the reference.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "mnet/engine.h"
#include "op_check.h"
#include "ops/reference/reference.h"
#include "support/model_builder.h"

using namespace mnet;
using namespace mnet::test;

namespace {

constexpr std::array<int64_t, 4> kNoPad{0, 0, 0, 0};
constexpr std::array<int64_t, 4> kSamePad{1, 1, 1, 1};     // 3x3 stride 1
constexpr std::array<int64_t, 4> kTfStride2{0, 0, 1, 1};   // TF SAME, 3x3 stride 2 on an even size

int64_t pick(std::mt19937& rng, std::initializer_list<int64_t> options) {
    std::uniform_int_distribution<size_t> d(0, options.size() - 1);
    return *(options.begin() + d(rng));
}

// The classifier head: global pool, then fully connected or a 1x1 convolution, reshape, softmax.
std::string head(ModelBuilder& b, const std::string& x, bool conv_head, int64_t classes) {
    std::string y = b.global_avg_pool(x, conv_head);
    if (conv_head) {
        y = b.conv(y, conv_spec(classes, 1, 1, kNoPad));
    } else {
        y = b.fully_connected(y, classes);
    }
    y = b.reshape(y, {classes});
    return b.softmax(y);
}

// v1: conv s2 -> [dw 3x3 relu6 -> pw 1x1 relu6] x3 (one of them stride 2) -> head.
std::shared_ptr<const Model> v1_graph(uint32_t seed) {
    std::mt19937 rng(seed);
    const int64_t size = pick(rng, {16, 17, 24, 33});
    ModelBuilder b(size, size, seed);
    std::string x = b.conv(b.input(), conv_spec(pick(rng, {8, 16, 17}), 3, 2, kTfStride2, 1, "relu6"));
    const int64_t strided = pick(rng, {0, 1, 2});
    for (int64_t i = 0; i < 3; ++i) {
        const int64_t c = b.shape(x)[1];
        const bool s2 = i == strided;
        x = b.conv(x, conv_spec(c, 3, s2 ? 2 : 1, s2 ? kTfStride2 : kSamePad, c, "relu6"));
        x = b.conv(x, conv_spec(pick(rng, {5, 16, 17, 24, 32}), 1, 1, kNoPad, 1, "relu6"));
    }
    return b.build({head(b, x, pick(rng, {0, 1}) == 1, pick(rng, {10, 17}))});
}

// v2: conv s2 relu6 -> inverted residual blocks (expand 1x1 relu6 -> dw 3x3 relu6 -> project 1x1 linear, plus
// the block input when the shapes allow) -> 1x1 relu6 -> head. With `quantized`, every node also saturates to
// a u8 range the way the TFLite models do.
std::shared_ptr<const Model> v2_graph(uint32_t seed, bool quantized = false) {
    std::mt19937 rng(seed);
    const int64_t size = pick(rng, {16, 19, 32});
    ModelBuilder b(size, size, seed);
    auto sat = [&](const std::string& v, double scale, int64_t zp) {
        if (quantized) b.quantize(v, DType::U8, scale, zp);
        return v;
    };
    std::string x = sat(b.conv(b.input(), conv_spec(16, 3, 2, kTfStride2, 1, "relu6")), 6.0 / 255, 0);
    struct Block {
        int64_t expand, out, stride;
    };
    const Block blocks[] = {{pick(rng, {1, 6}), 8, 1}, {6, 0, 1}, {6, pick(rng, {12, 17}), 2}, {6, 0, 1},
                            {3, 24, pick(rng, {1, 2})}, {3, 0, 1}};
    for (const Block& blk : blocks) {
        const int64_t c = b.shape(x)[1];
        const int64_t out = blk.out == 0 ? c : blk.out;  // 0: same width, a residual block
        std::string y = x;
        if (blk.expand != 1) y = sat(b.conv(y, conv_spec(c * blk.expand, 1, 1, kNoPad, 1, "relu6")), 6.0 / 255, 0);
        const int64_t e = b.shape(y)[1];
        y = sat(b.conv(y, conv_spec(e, 3, blk.stride, blk.stride == 2 ? kTfStride2 : kSamePad, e, "relu6")), 6.0 / 255, 0);
        y = sat(b.conv(y, conv_spec(out, 1, 1, kNoPad)), 0.1, 128);
        if (blk.stride == 1 && out == c) y = sat(b.binary("add", y, x), 0.12, 120);
        x = y;
    }
    x = sat(b.conv(x, conv_spec(40, 1, 1, kNoPad, 1, "relu6")), 6.0 / 255, 0);
    return b.build({head(b, x, false, 10)});
}

// v3: conv s2 hard_swish -> blocks with expand (relu or hard_swish) -> dw 3x3/5x5 -> squeeze-and-excite (global
// pool -> 1x1 relu -> 1x1 hard_sigmoid -> mul) -> project -> residual add -> head with a hard_swish 1x1 conv.
std::shared_ptr<const Model> v3_graph(uint32_t seed) {
    std::mt19937 rng(seed);
    const int64_t size = pick(rng, {16, 17, 32});
    ModelBuilder b(size, size, seed);
    std::string x = b.conv(b.input(), conv_spec(16, 3, 2, kTfStride2, 1, "hard_swish"));
    for (int i = 0; i < 3; ++i) {
        const int64_t c = b.shape(x)[1];
        const std::string act = pick(rng, {0, 1}) ? "hard_swish" : "relu";
        const int64_t k = pick(rng, {3, 5});
        const int64_t stride = i == 1 ? 2 : 1;
        const int64_t out = i == 1 ? 24 : c;
        std::string y = b.conv(x, conv_spec(c * pick(rng, {3, 4}), 1, 1, kNoPad, 1, act));
        const int64_t e = b.shape(y)[1];
        const int64_t p = k / 2;
        std::array<int64_t, 4> pad = stride == 2 ? std::array<int64_t, 4>{p - 1, p - 1, p, p}
                                                 : std::array<int64_t, 4>{p, p, p, p};
        if (stride == 2 && b.shape(y)[2] % 2 == 1) pad = {p, p, p, p};  // TF SAME on an odd size
        y = b.conv(y, conv_spec(e, k, stride, pad, e, act));
        std::string se = b.global_avg_pool(y, true);
        se = b.conv(se, conv_spec(std::max<int64_t>(e / 4, 8), 1, 1, kNoPad, 1, "relu"));
        se = b.conv(se, conv_spec(e, 1, 1, kNoPad, 1, "hard_sigmoid"));
        y = pick(rng, {0, 1}) ? b.binary("mul", y, se) : b.binary("mul", se, y);
        y = b.conv(y, conv_spec(out, 1, 1, kNoPad));
        if (stride == 1 && out == c) y = b.binary("add", x, y);
        x = y;
    }
    x = b.conv(x, conv_spec(48, 1, 1, kNoPad, 1, "hard_swish"));
    std::string y = b.global_avg_pool(x, true);
    y = b.conv(y, conv_spec(64, 1, 1, kNoPad, 1, "hard_swish"));
    y = b.conv(y, conv_spec(10, 1, 1, kNoPad));
    y = b.reshape(y, {-1});
    return b.build({b.softmax(y)});
}

}  // namespace

TEST_CASE("random MobileNet v1-shaped graphs match the reference", "[ops][graph]") {
    const uint32_t seed = GENERATE(range(1u, 7u));
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(seed, batch);
    check_against_reference(v1_graph(seed), batch, seed + 100);
}

TEST_CASE("random MobileNet v2-shaped graphs match the reference", "[ops][graph]") {
    const uint32_t seed = GENERATE(range(1u, 7u));
    const bool quantized = GENERATE(false, true);
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(seed, quantized, batch);
    check_against_reference(v2_graph(seed, quantized), batch, seed + 200);
}

TEST_CASE("random MobileNet v3-shaped graphs match the reference", "[ops][graph]") {
    const uint32_t seed = GENERATE(range(1u, 7u));
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(seed, batch);
    check_against_reference(v3_graph(seed), batch, seed + 300, -2.0f, 2.0f);
}

TEST_CASE("a session runs again with new inputs, at any thread count", "[ops][graph]") {
    const int threads = GENERATE(0, 1, 2);
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(threads, batch);
    auto model = v3_graph(7);
    SessionOptions options;
    options.precision = Precision::Fp32;
    options.batch = static_cast<int>(batch);
    options.threads = threads;
    Session session(model, options);
    for (uint32_t run = 0; run < 3; ++run) {
        CAPTURE(run);
        const Tensor x = random_input(*model, batch, 500 + run, -2.0f, 2.0f);
        session.run(x);
        const Tensor want = reference::run(*model, x)[0];
        const Comparison c = compare(session.output(0), want);
        INFO("max abs error " << c.max_abs_error << " at " << c.worst_index);
        CHECK(c.max_abs_error <= c.allowed(kRelTolerance));
    }
}

TEST_CASE("fuse_dw gives the same results as separate layers", "[ops][graph][fuse]") {
    const std::string shape = GENERATE(as<std::string>{}, "v1", "v2", "v2 quantized");
    const uint32_t seed = GENERATE(range(1u, 5u));
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(shape, seed, batch);
    auto model = shape == "v1" ? v1_graph(seed) : v2_graph(seed, shape == "v2 quantized");
    const Tensor x = random_input(*model, batch, seed + 400);
    const std::vector<Tensor> fused = check_input_against_reference(model, x, true);
    const std::vector<Tensor> plain = check_input_against_reference(model, x, false);
    REQUIRE(fused.size() == plain.size());
    for (size_t i = 0; i < fused.size(); ++i) {
        const Comparison c = compare(fused[i], plain[i]);
        INFO("output " << i << ": fused vs unfused max abs difference " << c.max_abs_error << " at "
                       << c.worst_index);
        CHECK(c.max_abs_error <= c.allowed(1e-5));
    }
}

TEST_CASE("fuse_dw on pointwise -> depthwise pairs of every stride and padding", "[ops][graph][fuse]") {
    // The patterns append_dw may or may not take (it has a fixed left padding and derives the right one): the
    // engine must be right either way, fused or not.
    const int64_t stride = GENERATE(as<int64_t>{}, 1, 2);
    const std::array<int64_t, 4> pad = GENERATE(values<std::array<int64_t, 4>>(
        {{1, 1, 1, 1}, {0, 0, 1, 1}, {0, 0, 0, 0}, {1, 1, 0, 0}, {1, 1, 2, 2}, {2, 2, 2, 2}}));
    const int64_t multiplier = GENERATE(as<int64_t>{}, 1, 2);
    const int64_t size = GENERATE(as<int64_t>{}, 15, 16);
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(stride, pad, multiplier, size, batch);
    ModelBuilder b(size, size, 113);
    std::string x = b.conv(b.input(), conv_spec(17, 3, 1, kSamePad, 1, "relu6"));
    x = b.conv(x, conv_spec(24, 1, 1, kNoPad, 1, "relu6"));
    x = b.conv(x, conv_spec(24 * multiplier, 3, stride, pad, 24, "relu6"));
    x = b.conv(x, conv_spec(16, 1, 1, kNoPad, 1, "none"));
    x = b.conv(x, conv_spec(16 * multiplier, 3, stride, pad, 16, "none"));
    auto model = b.build();
    const Tensor in = random_input(*model, batch, 127);
    const auto fused = check_input_against_reference(model, in, true);
    const auto plain = check_input_against_reference(model, in, false);
    const Comparison c = compare(fused[0], plain[0]);
    INFO("fused vs unfused max abs difference " << c.max_abs_error);
    CHECK(c.max_abs_error <= c.allowed(1e-5));
}

TEST_CASE("fuse_dw keeps a pointwise output that is also a graph output", "[ops][graph][fuse]") {
    // The pointwise result has one consuming node but is still needed as an output: fusing must not drop it.
    const int64_t batch = GENERATE(1, 3);
    const bool fuse = GENERATE(false, true);
    CAPTURE(batch, fuse);
    ModelBuilder b(16, 16, 149);
    std::string x = b.conv(b.input(), conv_spec(16, 3, 2, kTfStride2, 1, "relu6"));
    std::string pw = b.conv(x, conv_spec(24, 1, 1, kNoPad, 1, "relu6"));
    std::string dw = b.conv(pw, conv_spec(24, 3, 1, kSamePad, 24, "relu6"));
    check_against_reference(b.build({dw, pw}), batch, 151u, -1.0f, 1.0f, fuse);
}

TEST_CASE("standard vs depthwise-separable convolution: shapes, MACs, outputs", "[ops][graph][example]") {
    // The seed example: 1x3x32x32; a 3x3 conv 3->16 versus depthwise 3x3 (groups 3) then pointwise 3->16.
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(batch);
    ModelBuilder sb(32, 32, 131);
    sb.conv(sb.input(), conv_spec(16, 3, 1, kSamePad));
    auto standard = sb.build();
    ModelBuilder db(32, 32, 137);
    std::string dw = db.conv(db.input(), conv_spec(3, 3, 1, kSamePad, 3));
    db.conv(dw, conv_spec(16, 1, 1, kNoPad));
    auto separable = db.build();

    REQUIRE(standard->input_shape() == Shape{1, 3, 32, 32});
    REQUIRE(standard->outputs()[0].shape == Shape{1, 16, 32, 32});
    REQUIRE(separable->outputs()[0].shape == Shape{1, 16, 32, 32});
    REQUIRE(standard->layers().size() == 1);
    CHECK(standard->layers()[0].macs == 442368);  // 16 * 32 * 32 * 3 * 3 * 3
    CHECK(standard->total_macs() == 442368);
    REQUIRE(separable->layers().size() == 2);
    CHECK(separable->layers()[0].macs == 27648);  // 3 * 32 * 32 * 1 * 3 * 3
    CHECK(separable->layers()[0].groups == 3);
    CHECK(separable->layers()[1].macs == 49152);  // 16 * 32 * 32 * 3
    CHECK(separable->total_macs() == 27648 + 49152);

    const auto out_standard = check_against_reference(standard, batch, 139u);
    const auto out_separable = check_against_reference(separable, batch, 139u);
    CHECK(out_standard[0].shape == Shape{batch, 16, 32, 32});
    CHECK(out_separable[0].shape == Shape{batch, 16, 32, 32});
}
