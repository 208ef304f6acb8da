// SPDX-License-Identifier: Apache-2.0
// mnet-convert on small TFLite models built in the test: layout translation checked against naive NHWC loops
// written here, and the errors for what mnet cannot express.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <random>

#include "mnet/error.h"
#include "mnet/model.h"
#include "ops/reference/reference.h"
#include "support/expect_error.h"
#include "support/test_data.h"
#include "tflite_importer.h"
#include "tools/tflite_builder.h"

using mnet::importer::TfliteImportOptions;
using mnet::test::expect_error;
using tflite::BuiltinOperator;

namespace {

// --- naive NHWC reference, TensorFlow semantics, written independently of the importer ---------------------------

struct Nhwc {
    int64_t h = 0, w = 0, c = 0;
    std::vector<float> v;
    float& at(int64_t y, int64_t x, int64_t k) { return v[static_cast<size_t>((y * w + x) * c + k)]; }
    float get(int64_t y, int64_t x, int64_t k) const {
        if (y < 0 || y >= h || x < 0 || x >= w) return 0.0f;  // zero padding
        return v[static_cast<size_t>((y * w + x) * c + k)];
    }
};

Nhwc make(int64_t h, int64_t w, int64_t c) { return Nhwc{h, w, c, std::vector<float>(static_cast<size_t>(h * w * c))}; }

// TF 'SAME': out = ceil(in / s); the padding before is floor(total / 2).
int64_t same_before(int64_t in, int64_t k, int64_t s, int64_t& out) {
    out = (in + s - 1) / s;
    return std::max<int64_t>((out - 1) * s + k - in, 0) / 2;
}

// Weights OHWI (conv) or [1, KH, KW, C*M] (depthwise, multiplier M = OC / C).
Nhwc conv_same(const Nhwc& x, const std::vector<float>& w, const std::vector<float>& bias, int64_t oc, int64_t k,
               int64_t s, bool depthwise) {
    int64_t oh, ow;
    const int64_t pt = same_before(x.h, k, s, oh), pl = same_before(x.w, k, s, ow);
    Nhwc y = make(oh, ow, oc);
    const int64_t mult = oc / x.c;
    for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox)
            for (int64_t o = 0; o < oc; ++o) {
                double acc = bias[static_cast<size_t>(o)];
                for (int64_t ky = 0; ky < k; ++ky)
                    for (int64_t kx = 0; kx < k; ++kx) {
                        const int64_t iy = oy * s - pt + ky, ix = ox * s - pl + kx;
                        if (depthwise) {
                            acc += x.get(iy, ix, o / mult) * w[static_cast<size_t>((ky * k + kx) * oc + o)];
                        } else {
                            for (int64_t i = 0; i < x.c; ++i) {
                                acc += x.get(iy, ix, i) * w[static_cast<size_t>(((o * k + ky) * k + kx) * x.c + i)];
                            }
                        }
                    }
                y.at(oy, ox, o) = static_cast<float>(acc);
            }
    return y;
}

std::vector<float> random_values(size_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& f : v) f = dist(rng);
    return v;
}

std::string convert_to_temp(const std::vector<uint8_t>& tflite, const TfliteImportOptions& options, const char* tag) {
    const std::string dir = mnet::test::make_temp_dir(tag);
    mnet::test::write_file_bytes(dir + "/model.tflite", tflite);
    mnet::importer::convert_tflite_file(dir + "/model.tflite", dir + "/model.json", options);
    return dir + "/model.json";
}

TfliteImportOptions float_options() {
    TfliteImportOptions options;
    options.mean = std::array<float, 3>{127.5f, 127.5f, 127.5f};
    options.std = std::array<float, 3>{127.5f, 127.5f, 127.5f};
    return options;
}

}  // namespace

