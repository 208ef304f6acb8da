// SPDX-License-Identifier: Apache-2.0
#include "tools/tflite_builder.h"

#include <algorithm>

namespace mnet::test {

namespace {

// Buffer.data is declared force_align 16 upstream; writers align it so kernels can map it in place.
constexpr size_t kBufferAlignment = 16;
// Codes below this also go in deprecated_builtin_code, as TFLite's own writer does.
constexpr int32_t kPlaceholderForGreaterOpCodes = 127;
constexpr uint32_t kSchemaVersion = 3;

}  // namespace

TfliteBuilder::TfliteBuilder() {
    buffers_.push_back(tflite::CreateBuffer(fbb_));  // buffer 0: the empty sentinel
}

uint32_t TfliteBuilder::add_buffer(const std::vector<uint8_t>& bytes) {
    fbb_.ForceVectorAlignment(bytes.size(), sizeof(uint8_t), kBufferAlignment);
    auto data = fbb_.CreateVector(bytes);
    buffers_.push_back(tflite::CreateBuffer(fbb_, data));
    return static_cast<uint32_t>(buffers_.size() - 1);
}

int32_t TfliteBuilder::add_tensor(const std::string& name, const std::vector<int32_t>& shape, tflite::TensorType type,
                                  uint32_t buffer, flatbuffers::Offset<tflite::QuantizationParameters> quant) {
    auto shape_vec = fbb_.CreateVector(shape);
    auto name_str = fbb_.CreateString(name);
    tensors_.push_back(tflite::CreateTensor(fbb_, shape_vec, type, buffer, name_str, quant));
    return static_cast<int32_t>(tensors_.size() - 1);
}

int32_t TfliteBuilder::activation(const std::string& name, const std::vector<int32_t>& shape, tflite::TensorType type,
                                  float scale, int64_t zero_point) {
    flatbuffers::Offset<tflite::QuantizationParameters> quant = 0;
    if (scale > 0) {
        quant = tflite::CreateQuantizationParameters(fbb_, fbb_.CreateVector(std::vector<float>{scale}),
                                                     fbb_.CreateVector(std::vector<int64_t>{zero_point}));
    }
    return add_tensor(name, shape, type, 0, quant);
}

int32_t TfliteBuilder::constant_f32(const std::string& name, const std::vector<int32_t>& shape,
                                    const std::vector<float>& values) {
    return add_tensor(name, shape, tflite::TensorType_FLOAT32, add_buffer(to_bytes(values)), 0);
}

int32_t TfliteBuilder::constant_i32(const std::string& name, const std::vector<int32_t>& shape,
                                    const std::vector<int32_t>& values) {
    return add_tensor(name, shape, tflite::TensorType_INT32, add_buffer(to_bytes(values)), 0);
}

int32_t TfliteBuilder::constant_quantized(const std::string& name, const std::vector<int32_t>& shape,
                                          tflite::TensorType type, const std::vector<uint8_t>& bytes,
                                          const std::vector<float>& scales, const std::vector<int64_t>& zero_points,
                                          int32_t axis) {
    const uint32_t buffer = add_buffer(bytes);
    auto quant = tflite::CreateQuantizationParameters(fbb_, fbb_.CreateVector(scales), fbb_.CreateVector(zero_points),
                                                      tflite::QuantizationDetails_NONE, 0, axis);
    return add_tensor(name, shape, type, buffer, quant);
}

int32_t TfliteBuilder::constant_raw(const std::string& name, const std::vector<int32_t>& shape, tflite::TensorType type,
                                    const std::vector<uint8_t>& bytes) {
    return add_tensor(name, shape, type, add_buffer(bytes), 0);
}

void TfliteBuilder::op(tflite::BuiltinOperator code, const std::vector<int32_t>& inputs,
                       const std::vector<int32_t>& outputs, tflite::BuiltinOptions options_type,
                       flatbuffers::Offset<void> options) {
    auto it = std::find(codes_.begin(), codes_.end(), static_cast<int32_t>(code));
    const auto index = static_cast<uint32_t>(it - codes_.begin());
    if (it == codes_.end()) codes_.push_back(code);
    auto in = fbb_.CreateVector(inputs);
    auto out = fbb_.CreateVector(outputs);
    ops_.push_back(tflite::CreateOperator(fbb_, index, in, out, options_type, options));
}

std::vector<uint8_t> TfliteBuilder::finish(const std::vector<int32_t>& inputs, const std::vector<int32_t>& outputs) {
    std::vector<flatbuffers::Offset<tflite::OperatorCode>> codes;
    for (int32_t c : codes_) {
        const auto deprecated = static_cast<int8_t>(std::min(c, kPlaceholderForGreaterOpCodes));
        codes.push_back(tflite::CreateOperatorCode(fbb_, deprecated, 0, 1, static_cast<tflite::BuiltinOperator>(c)));
    }
    auto codes_vec = fbb_.CreateVector(codes);
    auto subgraph =
        tflite::CreateSubGraph(fbb_, fbb_.CreateVector(tensors_), fbb_.CreateVector(inputs), fbb_.CreateVector(outputs),
                               fbb_.CreateVector(ops_), fbb_.CreateString("main"));
    auto subgraphs = fbb_.CreateVector(std::vector<flatbuffers::Offset<tflite::SubGraph>>{subgraph});
    auto buffers = fbb_.CreateVector(buffers_);
    auto model =
        tflite::CreateModel(fbb_, kSchemaVersion, codes_vec, subgraphs, fbb_.CreateString("mnet test"), buffers);
    tflite::FinishModelBuffer(fbb_, model);
    return std::vector<uint8_t>(fbb_.GetBufferPointer(), fbb_.GetBufferPointer() + fbb_.GetSize());
}

}  // namespace mnet::test
