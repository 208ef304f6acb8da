// SPDX-License-Identifier: Apache-2.0
// Every manifest field outside the graph set to wrong types and extreme values: weights, alignment, input,
// preprocess, labels, outputs, tensors. Each edit is made to the small model (tensor 0 is conv1/weights
// [8,3,3,3] at offset 64, 864 bytes; tensor 1 starts at 960; the weights file has 2004 bytes).
#include <catch2/catch.hpp>

#include <chrono>

#include "model/corrupt_edits.h"

using namespace mnet;
using namespace mnet::test;

TEST_CASE("weights size and alignment fields", "[model][corrupt]") {
    require_edits_rejected(small_model(), {
        {"/weights", json::array(), kFormat, "weights: must be an object"},
        {"/weights", "corrupt.bin", kFormat, "weights: must be an object"},
        {"/weights", nullptr, kFormat, "weights: must be an object"},
        {"/weights/file", 7, kFormat, "weights.file: must be a string"},
        {"/weights/file", nullptr, kFormat, "weights.file: must be a string"},
        {"/weights/file", json::array({"corrupt.bin"}), kFormat, "weights.file: must be a string"},
        {"/weights/size", -1, kFormat, "weights.size: must be a non-negative integer"},
        {"/weights/size", kI64Min, kFormat, "weights.size: must be a non-negative integer"},
        {"/weights/size", "2004", kFormat, "weights.size: must be a non-negative integer"},
        {"/weights/size", 2004.0, kFormat, "weights.size: must be a non-negative integer"},
        {"/weights/size", nullptr, kFormat, "weights.size: must be a non-negative integer"},
        {"/weights/size", json::object(), kFormat, "weights.size: must be a non-negative integer"},
        {"/weights/size", 0, kFormat, "size is 2004 bytes, the manifest says 0"},
        {"/weights/size", 2003, kFormat, "the manifest says 2003"},
        {"/weights/size", k2p31, kFormat, "the manifest says 2147483648"},
        {"/weights/size", k2p63, kFormat, "the manifest says 9223372036854775808"},
        {"/weights/size", kU64Max, kFormat, "the manifest says 18446744073709551615"},
        {"/alignment", 0, kFormat, "alignment 0 is not a power of two >= 16"},
        {"/alignment", 1, kFormat, "alignment 1 is not a power of two >= 16"},
        {"/alignment", 8, kFormat, "alignment 8 is not a power of two >= 16"},
        {"/alignment", 48, kFormat, "alignment 48 is not a power of two >= 16"},
        {"/alignment", kU64Max, kFormat, "alignment 18446744073709551615 is not a power of two"},
        {"/alignment", 128, kFormat, "offset 64 is not a multiple of the alignment 128"},
        {"/alignment", k2p31, kFormat, "is not a multiple of the alignment 2147483648"},
        {"/alignment", k2p63, kFormat, "is not a multiple of the alignment 9223372036854775808"},
        {"/alignment", -64, kFormat, "alignment: must be a non-negative integer"},
        {"/alignment", "64", kFormat, "alignment: must be a non-negative integer"},
        {"/alignment", 64.5, kFormat, "alignment: must be a non-negative integer"},
        {"/alignment", json::array({64}), kFormat, "alignment: must be a non-negative integer"},
        {"/alignment", erase(), kFormat, "missing key 'alignment'"},
    });
}