TEST_CASE("a float TFLite graph converts to NCHW and computes what TensorFlow computes", "[tools][tflite]") {
    std::mt19937 rng(20261127);
    constexpr int64_t H = 5, W = 6, C = 3, OC = 4, M = 2, DC = OC * M, FC = 5;
    mnet::test::TfliteBuilder b;
    auto& fbb = b.fbb();
    const int32_t x = b.activation("image", {1, H, W, C});
    // PAD (rows 1 top, columns 2 right) folded into the first conv; 3x3 stride 2 SAME on the padded 6x8.
    const int32_t pads = b.constant_i32("pads", {4, 2}, {0, 0, 1, 0, 0, 2, 0, 0});
    const int32_t padded = b.activation("padded", {1, H + 1, W + 2, C});
    b.op(BuiltinOperator::BuiltinOperator_PAD, {x, pads}, {padded}, tflite::BuiltinOptions_PadOptions,
         tflite::CreatePadOptions(fbb).Union());
    const std::vector<float> w1 = random_values(OC * 3 * 3 * C, rng), b1 = random_values(OC, rng);
    const int32_t conv = b.activation("conv", {1, 3, 4, OC});
    b.op(BuiltinOperator::BuiltinOperator_CONV_2D,
         {padded, b.constant_f32("conv/w", {OC, 3, 3, C}, w1), b.constant_f32("conv/b", {OC}, b1)}, {conv},
         tflite::BuiltinOptions_Conv2DOptions,
         tflite::CreateConv2DOptions(fbb, tflite::Padding_SAME, 2, 2, tflite::ActivationFunctionType_RELU).Union());
    // Depthwise, multiplier 2, int8 per-channel weights along the last axis, int32 bias.
    std::vector<int8_t> q2(3 * 3 * DC);
    for (size_t i = 0; i < q2.size(); ++i) q2[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
    std::vector<float> s2(DC), w2(q2.size()), b2(DC);
    std::vector<int32_t> qb2(DC);
    for (int64_t o = 0; o < DC; ++o) {
        s2[o] = 0.01f * static_cast<float>(o + 1);
        qb2[o] = static_cast<int32_t>(o * 13 - 40);
        b2[o] = static_cast<float>(qb2[o]) * (s2[o] * 0.5f);
    }
    for (size_t i = 0; i < q2.size(); ++i) w2[i] = static_cast<float>(q2[i]) * s2[i % DC];
    std::vector<float> bias_scales(DC);
    for (int64_t o = 0; o < DC; ++o) bias_scales[o] = s2[o] * 0.5f;
    const int32_t dw = b.activation("dw", {1, 3, 4, DC});
    b.op(BuiltinOperator::BuiltinOperator_DEPTHWISE_CONV_2D,
         {conv,
          b.constant_quantized("dw/w", {1, 3, 3, DC}, tflite::TensorType_INT8, mnet::test::to_bytes(q2), s2,
                               std::vector<int64_t>(DC, 0), 3),
          b.constant_quantized("dw/b", {DC}, tflite::TensorType_INT32, mnet::test::to_bytes(qb2), bias_scales,
                               std::vector<int64_t>(DC, 0), 0)},
         {dw}, tflite::BuiltinOptions_DepthwiseConv2DOptions,
         tflite::CreateDepthwiseConv2DOptions(fbb, tflite::Padding_SAME, 1, 1, M).Union());
    // ADD a scalar constant (first operand), MUL a per-channel constant, HARD_SWISH.
    const int32_t added = b.activation("added", {1, 3, 4, DC});
    b.op(BuiltinOperator::BuiltinOperator_ADD, {b.constant_f32("three", {}, {3.0f}), dw}, {added},
         tflite::BuiltinOptions_AddOptions, tflite::CreateAddOptions(fbb).Union());
    const std::vector<float> gains = random_values(DC, rng, 0.5f, 1.5f);
    const int32_t scaled = b.activation("scaled", {1, 3, 4, DC});
    b.op(BuiltinOperator::BuiltinOperator_MUL, {added, b.constant_f32("gains", {DC}, gains)}, {scaled},
         tflite::BuiltinOptions_MulOptions, tflite::CreateMulOptions(fbb).Union());
    const int32_t hs = b.activation("hs", {1, 3, 4, DC});
    b.op(BuiltinOperator::BuiltinOperator_HARD_SWISH, {scaled}, {hs});
    // MEAN over H, W (keepdims), RESHAPE to [1, DC], FULLY_CONNECTED, SOFTMAX.
    const int32_t pooled = b.activation("pooled", {1, 1, 1, DC});
    b.op(BuiltinOperator::BuiltinOperator_MEAN, {hs, b.constant_i32("axes", {2}, {1, 2})}, {pooled},
         tflite::BuiltinOptions_ReducerOptions, tflite::CreateReducerOptions(fbb, true).Union());
    const int32_t flat = b.activation("flat", {1, DC});
    b.op(BuiltinOperator::BuiltinOperator_RESHAPE, {pooled, b.constant_i32("shape", {2}, {1, DC})}, {flat});
    const std::vector<float> w3 = random_values(FC * DC, rng), b3 = random_values(FC, rng);
    const int32_t logits = b.activation("logits", {1, FC});
    b.op(BuiltinOperator::BuiltinOperator_FULLY_CONNECTED,
         {flat, b.constant_f32("fc/w", {FC, DC}, w3), b.constant_f32("fc/b", {FC}, b3)}, {logits},
         tflite::BuiltinOptions_FullyConnectedOptions, tflite::CreateFullyConnectedOptions(fbb).Union());
    const int32_t probs = b.activation("probs", {1, FC});
    b.op(BuiltinOperator::BuiltinOperator_SOFTMAX, {logits}, {probs}, tflite::BuiltinOptions_SoftmaxOptions,
         tflite::CreateSoftmaxOptions(fbb, 1.0f).Union());
    const std::vector<uint8_t> file = b.finish({x}, {probs});

    // Structure.
    mnet::ModelWriter writer = mnet::importer::import_tflite("tiny.tflite", file, float_options());
    const mnet::ModelDef& def = writer.def();
    std::vector<std::string> ops;
    for (const auto& n : def.nodes) ops.push_back(n.op);
    CHECK(ops == std::vector<std::string>{"conv2d", "conv2d", "add", "mul", "activation", "global_avg_pool", "reshape",
                                          "fully_connected", "softmax"});
    // PAD [t1, l0, b0, r2] + SAME on 6x8 with stride 2 ([t0, l0, b1, r1]).
    CHECK(std::get<std::vector<int64_t>>(def.nodes[0].attrs.at("pad")) == std::vector<int64_t>{1, 0, 1, 3});
    CHECK(def.nodes[0].inputs == std::vector<std::string>{"image"});
    CHECK(std::get<int64_t>(def.nodes[1].attrs.at("groups")) == OC);
    CHECK(def.outputs.at(0).kind == mnet::OutputKind::Probabilities);
    CHECK_FALSE(def.input.quant);
    for (const auto& t : def.tensors) {
        INFO(t.name);
        if (t.name == "dw/w") {
            CHECK(t.shape == mnet::Shape{DC, 1, 3, 3});
            REQUIRE(t.quant);
            CHECK(t.quant->axis == 0);  // the file's quantized_dimension 3, moved with the channels
            CHECK(t.quant->dtype == mnet::DType::S8);
        }
        if (t.name == "three") CHECK(t.shape == mnet::Shape{1, 1, 1, 1});
        if (t.name == "gains") CHECK(t.shape == mnet::Shape{1, DC, 1, 1});
        if (t.name == "conv/w") CHECK(t.shape == mnet::Shape{OC, C, 3, 3});
    }

    // Numbers: the reference interpreter on the converted model against the NHWC loops above.
    const auto model = mnet::Model::load(convert_to_temp(file, float_options(), "tflite-float"));
    Nhwc img = make(H, W, C);
    img.v = random_values(static_cast<size_t>(H * W * C), rng);
    Nhwc pad_img = make(H + 1, W + 2, C);
    for (int64_t y = 0; y < H; ++y)
        for (int64_t xx = 0; xx < W; ++xx)
            for (int64_t k = 0; k < C; ++k) pad_img.at(y + 1, xx, k) = img.at(y, xx, k);
    Nhwc a = conv_same(pad_img, w1, b1, OC, 3, 2, false);
    for (float& v : a.v) v = std::max(v, 0.0f);
    Nhwc d = conv_same(a, w2, b2, DC, 3, 1, true);
    std::vector<double> mean(DC, 0.0);
    for (size_t i = 0; i < d.v.size(); ++i) {
        const double t = (d.v[i] + 3.0) * gains[i % DC];
        mean[i % DC] += t * std::min(std::max(t + 3.0, 0.0), 6.0) / 6.0 / (3.0 * 4.0);
    }
    std::vector<double> expected(FC);
    double total = 0;
    for (int64_t o = 0; o < FC; ++o) {
        double acc = b3[o];
        for (int64_t k = 0; k < DC; ++k) acc += w3[o * DC + k] * mean[k];
        expected[o] = std::exp(acc);
        total += expected[o];
    }
    mnet::Tensor src({1, C, H, W});
    for (int64_t k = 0; k < C; ++k)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t xx = 0; xx < W; ++xx) src.data[static_cast<size_t>((k * H + y) * W + xx)] = img.at(y, xx, k);
    // Every activation (value 0 is the input, then one per node): the two convolutions element by element, so
    // a transposed kernel or a misplaced padding row shows even where the pooled result would hide it.
    const std::vector<mnet::Tensor> values = mnet::reference::run_all(*model, src);
    REQUIRE(values.size() == 10);
    auto check_nchw = [](const mnet::Tensor& got, const Nhwc& want) {
        REQUIRE(got.shape == mnet::Shape{1, want.c, want.h, want.w});
        for (int64_t k = 0; k < want.c; ++k)
            for (int64_t y = 0; y < want.h; ++y)
                for (int64_t xx = 0; xx < want.w; ++xx) {
                    CAPTURE(k, y, xx);
                    CHECK(got.data[static_cast<size_t>((k * want.h + y) * want.w + xx)] ==
                          Approx(want.get(y, xx, k)).margin(1e-5));
                }
    };
    check_nchw(values[1], a);
    check_nchw(values[2], d);
    const mnet::Tensor& out = values.back();
    REQUIRE(out.shape == mnet::Shape{1, FC});
    for (int64_t o = 0; o < FC; ++o) {
        CAPTURE(o);
        CHECK(out.data[o] == Approx(expected[o] / total).margin(1e-5));
    }
}

