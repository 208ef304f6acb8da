// SPDX-License-Identifier: Apache-2.0
// The validated graph: every op's attributes parsed once into typed fields, every weight checked against the op,
// every activation's shape inferred (batch 1). The executor and the reference interpreter both start here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/model_def.h"
#include "model/weight_file.h"

namespace mnet {

enum class OpKind { Conv2d, FullyConnected, Add, Mul, Activation, Identity, AvgPool, MaxPool, GlobalAvgPool, Reshape, Softmax };

enum class Activation { None, Relu, Relu6, ReluN1To1, HardSwish, HardSigmoid, Sigmoid };

const char* op_name(OpKind op);
const char* activation_name(Activation act);

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
    Window window;                             // conv2d, avg_pool, max_pool
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
};

struct Graph {
    std::vector<Value> values;
    std::vector<Node> nodes;  // topological order
    int input = 0;
    std::vector<int> outputs;
};

// Validates `def` against itself and `weights` (already header- and checksum-checked) and builds the graph.
// Throws ModelFormat or Unsupported with `where` (the manifest path) and the node or tensor at fault.
Graph build_graph(const ModelDef& def, const WeightFile& weights, const std::string& where);

// A float tensor's values (copied: the file's bytes carry no alignment guarantee for the host type).
std::vector<float> tensor_values(const WeightFile& weights, const TensorDef& tensor);

}  // namespace mnet