TEST_CASE("input fields", "[model][corrupt]") {
    require_edits_rejected(small_model(), {
        {"/input", json::array(), kFormat, "input: must be an object"},
        {"/input/name", 5, kFormat, "input.name: must be a string"},
        {"/input/name", "conv1/weights", kFormat, "activation 'conv1/weights' has the name of a constant tensor"},
        {"/input/name", "image", kFormat, "input 'input' is not defined by an earlier node"},
        {"/input/dtype", "u8", kFormat, "input.dtype: must be \"f32\""},
        {"/input/dtype", 0, kFormat, "input.dtype: must be a string"},
        {"/input/layout", "nhwc", kFormat, "input.layout: must be \"nchw\""},
        {"/input/shape", "1x3x8x8", kFormat, "input.shape: must be an array"},
        {"/input/shape", json::object(), kFormat, "input.shape: must be an array"},
        {"/input/shape", json::array(), kFormat, "input: shape [], expected [1, 3, H, W]"},
        {"/input/shape", {1, 3, 8}, kFormat, "input: shape [1,3,8], expected [1, 3, H, W]"},
        {"/input/shape", {1, 3, 8, 8, 1}, kFormat, "input: shape [1,3,8,8,1], expected"},
        {"/input/shape", {2, 3, 8, 8}, kFormat, "input: shape [2,3,8,8], expected"},
        {"/input/shape", {0, 3, 8, 8}, kFormat, "input: shape [0,3,8,8], expected"},
        {"/input/shape", {1, 1, 8, 8}, kFormat, "input: shape [1,1,8,8], expected"},
        {"/input/shape", {1, 4, 8, 8}, kFormat, "input: shape [1,4,8,8], expected"},
        {"/input/shape/2", 0, kFormat, "does not match the input shape [1,3,0,8]"},
        {"/input/shape/2", -8, kFormat, "does not match the input shape [1,3,-8,8]"},
        {"/input/shape/3", k2p31, kFormat, "does not match the input shape [1,3,8,2147483648]"},
        {"/input/shape/2", kI64Max, kFormat, "does not match the input shape"},
        {"/input/shape/2", k2p63, kFormat, "input.shape[2]: integer out of range"},
        {"/input/shape/2", kU64Max, kFormat, "input.shape[2]: integer out of range"},
        {"/input/shape/2", "8", kFormat, "input.shape[2]: must be an integer"},
        {"/input/shape/2", 8.0, kFormat, "input.shape[2]: must be an integer"},
        {"/input/shape/2", nullptr, kFormat, "input.shape[2]: must be an integer"},
        {"/input/shape/2", json::array({8}), kFormat, "input.shape[2]: must be an integer"},
        {"/input/quantization", "u8", kFormat, "input.quantization: must be an object"},
        {"/input/quantization/dtype", "f32", kFormat, "unknown quantized dtype 'f32'"},
        {"/input/quantization/dtype", "u4", kFormat, "unknown quantized dtype 'u4'"},
        {"/input/quantization/scale", json::array(), kFormat, "must be non-empty and of equal length"},
        {"/input/quantization/scale", {0.0}, kFormat, "scales must be finite and positive"},
        {"/input/quantization/scale", {-1.0}, kFormat, "scales must be finite and positive"},
        {"/input/quantization/scale", 0.5, kFormat, "input.quantization.scale: must be an array"},
        {"/input/quantization/scale", {"0.5"}, kFormat, "input.quantization.scale: must be a number"},
        {"/input/quantization/zero_point", {128, 0}, kFormat, "must be non-empty and of equal length"},
        {"/input/quantization/zero_point", {0.5}, kFormat, "zero_point: must be an integer"},
        {"/input/quantization/zero_point", json::array({k2p63}), kFormat, "zero_point: integer out of range"},
        {"/input/quantization/axis", 4, kFormat, "input.quantization.axis: out of range"},
        {"/input/quantization/axis", -2, kFormat, "input.quantization.axis: out of range"},
        {"/input/quantization/axis", kI64Min, kFormat, "input.quantization.axis: out of range"},
        {"/input/quantization/axis", "0", kFormat, "input.quantization.axis: must be an integer"},
        // One scale along an axis of 8 values: per-channel parameters must match the axis.
        {"/input/quantization/axis", 2, kFormat, "per-channel quantization along axis 2 has 1 scales"},
    });
}