TEST_CASE("an unsupported TFLite op is named with its index and output", "[tools][tflite]") {
    mnet::test::TfliteBuilder b;
    const int32_t x = b.activation("x", {1, 2, 2, 3});
    const int32_t r = b.activation("r", {1, 2, 2, 3});
    b.op(BuiltinOperator::BuiltinOperator_RELU, {x}, {r});
    const int32_t y = b.activation("joined", {1, 2, 2, 6});
    b.op(BuiltinOperator::BuiltinOperator_CONCATENATION, {x, r}, {y}, tflite::BuiltinOptions_ConcatenationOptions,
         tflite::CreateConcatenationOptions(b.fbb(), 3).Union());
    const std::vector<uint8_t> file = b.finish({x}, {y});
    expect_error([&] { mnet::importer::import_tflite("concat.tflite", file, float_options()); },
                 mnet::ErrorCode::Unsupported, {"concat.tflite: operator 1 CONCATENATION (output 'joined')"});
}

TEST_CASE("a float-input TFLite model needs --mean and --std", "[tools][tflite]") {
    mnet::test::TfliteBuilder b;
    const int32_t x = b.activation("x", {1, 2, 2, 3});
    const int32_t y = b.activation("y", {1, 2, 2, 3});
    b.op(BuiltinOperator::BuiltinOperator_RELU6, {x}, {y});
    const std::vector<uint8_t> file = b.finish({x}, {y});
    expect_error([&] { mnet::importer::import_tflite("float.tflite", file, TfliteImportOptions{}); },
                 mnet::ErrorCode::InvalidArgument, {"--mean and --std"});
    mnet::ModelWriter writer = mnet::importer::import_tflite("float.tflite", file, float_options());
    CHECK(writer.def().outputs.at(0).kind == mnet::OutputKind::Logits);
    CHECK(writer.def().preprocess.std[0] == 127.5f);
}

