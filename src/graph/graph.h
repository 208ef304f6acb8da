// SPDX-License-Identifier: Apache-2.0
// The validated graph: every op's attributes parsed once into typed fields, every weight checked against the op,
// every activation's shape inferred (batch 1). The executor and the reference interpreter both start here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/shape.h"
#include "model/model_def.h"
#include "model/weight_file.h"
#include "ops/op.h"

namespace mnet {

struct Window {  // convolution and pooling geometry
    int64_t kernel_h = 1, kernel_w = 1;
    int64_t stride_h = 1, stride_w = 1;
    int64_t dilation_h = 1, dilation_w = 1;
    int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
};

struct Range {  // the saturation range from a node's quantization (FORMAT.md "Saturation rule")
    float lo, hi;
};

struct Node {
    std::string name;
    OpKind op;
    Activation activation = Activation::None;  // fused, or the function of an `activation` node
    std::vector<int> inputs;                   // value ids
    int output = -1;                           // value id
    Window window;                             // conv2d and pooling geometry; an op's explicit pads
    int64_t groups = 1;                        // conv2d
    bool keepdims = true;                      // global_avg_pool
    const TensorDef* weights = nullptr;        // conv2d, fully_connected
    const TensorDef* bias = nullptr;
    const TensorDef* constant = nullptr;       // add/mul with a constant operand b
    std::optional<Range> saturate;
    int64_t macs = 0;                          // at batch 1
    int64_t params = 0;
};

struct Value {
    std::string name;
    Shape shape;        // batch 1
    int producer = -1;  // node index, -1 for the graph input
    std::vector<int> consumers;
    bool is_output = false;  // listed in Graph::outputs
};

struct Graph {
    std::vector<Value> values;
    std::vector<Node> nodes;  // topological order
    int input = 0;
    std::vector<int> outputs;
};

// What an op's shape inference (OpDef::infer) sees of the node being built; graph.cpp implements it.
class NodeContext {
public:
    NodeContext(const NodeDef& node_def, Node& graph_node) : def(node_def), node(graph_node) {}
    virtual ~NodeContext() = default;
    const NodeDef& def;  // the manifest's node
    Node& node;          // the graph node being built: infer fills its typed fields
    virtual const Shape& input_shape(size_t i) const = 0;
    // The f32 tensor given for weight `role`; nullptr when absent and not `required`.
    virtual const TensorDef* weight(const std::string& role, bool required) = 0;
    // Throws `code` naming the file and the node.
    [[noreturn]] virtual void fail(const std::string& what, ErrorCode code = ErrorCode::ModelFormat) const = 0;
};

// Validates `def` against itself and `weights` (already header- and checksum-checked) and builds the graph.
// Throws ModelFormat or Unsupported with `where` (the manifest path) and the node or tensor at fault.
Graph build_graph(const ModelDef& def, const WeightFile& weights, const std::string& where);

// A float tensor's values (copied: the file's bytes carry no alignment guarantee for the host type).
std::vector<float> tensor_values(const WeightFile& weights, const TensorDef& tensor);

}  // namespace mnet