TEST_CASE("preprocess fields", "[model][corrupt]") {
    require_edits_rejected(small_model(), {
        {"/preprocess", json::array(), kFormat, "preprocess: must be an object"},
        {"/preprocess/height", 9, kFormat, "preprocess: size 9x8 does not match the input shape [1,3,8,8]"},
        {"/preprocess/width", 1, kFormat, "preprocess: size 8x1 does not match"},
        {"/preprocess/height", 0, kFormat, "preprocess.height: 0 is not in [1, 2147483647]"},
        {"/preprocess/height", -1, kFormat, "preprocess.height: -1 is not in [1, 2147483647]"},
        {"/preprocess/width", k2p31, kFormat, "preprocess.width: 2147483648 is not in [1, 2147483647]"},
        // 8 - 2^32 narrows to 8 in an int: it must not pass for the input's width.
        {"/preprocess/width", int64_t{8} - (int64_t{1} << 32), kFormat, "preprocess.width: -4294967288 is not in"},
        {"/preprocess/height", kI64Min, kFormat, "is not in [1, 2147483647]"},
        {"/preprocess/height", k2p63, kFormat, "preprocess.height: integer out of range"},
        {"/preprocess/height", "8", kFormat, "preprocess.height: must be an integer"},
        {"/preprocess/height", 8.0, kFormat, "preprocess.height: must be an integer"},
        {"/preprocess/crop", 0, kFormat, "preprocess.crop: must be in (0, 1]"},
        {"/preprocess/crop", -0.5, kFormat, "preprocess.crop: must be in (0, 1]"},
        {"/preprocess/crop", 1.0001, kFormat, "preprocess.crop: must be in (0, 1]"},
        {"/preprocess/crop", k2p63, kFormat, "preprocess.crop: must be in (0, 1]"},
        {"/preprocess/crop", "0.875", kFormat, "preprocess.crop: must be a number"},
        {"/preprocess/crop", nullptr, kFormat, "preprocess.crop: must be a number"},
        {"/preprocess/color", "rgba", kFormat, "preprocess.color: must be \"rgb\" or \"bgr\", got \"rgba\""},
        {"/preprocess/color", "RGB", kFormat, "preprocess.color: must be \"rgb\" or \"bgr\""},
        {"/preprocess/color", 1, kFormat, "preprocess.color: must be a string"},
        {"/preprocess/mean", {1, 2}, kFormat, "preprocess.mean: must hold 3 numbers"},
        {"/preprocess/mean", {1, 2, 3, 4}, kFormat, "preprocess.mean: must hold 3 numbers"},
        {"/preprocess/mean", json::array(), kFormat, "preprocess.mean: must hold 3 numbers"},
        {"/preprocess/mean", 127.5, kFormat, "preprocess.mean: must be an array"},
        {"/preprocess/mean", {"a", 1, 2}, kFormat, "preprocess.mean: must be a number"},
        {"/preprocess/mean", {1e300, 1, 2}, kFormat, "preprocess.mean: must be finite"},
        {"/preprocess/mean", {1, -1e39, 2}, kFormat, "preprocess.mean: must be finite"},
        {"/preprocess/std", {0, 1, 1}, kFormat, "preprocess.std: must be finite and positive"},
        {"/preprocess/std", {1, -1, 1}, kFormat, "preprocess.std: must be finite and positive"},
        {"/preprocess/std", {1, 1, 1e-50}, kFormat, "preprocess.std: must be finite and positive"},
        {"/preprocess/std", {1, 1, 1e300}, kFormat, "preprocess.std: must be finite"},
        {"/preprocess/std", {1, 1, nullptr}, kFormat, "preprocess.std: must be a number"},
    });
}