TEST_CASE("TFLite layouts mnet cannot express are refused", "[tools][tflite]") {
    mnet::test::TfliteBuilder b;
    const int32_t x = b.activation("x", {1, 2, 2, 3});
    const int32_t y = b.activation("y", {1, 12});
    SECTION("a reshape that depends on NHWC order") { b.op(BuiltinOperator::BuiltinOperator_RESHAPE, {x}, {y}); }
    SECTION("a fully connected layer over a spatial NHWC input") {
        b.op(BuiltinOperator::BuiltinOperator_FULLY_CONNECTED,
             {x, b.constant_f32("w", {12, 12}, std::vector<float>(144))}, {y});
    }
    const std::vector<uint8_t> file = b.finish({x}, {y});
    expect_error([&] { mnet::importer::import_tflite("layout.tflite", file, float_options()); },
                 mnet::ErrorCode::Unsupported, {"operator 0"});
}

TEST_CASE("a DEQUANTIZE of float16 weights becomes float32 weights", "[tools][tflite]") {
    mnet::test::TfliteBuilder b;
    const int32_t x = b.activation("x", {1, 1, 1, 3});
    // 1.0, -2.0, 0.5, 65504 (largest half), 2^-24 (smallest subnormal), 0 as IEEE half bits.
    const std::vector<uint16_t> half = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x0000};
    const int32_t w16 = b.constant_raw("w16", {2, 3}, tflite::TensorType_FLOAT16, mnet::test::to_bytes(half));
    const int32_t w32 = b.activation("w32", {2, 3});
    b.op(BuiltinOperator::BuiltinOperator_DEQUANTIZE, {w16}, {w32});
    const int32_t y = b.activation("y", {1, 2});
    b.op(BuiltinOperator::BuiltinOperator_FULLY_CONNECTED, {x, w32, -1}, {y});
    mnet::ModelWriter writer = mnet::importer::import_tflite("fp16.tflite", b.finish({x}, {y}), float_options());
    REQUIRE(writer.def().tensors.size() == 1);
    const mnet::TensorDef& t = writer.def().tensors[0];
    CHECK(t.name == "w16");
    CHECK(t.shape == mnet::Shape{2, 3});
    const std::vector<uint8_t> bytes = writer.weights_bytes();
    std::vector<float> values(6);
    std::memcpy(values.data(), bytes.data() + t.offset, t.nbytes);
    CHECK(values == std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f, std::ldexp(1.0f, -24), 0.0f});
    CHECK(writer.def().nodes.size() == 1);
}
