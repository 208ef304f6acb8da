// SPDX-License-Identifier: Apache-2.0
// Builds small TFLite flatbuffers in memory for the importer tests, with flatbuffers' builder API and the same
// schema subset (tools/tflite/tflite_subset.fbs) the importer reads.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tflite_subset_generated.h"

namespace mnet::test {

class TfliteBuilder {
public:
    TfliteBuilder();

    // For creating operator options: tflite::CreateConv2DOptions(builder.fbb(), ...).Union().
    flatbuffers::FlatBufferBuilder& fbb() { return fbb_; }

    // An activation (no data); quantized when `scale` > 0.
    int32_t activation(const std::string& name, const std::vector<int32_t>& shape,
                       tflite::TensorType type = tflite::TensorType_FLOAT32, float scale = 0, int64_t zero_point = 0);
    int32_t constant_f32(const std::string& name, const std::vector<int32_t>& shape, const std::vector<float>& values);
    int32_t constant_i32(const std::string& name, const std::vector<int32_t>& shape,
                         const std::vector<int32_t>& values);
    // Raw little-endian data with quantization: one scale per tensor, or one per channel along `axis`.
    int32_t constant_quantized(const std::string& name, const std::vector<int32_t>& shape, tflite::TensorType type,
                               const std::vector<uint8_t>& bytes, const std::vector<float>& scales,
                               const std::vector<int64_t>& zero_points, int32_t axis = 0);
    int32_t constant_raw(const std::string& name, const std::vector<int32_t>& shape, tflite::TensorType type,
                         const std::vector<uint8_t>& bytes);

    void op(tflite::BuiltinOperator code, const std::vector<int32_t>& inputs, const std::vector<int32_t>& outputs,
            tflite::BuiltinOptions options_type = tflite::BuiltinOptions_NONE, flatbuffers::Offset<void> options = 0);

    std::vector<uint8_t> finish(const std::vector<int32_t>& inputs, const std::vector<int32_t>& outputs);

private:
    int32_t add_tensor(const std::string& name, const std::vector<int32_t>& shape, tflite::TensorType type,
                       uint32_t buffer, flatbuffers::Offset<tflite::QuantizationParameters> quant);
    uint32_t add_buffer(const std::vector<uint8_t>& bytes);

    flatbuffers::FlatBufferBuilder fbb_;
    std::vector<flatbuffers::Offset<tflite::Tensor>> tensors_;
    std::vector<flatbuffers::Offset<tflite::Buffer>> buffers_;
    std::vector<flatbuffers::Offset<tflite::Operator>> ops_;
    std::vector<int32_t> codes_;  // builtin code per operator_codes entry
};

template <typename T>
std::vector<uint8_t> to_bytes(const std::vector<T>& values) {
    std::vector<uint8_t> out(values.size() * sizeof(T));
    std::memcpy(out.data(), values.data(), out.size());
    return out;
}

}  // namespace mnet::test