TEST_CASE("labels and outputs fields", "[model][corrupt]") {
    require_edits_rejected(small_model(), {
        {"/labels", {"a", "b", "c", "d"}, kFormat, "4 labels for an output of 5 classes"},
        {"/labels", {"a", "b", "c", "d", "e", "f"}, kFormat, "6 labels for an output of 5 classes"},
        {"/labels", {"only one"}, kFormat, "1 labels for an output of 5 classes"},
        {"/labels", "a,b,c,d,e", kFormat, "labels: must be an array"},
        {"/labels", json::object(), kFormat, "labels: must be an array"},
        {"/labels", nullptr, kFormat, "labels: must be an array"},
        {"/labels", {1, 2, 3, 4, 5}, kFormat, "labels[0]: must be a string"},
        {"/labels/4", nullptr, kFormat, "labels[4]: must be a string"},
        {"/labels/4", json::array({"four"}), kFormat, "labels[4]: must be a string"},
        {"/background_class", 1, kFormat, "background_class: must be true or false"},
        {"/background_class", "true", kFormat, "background_class: must be true or false"},
        {"/outputs", json::array(), kFormat, "the model declares no output"},
        {"/outputs", json::object(), kFormat, "outputs: must be an array"},
        {"/outputs", "prob_out", kFormat, "outputs: must be an array"},
        {"/outputs", {"prob_out"}, kFormat, "outputs[0]: must be an object"},
        {"/outputs/0/name", "nope", kFormat, "output 'nope' is not produced by any node"},
        {"/outputs/0/name", "conv1/weights", kFormat, "output 'conv1/weights' is not produced by any node"},
        {"/outputs/0/name", 3, kFormat, "outputs[0].name: must be a string"},
        {"/outputs/0/kind", "probs", kFormat, "unknown output kind 'probs'"},
        {"/outputs/0/kind", 0, kFormat, "outputs[0].kind: must be a string"},
        {"/outputs/0/kind", erase(), kFormat, "outputs[0]: missing key 'kind'"},
        {"/outputs/1", {{"name", "prob_out"}, {"kind", "logits"}}, kFormat, "output 'prob_out' is listed twice"},
        {"/outputs/1", {{"name", "input"}, {"kind", "feature"}}, kFormat, "output 'input' is the graph input"},
    });
}

