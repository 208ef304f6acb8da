// SPDX-License-Identifier: Apache-2.0
// The op registry: every op of models/FORMAT.md, by kind, with the facts everything outside the lowering needs
// (its name, attributes, weights, input count, shape inference, what calibration gives its output). One row per
// op in the table of ops/registry.cpp; the lowering (ops/lowering_ops.cpp) and the reference interpreter
// (ops/reference/reference.cpp) keep one row per op each in tables of the same order, and all three
// static_assert that they cover OpKind. docs/adding-an-op.md lists the steps. No oneDNN here: the graph, the
// importers and calibration include this header.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "mnet/error.h"
#include "model/model_def.h"

namespace mnet {

// Append new ops at the end and move kOpCount to the new last one.
enum class OpKind {
    Conv2d,
    FullyConnected,
    Add,
    Mul,
    Activation,
    Identity,
    AvgPool,
    MaxPool,
    GlobalAvgPool,
    Reshape,
    Softmax,
    Pad,
};
constexpr size_t kOpCount = static_cast<size_t>(OpKind::Pad) + 1;

// The activation functions of FORMAT.md "activation", fused into an op or as an `activation` node.
enum class Activation { None, Relu, Relu6, ReluN1To1, HardSwish, HardSigmoid, Sigmoid };

// What post-training quantization (graph/calibrate.cpp) gives an op's output.
enum class CalibratedRange {
    Observed,    // parameters from the range observed over the calibration images
    SameAsInput, // its input's: the output holds values of the input (a subset, or averages), as TFLite does it
    Float,       // none: the output stays float (probabilities)
};

class NodeContext;
struct Node;

// One op: its FORMAT.md row as data. `infer` parses the attributes into the node's typed fields, checks them and
// the weights against the inputs, and returns the output shape (batch 1); it reports through ctx.fail().
struct OpDef {
    OpKind kind;
    std::string_view name;
    std::array<std::string_view, 6> attrs;    // the attributes it accepts (empty entries unused)
    std::array<std::string_view, 2> weights;  // the weight roles it accepts
    size_t min_inputs, max_inputs;            // activation inputs
    bool fused_activation;                    // takes the "activation" attribute
    CalibratedRange calibrated_range;
    Shape (*infer)(NodeContext& ctx);
};

// The row of `kind`, and its FORMAT.md name.
const OpDef& op_def(OpKind kind);
const char* op_name(OpKind kind);
// The op named `name`, or nullptr.
const OpDef* find_op(std::string_view name);
// Every op name, comma-separated, in table order: for "supported ops" messages.
std::string op_name_list();

const char* activation_name(Activation act);
// The activation named `name` (FORMAT.md "activation"), or false.
bool find_activation(std::string_view name, Activation& act);

}  // namespace mnet
