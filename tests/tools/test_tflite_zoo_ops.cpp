// SPDX-License-Identifier: Apache-2.0
// What TensorFlow 2's converter emits that the importer translates without a one-to-one mnet op (tools/zoo's
// models have all of them, docs/zoo.md): SUB with a constant, the SHAPE -> STRIDED_SLICE -> PACK chain a Keras
// Reshape computes its target shape with, and the QUANTIZE of a uint8 input to int8 at the same scale.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

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

TfliteImportOptions float_options() {
    TfliteImportOptions options;
    options.mean = std::array<float, 3>{0.0f, 0.0f, 0.0f};
    options.std = std::array<float, 3>{1.0f, 1.0f, 1.0f};
    return options;
}

// Converts, loads and runs `file` on src (NCHW) with mnet's reference executor; returns the first output.
mnet::Tensor run(const std::vector<uint8_t>& file, const mnet::Tensor& src, const char* tag) {
    const std::string dir = mnet::test::make_temp_dir(tag);
    mnet::test::write_file_bytes(dir + "/model.tflite", file);
    mnet::importer::convert_tflite_file(dir + "/model.tflite", dir + "/model.json", float_options());
    const auto model = mnet::Model::load(dir + "/model.json");
    mnet::Tensor out = mnet::reference::run(*model, src).at(0);
    std::filesystem::remove_all(dir);
    return out;
}

}  // namespace

TEST_CASE("TFLite SUB with a constant operand on either side computes a - b", "[tools][tflite]") {
    const bool constant_first = GENERATE(false, true);
    CAPTURE(constant_first);
    mnet::test::TfliteBuilder b;
    const int32_t x = b.activation("x", {1, 1, 2, 3});
    const std::vector<float> k = {0.5f, -1.25f, 3.0f};  // per channel (NHWC's last axis)
    const int32_t kc = b.constant_f32("k", {3}, k);
    const int32_t y = b.activation("y", {1, 1, 2, 3});
    const std::vector<int32_t> operands = constant_first ? std::vector<int32_t>{kc, x} : std::vector<int32_t>{x, kc};
    b.op(BuiltinOperator::BuiltinOperator_SUB, operands, {y}, tflite::BuiltinOptions_SubOptions,
         tflite::CreateSubOptions(b.fbb(), tflite::ActivationFunctionType_NONE).Union());
    mnet::Tensor src({1, 3, 1, 2});
    for (size_t i = 0; i < src.data.size(); ++i) src.data[i] = 0.25f * static_cast<float>(i) - 1.0f;
    const mnet::Tensor out = run(b.finish({x}, {y}), src, "tflite-sub");
    REQUIRE(out.shape == mnet::Shape{1, 3, 1, 2});
    for (size_t c = 0; c < 3; ++c) {
        for (size_t w = 0; w < 2; ++w) {
            const float v = src.data[c * 2 + w];
            CHECK(out.data[c * 2 + w] == (constant_first ? k[c] - v : v - k[c]));  // exact: only signs flip
        }
    }
}

TEST_CASE("TFLite SUB of two activations is refused naming the op", "[tools][tflite]") {
    mnet::test::TfliteBuilder b;
    const int32_t x = b.activation("x", {1, 1, 2, 3});
    const int32_t r = b.activation("r", {1, 1, 2, 3});
    b.op(BuiltinOperator::BuiltinOperator_RELU, {x}, {r});
    const int32_t y = b.activation("difference", {1, 1, 2, 3});
    b.op(BuiltinOperator::BuiltinOperator_SUB, {x, r}, {y});
    expect_error([&] { mnet::importer::import_tflite("sub.tflite", b.finish({x}, {y}), float_options()); },
                 mnet::ErrorCode::Unsupported, {"sub.tflite: operator 1 SUB (output 'difference')", "two activations"});
}