TEST_CASE("tensor fields", "[model][corrupt]") {
    require_edits_rejected(small_model(), {
        {"/tensors", json::object(), kFormat, "tensors: must be an array"},
        {"/tensors", nullptr, kFormat, "tensors: must be an array"},
        {"/tensors/0", json::array(), kFormat, "tensors[0]: must be an object"},
        {"/tensors/0/name", 5, kFormat, "tensors[0].name: must be a string"},
        {"/tensors/0/name", "conv1/bias", kFormat, "tensor 'conv1/bias': duplicate tensor name"},
        {"/tensors/0/name", "", kFormat, "weight 'weights' names unknown tensor 'conv1/weights'"},
        {"/tensors/0/name", "input", kFormat, "activation 'input' has the name of a constant tensor"},
        {"/tensors/6/name", "dw_out", kFormat, "activation 'dw_out' has the name of a constant tensor"},
        {"/tensors/0/dtype", "f64", kFormat, "tensor 'conv1/weights'.dtype: unknown dtype 'f64'"},
        {"/tensors/0/dtype", "F32", kFormat, "unknown dtype 'F32'"},
        {"/tensors/0/dtype", 4, kFormat, "tensor 'conv1/weights'.dtype: must be a string"},
        {"/tensors/0/dtype", "u8", kFormat, "nbytes 864 does not match shape [8,3,3,3] of u8"},
        {"/tensors/0/shape", json::array(), kFormat, "tensor 'conv1/weights': rank 0, expected 1 to 4"},
        {"/tensors/0/shape", {8, 3, 3, 3, 1}, kFormat, "tensor 'conv1/weights': rank 5, expected 1 to 4"},
        {"/tensors/0/shape", {8, 3, 3, 0}, kFormat, "dimension 0 in shape [8,3,3,0]"},
        {"/tensors/0/shape", {8, 3, -3, -1}, kFormat, "dimension -3 in shape [8,3,-3,-1]"},
        {"/tensors/0/shape", {kI64Min, 3, 3, 3}, kFormat, "dimension -9223372036854775808"},
        {"/tensors/0/shape", {k2p31, 3, 3, 3}, kFormat, "nbytes 864 does not match shape [2147483648,3,3,3]"},
        {"/tensors/0/shape", {kI64Max, 3, 3, 3}, kFormat, "shape [9223372036854775807,3,3,3] overflows"},
        {"/tensors/0/shape", {int64_t{1} << 32, int64_t{1} << 32}, kFormat, "overflows"},
        {"/tensors/0/shape", {int64_t{1} << 62}, kFormat, "nbytes 864 does not match shape [4611686018427387904]"},
        {"/tensors/0/shape", json::array({k2p63}), kFormat, "shape[0]: integer out of range"},
        {"/tensors/0/shape", json::array({kU64Max}), kFormat, "shape[0]: integer out of range"},
        {"/tensors/0/shape", {"8", 3, 3, 3}, kFormat, "tensor 'conv1/weights'.shape[0]: must be an integer"},
        {"/tensors/0/shape", {8, 3, 3, 3.0}, kFormat, "shape[3]: must be an integer"},
        {"/tensors/0/shape", {8, 3, 3, nullptr}, kFormat, "shape[3]: must be an integer"},
        {"/tensors/0/shape", "8x3x3x3", kFormat, "tensor 'conv1/weights'.shape: must be an array"},
        {"/tensors/0/shape", {{"0", 8}}, kFormat, "tensor 'conv1/weights'.shape: must be an array"},
        {"/tensors/0/shape", {8, 3, 3, 1}, kFormat, "nbytes 864 does not match shape [8,3,3,1] of f32"},
        {"/tensors/0/nbytes", 0, kFormat, "nbytes 0 does not match"},
        {"/tensors/0/nbytes", 863, kFormat, "nbytes 863 does not match"},
        {"/tensors/0/nbytes", 868, kFormat, "nbytes 868 does not match"},
        {"/tensors/0/nbytes", k2p31, kFormat, "nbytes 2147483648 does not match"},
        {"/tensors/0/nbytes", k2p63, kFormat, "nbytes 9223372036854775808 does not match"},
        {"/tensors/0/nbytes", kU64Max, kFormat, "nbytes 18446744073709551615 does not match"},
        {"/tensors/0/nbytes", -864, kFormat, "tensor 'conv1/weights'.nbytes: must be a non-negative integer"},
        {"/tensors/0/nbytes", "864", kFormat, "nbytes: must be a non-negative integer"},
        {"/tensors/0/nbytes", 864.0, kFormat, "nbytes: must be a non-negative integer"},
        {"/tensors/0/offset", 0, kFormat, "bytes [0, +864) lie outside the weights data [64, 2004)"},
        {"/tensors/0/offset", 63, kFormat, "offset 63 is not a multiple of the alignment 64"},
        {"/tensors/0/offset", 68, kFormat, "offset 68 is not a multiple of the alignment 64"},
        {"/tensors/0/offset", 2048, kFormat, "bytes [2048, +864) lie outside"},
        {"/tensors/8/offset", 2048, kFormat, "bytes [2048, +20) lie outside"},
        {"/tensors/0/offset", k2p31, kFormat, "bytes [2147483648, +864) lie outside"},
        {"/tensors/0/offset", k2p63, kFormat, "bytes [9223372036854775808, +864) lie outside"},
        {"/tensors/0/offset", UINT64_MAX - 63, kFormat, "bytes [18446744073709551552, +864) lie outside"},
        {"/tensors/0/offset", kU64Max, kFormat, "offset 18446744073709551615 is not a multiple"},
        {"/tensors/0/offset", -64, kFormat, "tensor 'conv1/weights'.offset: must be a non-negative integer"},
        {"/tensors/0/offset", "64", kFormat, "offset: must be a non-negative integer"},
        {"/tensors/0/offset", nullptr, kFormat, "offset: must be a non-negative integer"},
        {"/tensors/0/offset", erase(), kFormat, "tensor 'conv1/weights': missing key 'offset'"},
        // Overlaps: the same start, a start inside another tensor, a tensor grown into the next one.
        {"/tensors/1/offset", 64, kFormat, "overlap"},
        {"/tensors/1/offset", 896, kFormat, "tensors 'conv1/weights' and 'conv1/bias' overlap"},
        {"/tensors/8/offset", 64, kFormat, "overlap"},
        {"/tensors/0/quantization/axis", 1, kFormat, "per-channel quantization along axis 1 has 8 scales for shape"},
        {"/tensors/0/quantization/axis", 4, kFormat, "tensor 'conv1/weights'.quantization.axis: out of range"},
        {"/tensors/0/quantization/axis", k2p63, kFormat, "quantization.axis: integer out of range"},
        {"/tensors/0/quantization/scale/3", 0, kFormat, "scales must be finite and positive"},
        {"/tensors/0/quantization/scale/3", nullptr, kFormat, "quantization.scale: must be a number"},
        {"/tensors/0/quantization/zero_point", {128}, kFormat, "must be non-empty and of equal length"},
        {"/tensors/0/quantization/dtype", "f32", kFormat, "unknown quantized dtype 'f32'"},
    });
    // Grown into its neighbour with a consistent shape and size.
    json j = parse(small_model());
    j["tensors"][0]["shape"] = {9, 3, 3, 3};
    j["tensors"][0]["nbytes"] = 972;
    j["tensors"][0].erase("quantization");  // its 8 per-channel scales would not fit 9 channels
    require_rejected(j, small_model().weights, kFormat, "tensors 'conv1/weights' and 'conv1/bias' overlap");
}

