// SPDX-License-Identifier: Apache-2.0
// Reading an ONNX file (a protobuf ModelProto) as untrusted input: a size limit, the graph's values and names
// checked, its nodes put in topological order (cycles refused), and every tensor's bytes checked against its
// shape and element type before they are decoded. Internal to the ONNX importer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace onnx {
class ModelProto;
class GraphProto;
class NodeProto;
class TensorProto;
}  // namespace onnx

namespace mnet::importer::onnx_import {

// ONNX TensorProto.DataType values this importer reads.
enum ElemType : int32_t { kFloat = 1, kUint8 = 2, kInt8 = 3, kInt32 = 6, kInt64 = 7, kDouble = 11 };

const char* elem_type_name(int32_t type);

// A constant: an initializer, a Constant node's value or a folded result. Every element type is held as doubles
// (exact for float, the 8- and 32-bit integers, and int64 up to 2^53, which is all a shape needs).
struct ConstTensor {
    int32_t type = kFloat;
    std::vector<int64_t> dims;
    std::vector<double> values;
};

// Limits on untrusted input.
constexpr uint64_t kMaxModelBytes = uint64_t{1} << 30;    // the .onnx file itself
constexpr uint64_t kMaxExternalBytes = uint64_t{1} << 31; // one external-data file
constexpr int64_t kMaxTensorElements = int64_t{1} << 28;

// Decodes `t` (raw_data, the typed field of its type, or external data in `dir`, the model's folder). Throws
// ModelFormat naming `where` when the byte length does not match dims and type, Unsupported for element types
// other than those above, and for external data outside `dir`.
ConstTensor decode_tensor(const onnx::TensorProto& t, const std::string& dir, const std::string& where);

// The parsed model, with its graph's nodes in an order where every input is defined before it is read.
struct OnnxModel {
    std::string path;
    std::shared_ptr<onnx::ModelProto> proto;
    int64_t opset = 0;                      // of the default domain
    std::vector<const onnx::NodeProto*> order;
    std::string input;                      // the one graph input that is not an initializer
    std::vector<int64_t> input_dims;        // -1 for a symbolic dimension
    std::vector<std::string> outputs;
    std::map<std::string, int> uses;        // readers of each value, a graph output counting as one
};

const onnx::GraphProto& graph(const OnnxModel& m);

// Reads and checks `path`. Throws Io when it cannot be read, ModelFormat when it is not a well-formed ONNX model
// (the message names the file and the node), Unsupported for graphs mnet cannot take (several inputs, ...).
OnnxModel read_onnx(const std::string& path);

// "[1,3,224,224]", for messages.
std::string dims_text(const std::vector<int64_t>& dims);

// A folded Shape's batch dimension when the graph's batch is symbolic: it may flow through Gather, Unsqueeze and
// Concat into a Reshape's target shape, where it stands for "the batch"; anything else refuses it.
constexpr double kBatchDim = -1099511627776.0;

// "Conv 'name'" (or "Conv #12" for an unnamed node), for messages.
std::string node_label(const onnx::NodeProto& n, size_t index);

}  // namespace mnet::importer::onnx_import
