// SPDX-License-Identifier: Apache-2.0
// A verified, bounds-checked view of a TFLite flatbuffer (schema version 3). The file is untrusted: the
// flatbuffer Verifier runs before anything is read, then every tensor, buffer and operator index is checked
// once up front, so the importer can index without further checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mnet/error.h"
#include "model/model_def.h"
#include "tflite_subset_generated.h"

namespace mnet::importer {

// One tensor of subgraph 0, as checked at load.
struct TfliteTensor {
    std::string name;  // sanitised (printable, valid UTF-8), unique within the file's tensors
    ::tflite::TensorType type = ::tflite::TensorType_FLOAT32;
    std::vector<int64_t> shape;        // as the file says: NHWC for 4-D activations; every dim >= 0
    const uint8_t* data = nullptr;     // constant data inside the file, or nullptr for an activation
    size_t nbytes = 0;                 // == numel * type size for a constant
    std::optional<QuantParams> quant;  // present when the file gives at least one scale
    int64_t quant_axis_file = -1;      // quantized_dimension in the file's own axis order (-1 per-tensor)
    bool is_constant() const { return data != nullptr; }
};

class TfliteFile {
public:
    // Takes the file's bytes; `path` names it in error messages. Throws Error(ModelFormat) when the flatbuffer
    // does not verify or an index, size or shape is inconsistent, Unsupported for valid but unhandled content
    // (several subgraphs are fine, only the first is read; sparse or variable tensors are not).
    TfliteFile(std::string path, std::vector<uint8_t> bytes);

    const std::string& path() const { return path_; }
    uint32_t schema_version() const { return model_->version(); }
    std::string description() const;

    const std::vector<TfliteTensor>& tensors() const { return tensors_; }
    const TfliteTensor& tensor(int32_t index) const { return tensors_.at(static_cast<size_t>(index)); }
    const std::vector<int32_t>& graph_inputs() const { return inputs_; }
    const std::vector<int32_t>& graph_outputs() const { return outputs_; }

    size_t operator_count() const { return subgraph_->operators()->size(); }
    const ::tflite::Operator& op(size_t index) const {
        return *subgraph_->operators()->Get(static_cast<uint32_t>(index));
    }
    // The operator's builtin code: max(deprecated_builtin_code, builtin_code), as TFLite itself decides.
    int32_t op_code(size_t index) const;
    // "CONV_2D", or "CUSTOM 'name'", or "BUILTIN 200" for a code newer than our schema.
    std::string op_name(size_t index) const;
    // Tensor indices; -1 marks an optional input that was left out (never in outputs).
    std::vector<int32_t> op_inputs(size_t index) const;
    std::vector<int32_t> op_outputs(size_t index) const;

    // Constant values as float32 in the file's element order: float32/float16 as they are, uint8/int8/int32
    // dequantized as (q - zero_point) * scale, per channel along the file's quantized_dimension when it has
    // several scales. Throws Unsupported for other types or integer data without quantization.
    std::vector<float> dequantize(const TfliteTensor& tensor) const;
    // Integer constants (shapes, axes, paddings): int32 or int64 values.
    std::vector<int64_t> int_values(const TfliteTensor& tensor) const;

    // Error helpers: the message starts with the file's path.
    [[noreturn]] void fail(ErrorCode code, const std::string& what) const;

private:
    void check_tensors(const ::tflite::Model& model);
    // Parts of check_tensors for one tensor; `label` names it in messages. check_shape returns numel.
    uint64_t check_shape(const ::tflite::Tensor& t, const std::string& label, TfliteTensor& out) const;
    void check_data(const ::tflite::Model& model, const ::tflite::Tensor& t, const std::string& label, uint64_t count,
                    TfliteTensor& out) const;
    void check_quantization(const ::tflite::Tensor& t, const std::string& label, TfliteTensor& out) const;
    void check_graph_io();
    void check_operators();

    std::string path_;
    std::vector<uint8_t> bytes_;
    const ::tflite::Model* model_ = nullptr;
    const ::tflite::SubGraph* subgraph_ = nullptr;
    std::vector<TfliteTensor> tensors_;
    std::vector<int32_t> inputs_;
    std::vector<int32_t> outputs_;
};

const char* tensor_type_name(::tflite::TensorType type);
// numel of a checked shape (dims >= 0, product known not to overflow after TfliteFile's checks).
int64_t numel(const std::vector<int64_t>& shape);

}  // namespace mnet::importer
