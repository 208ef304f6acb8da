// SPDX-License-Identifier: Apache-2.0
// Translates the operators of a TFLite subgraph, one at a time and in file order, into mnet nodes and constant
// tensors (FORMAT.md "Nodes"). Internal to the TFLite importer.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/writer.h"
#include "ops/op.h"
#include "tflite_file.h"

namespace mnet::importer {

// "[1,224,224,3]", for messages.
std::string shape_text(const std::vector<int64_t>& shape);

class GraphBuilder {
public:
    // Names every file tensor up front, so generated names never collide with them.
    GraphBuilder(const TfliteFile& file, ModelWriter& writer);

    // The graph input: a rank-4 NHWC activation that becomes `name` [1, C, H, W].
    void add_input(int32_t tensor, const std::string& name);
    // Emits the nodes for operator `index`; throws Unsupported naming the op for anything it cannot express.
    void add_operator(size_t index);
    // "CONV_2D, DEPTHWISE_CONV_2D, ..., PAD (before a convolution), ...": what add_operator translates.
    static std::string supported_ops();

    // The activation name of a graph output; throws when no operator produced it.
    std::string output_name(int32_t tensor) const;
    // What a graph output holds, from the op that computed it (looking through QUANTIZE, DEQUANTIZE and RESHAPE):
    // probabilities after a SOFTMAX, a feature vector after a pooling op, logits otherwise.
    OutputKind output_kind(int32_t tensor) const;
    // Elements per image of an activation.
    int64_t features(int32_t tensor) const;

private:
    struct Activation {
        std::string name;
        Shape shape;  // logical NCHW (rank 4) or as in the file (rank 2, 3)
    };
    struct Translation {
        int32_t code;           // tflite::BuiltinOperator
        const char* condition;  // "" or what the translation needs, for messages
        void (*translate)(GraphBuilder&);
    };
    static const std::vector<Translation>& translations();

    struct PendingPad {
        int32_t src = -1;
        int64_t top = 0, left = 0, bottom = 0, right = 0;
    };

    // Operator translations.
    void convolution(bool depthwise);
    void pool(bool average);
    void binary(bool is_add);
    void activation_op(mnet::Activation kind);
    void reshape();
    void softmax();
    void mean();
    void fully_connected();
    void identity();
    bool fold_input_quantize();
    void pad();
    void subtract();
    void shape_computation();

    // Helpers; all errors name the current operator.
    [[noreturn]] void fail(ErrorCode code, const std::string& what) const;
    std::string where() const;
    void expect_io(size_t min_inputs, size_t max_inputs);
    int32_t input(size_t i) const;  // -1 when optional and absent
    const Activation& activation(int32_t tensor) const;
    const TfliteTensor* constant(int32_t tensor) const;  // nullptr for an activation (follows const aliases)
    const TfliteTensor& require_constant(int32_t tensor, const char* role) const;
    const std::vector<int64_t>& nhwc(int32_t tensor) const;  // the file shape, checked to be rank 4
    Shape logical_shape(const std::vector<int64_t>& file_shape) const;
    // Adds a constant in a permuted layout: dimension i of the result is dimension perm[i] of the file shape
    // (left-padded with 1s to perm.size()), negated if asked. Reuses an identical earlier conversion.
    std::string add_constant(int32_t tensor, const std::vector<size_t>& perm, bool negate = false);
    // Appends `nd` producing file tensor `out`, with the fused activation either as the op's attribute or
    // as a separate `activation` node after it, and the output's quantization for the saturation rule.
    void emit(NodeDef nd, int32_t out, int8_t fused, bool has_activation_attr);
    std::string unique_name(const std::string& base);

    const TfliteFile& file_;
    ModelWriter& writer_;
    size_t op_index_ = 0;
    std::string op_name_;
    std::vector<int32_t> inputs_, outputs_;
    std::map<int32_t, Activation> acts_;
    int32_t graph_input_ = -1;
    std::map<int32_t, int32_t> const_alias_;    // DEQUANTIZE of a constant: output -> source constant
    std::map<int32_t, int32_t> identity_src_;   // QUANTIZE/DEQUANTIZE/RESHAPE: output -> input
    std::map<int32_t, int32_t> producer_code_;  // activation -> builtin code of its producer
    std::map<int32_t, PendingPad> pads_;        // PAD outputs, folded into the convolutions that read them
    std::set<int32_t> shape_values_;            // SHAPE and what is computed from it: only RESHAPE may read them
    std::map<int32_t, std::vector<size_t>> consumers_;
    std::map<std::string, std::string> constants_;  // "tensor/perm" -> mnet tensor name
    std::set<std::string> used_names_;
};

}  // namespace mnet::importer