TEST_CASE("the real model's fields", "[model][corrupt]") {
    const ModelFiles& real = real_model();
    const json good = parse(real);
    const size_t last = good["tensors"].size() - 1;
    const std::string t1 = "/tensors/1", tl = "/tensors/" + std::to_string(last);
    const uint64_t size = real.weights.size();
    const uint64_t last_offset = good["tensors"][last]["offset"];
    require_edits_rejected(real, {
        {"/weights/size", size - 1, kFormat, "the manifest says " + std::to_string(size - 1)},
        {"/alignment", 4096, kFormat, "is not a multiple of the alignment 4096"},
        {"/input/shape", {1, 3, 192, 192, 1}, kFormat, "expected [1, 3, H, W]"},
        {"/preprocess/width", 224, kFormat, "size 192x224 does not match the input shape [1,3,192,192]"},
        {"/labels/1000", erase(), kFormat, "1000 labels for an output of 1001 classes"},
        {t1 + "/offset", 64, kFormat, "overlap"},
        {t1 + "/nbytes", good["tensors"][1]["nbytes"].get<uint64_t>() + 4, kFormat, "does not match shape"},
        {t1 + "/shape", json::array({k2p31}), kFormat, "does not match shape [2147483648]"},
        {t1 + "/shape", {kI64Max, kI64Max}, kFormat, "overflows"},
        {tl + "/offset", last_offset + 64, kFormat, "lie outside the weights data [64, " + std::to_string(size) + ")"},
        {tl + "/offset", last_offset + 4, kFormat, "is not a multiple of the alignment 64"},
        {tl + "/offset", k2p63, kFormat, "lie outside"},
        {tl + "/dtype", "s32", kUnsupported, "version 1 executes f32"},
        {"/tensors/0/name", good["tensors"][1]["name"], kFormat, "duplicate tensor name"},
        {"/format_version", 0, kUnsupported, "format_version 0 is not a version this mnet reads (1 to 2)"},
        {"/format_version", 99, kUnsupported, "format_version 99 is newer than the newest this mnet reads (2)"},
    });
}

TEST_CASE("a huge activation is refused before anything is allocated", "[model][corrupt]") {
    for (const ModelFiles* base : {&real_model()}) {
        for (int64_t side : {int64_t{100000}, int64_t{16385}, int64_t{1} << 30}) {
            CAPTURE(side);
            json j = parse(*base);
            j["input"]["shape"] = {1, 3, side, side};
            j["preprocess"]["height"] = side;
            j["preprocess"]["width"] = side;
            const auto start = std::chrono::steady_clock::now();
            require_rejected(j, base->weights, kFormat,
                             "input: output shape [1,3," + std::to_string(side) + "," + std::to_string(side) +
                                 "] is too large");
            CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
        }
    }
    // Small enough as an input, but the first convolution's output would not be.
    json j = parse(small_model());
    j["input"]["shape"] = {1, 3, 9000, 9000};
    j["preprocess"]["height"] = 9000;
    j["preprocess"]["width"] = 9000;
    require_rejected(j, small_model().weights, kFormat, "node 'conv1': output shape [1,8,9000,9000] is too large");
}