TEST_CASE("the unsupported-op message lists the importer's own table", "[tools][tflite]") {
    mnet::test::TfliteBuilder b;
    const int32_t x = b.activation("x", {1, 1, 2, 3});
    const int32_t y = b.activation("y", {1, 1, 2, 3});
    b.op(BuiltinOperator::BuiltinOperator_TANH, {x}, {y});
    expect_error([&] { mnet::importer::import_tflite("tanh.tflite", b.finish({x}, {y}), float_options()); },
                 mnet::ErrorCode::Unsupported,
                 {"operator 0 TANH (output 'y'): mnet-convert does not support this op; it handles CONV_2D, ",
                  "SUB (with a constant operand)", "PAD (before a convolution)", "PACK (for a RESHAPE's shape)"});
}

TEST_CASE("a Keras Reshape's SHAPE/STRIDED_SLICE/PACK chain feeds only the RESHAPE's shape input", "[tools][tflite]") {
    mnet::test::TfliteBuilder b;
    const int32_t x = b.activation("x", {1, 1, 1, 3});
    const int32_t shape = b.activation("shape", {4}, tflite::TensorType_INT32);
    b.op(BuiltinOperator::BuiltinOperator_SHAPE, {x}, {shape});
    const int32_t batch = b.activation("batch", {}, tflite::TensorType_INT32);
    b.op(BuiltinOperator::BuiltinOperator_STRIDED_SLICE,
         {shape, b.constant_i32("begin", {1}, {0}), b.constant_i32("end", {1}, {1}),
          b.constant_i32("strides", {1}, {1})},
         {batch});
    const int32_t target = b.activation("target", {2}, tflite::TensorType_INT32);
    b.op(BuiltinOperator::BuiltinOperator_PACK, {batch, b.constant_i32("classes", {}, {3})}, {target});
    const int32_t y = b.activation("y", {1, 3});
    SECTION("as a RESHAPE's shape") {
        b.op(BuiltinOperator::BuiltinOperator_RESHAPE, {x, target}, {y});
        mnet::Tensor src({1, 3, 1, 1});
        src.data = {1.0f, -2.0f, 3.5f};
        const mnet::Tensor out = run(b.finish({x}, {y}), src, "tflite-shape");
        CHECK(out.shape == mnet::Shape{1, 3});
        CHECK(out.data == src.data);
    }
    SECTION("read as an activation") {
        b.op(BuiltinOperator::BuiltinOperator_ADD, {x, target}, {y});
        expect_error([&] { mnet::importer::import_tflite("shape.tflite", b.finish({x}, {y}), float_options()); },
                     mnet::ErrorCode::Unsupported, {"operator 3 ADD", "'target', a shape computation"});
    }
}

TEST_CASE("a QUANTIZE of the uint8 input to int8 at the same scale becomes the model's input parameters",
          "[tools][tflite]") {
    const float scale = 0.0078125f;
    mnet::test::TfliteBuilder b;
    const int32_t x = b.activation("x", {1, 1, 1, 3}, tflite::TensorType_UINT8, scale, 128);
    const int32_t q = b.activation("q", {1, 1, 1, 3}, tflite::TensorType_INT8, scale, 0);
    b.op(BuiltinOperator::BuiltinOperator_QUANTIZE, {x}, {q});
    const int32_t y = b.activation("y", {1, 1, 1, 3}, tflite::TensorType_INT8, scale, 0);
    b.op(BuiltinOperator::BuiltinOperator_RELU, {q}, {y});
    const mnet::ModelWriter writer = mnet::importer::import_tflite("u8.tflite", b.finish({x}, {y}), {});
    const mnet::ModelDef& def = writer.def();
    REQUIRE(def.input.quant);
    CHECK(def.input.quant->dtype == mnet::DType::S8);
    CHECK(def.input.quant->zero_point == std::vector<int64_t>{0});
    CHECK(def.preprocess.mean[0] == 128.0f);  // pixels still map as the uint8 input says: (p - 128) * scale
    REQUIRE(def.nodes.size() == 1);
    CHECK(def.nodes[0].op == "activation");
    CHECK(def.nodes[0].inputs == std::vector<std::string>{"x"});
}
