// SPDX-License-Identifier: Apache-2.0
// pad (FORMAT.md): every combination of pads through the engine, fp32 and int8, against the reference interpreter.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "mnet/engine.h"
#include "mnet/error.h"
#include "op_check.h"
#include "ops/reference/reference.h"
#include "support/model_builder.h"

using namespace mnet;
using namespace mnet::test;

namespace {

// The pads swept: each side 0, 1 or 3 (TFLite pads by 1 before a stride-2 convolution; 3 spans a whole
// nChw8c/nhwc vector row on small images), all 81 combinations.
std::array<int64_t, 4> pads_of(int index) {
    constexpr int64_t kValues[] = {0, 1, 3};
    return {kValues[index % 3], kValues[index / 3 % 3], kValues[index / 9 % 3], kValues[index / 27 % 3]};
}

// C = 3 (the input itself), or 17 channels (not a multiple of any channel block: the blocked layouts' tail).
std::string source(ModelBuilder& b, int64_t channels) {
    return channels == 3 ? b.input() : b.conv(b.input(), conv_spec(channels, 1, 1, {0, 0, 0, 0}));
}

}  // namespace

TEST_CASE("pad matches the reference for every combination of pads", "[ops][pad]") {
    const int index = GENERATE(range(0, 81));
    const int64_t channels = GENERATE(3, 17);
    const int64_t batch = GENERATE(1, 3);
    const std::array<int64_t, 4> p = pads_of(index);
    CAPTURE(p[0], p[1], p[2], p[3], channels, batch);
    ModelBuilder b(7, 6, 5000u + static_cast<uint32_t>(index));
    b.pad(source(b, channels), p);
    // Negative inputs too: the border must be exactly 0, not the arena's old contents.
    const auto got = check_against_reference(b.build(), batch, 53u, -2.0f, 2.0f);
    const Shape& s = got[0].shape;
    REQUIRE(s == Shape{batch, channels, 7 + p[0] + p[2], 6 + p[1] + p[3]});
}

TEST_CASE("pad feeds a convolution and is itself a graph output", "[ops][pad]") {
    const int64_t batch = GENERATE(1, 2);
    const int threads = GENERATE(1, 2);  // the activation layout follows the thread count
    CAPTURE(batch, threads);
    ModelBuilder b(9, 9, 61u);
    const std::string padded = b.pad(source(b, 17), {1, 1, 2, 0});
    const std::string y = b.conv(padded, conv_spec(8, 3, 2, {0, 0, 0, 0}, 1, "relu6"));
    auto model = b.build({y, padded});
    const Tensor src = random_input(*model, batch, 67u);
    const std::vector<Tensor> want = reference::run(*model, src);
    const std::vector<Tensor> got = run_engine(model, src, false, threads);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        const Comparison c = compare(got[i], want[i]);
        CAPTURE(i, c.max_abs_error, c.worst_index);
        CHECK(c.max_abs_error <= c.allowed(kRelTolerance));
    }
    SessionOptions o;
    o.batch = static_cast<int>(batch);
    o.threads = threads;
    o.profile = true;
    Session session(model, o);
    session.run(src);
    for (const LayerTiming& t : session.timings()) {
        CAPTURE(t.name, t.op, t.impl);
        CHECK(t.impl.rfind("ref", 0) != 0);  // the fill and the reorder into the interior have real kernels
    }
}

// int8: the integers are moved and the border holds the zero point, so the result equals the reference's fake
// quantization up to the float rounding of dequantizing ((q - zp) * s).
TEST_CASE("pad runs on integers with the zero point as padding", "[ops][pad][int8]") {
    const int index = GENERATE(0, 1, 13, 40, 53, 80);
    const bool is_s8 = GENERATE(false, true);
    const int64_t batch = GENERATE(1, 3);
    const std::array<int64_t, 4> p = pads_of(index);
    CAPTURE(p[0], p[1], p[2], p[3], is_s8, batch);
    ModelBuilder b(8, 7, 71u);
    const DType type = is_s8 ? DType::S8 : DType::U8;
    const double scale = 0.02;
    const int64_t zero_point = is_s8 ? -7 : 121;  // neither 0 nor the middle: a wrong fill value shows
    b.quantize_input(type, scale, zero_point);
    const std::string y = b.pad(b.input(), p);
    b.quantize(y, type, scale, zero_point);
    auto model = b.build();
    const Tensor src = random_input(*model, batch, 73u, -2.0f, 2.0f);
    const std::vector<Tensor> want = reference::run(*model, src, true);
    SessionOptions o;
    o.batch = static_cast<int>(batch);
    o.precision = Precision::Int8;
    o.profile = true;
    Session session(model, o);
    session.run(src);
    bool on_integers = false;
    for (const LayerTiming& t : session.timings()) {
        CAPTURE(t.name, t.op, t.impl, t.type);
        CHECK(t.impl.rfind("ref", 0) != 0);
        on_integers = on_integers || (t.op == "pad" && t.type == (is_s8 ? "s8" : "u8"));
    }
    CHECK(on_integers);
    const Comparison c = compare(session.output(0), want[0]);
    CAPTURE(c.max_abs_error, c.worst_index);
    CHECK(c.max_abs_error <= 1e-6);
}

TEST_CASE("reference pad by hand", "[ops][pad][reference]") {
    ModelBuilder b(1, 2, 1u);
    b.pad(b.input(), {1, 0, 0, 1});  // one row on top, one column on the right
    auto model = b.build();
    Tensor src(Shape{1, 3, 1, 2});
    for (size_t i = 0; i < src.data.size(); ++i) src.data[i] = static_cast<float>(i + 1);  // channel c: 2c+1, 2c+2
    const Tensor got = reference::run(*model, src)[0];
    REQUIRE(got.shape == Shape{1, 3, 2, 3});
    const std::vector<float> want = {0, 0, 0, 1, 2, 0,  //
                                     0, 0, 0, 3, 4, 0,  //
                                     0, 0, 0, 5, 6, 0};
    CHECK(got.data == want);
}

TEST_CASE("pad refuses pads outside [0, 64], naming the node", "[ops][pad][model]") {
    const std::array<int64_t, 4> bad = GENERATE(std::array<int64_t, 4>{-1, 0, 0, 0}, std::array<int64_t, 4>{0, 0, 0, 65});
    CAPTURE(bad[0], bad[3]);
    ModelBuilder b(8, 8, 3u);
    b.pad(b.input(), bad);
    try {
        b.build();
        FAIL("a model with pads outside [0, 64] loaded");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::ModelFormat);
        CHECK_THAT(e.what(), Catch::Contains("padding must be in [0, 64]") && Catch::Contains("node '"));
    }
}
