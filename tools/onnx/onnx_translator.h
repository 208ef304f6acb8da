// SPDX-License-Identifier: Apache-2.0
// Translates a checked ONNX graph (onnx_model.h) into mnet nodes and constants (models/FORMAT.md), one node at
// a time in topological order. ONNX activations are NCHW like ours, so nothing is transposed. Constant
// subgraphs (Constant, Shape of a static value, Gather/Unsqueeze/Concat/... of constants) are folded;
// BatchNormalization is folded into the convolution before it, a zero Pad read only by convolutions into their
// padding (any other zero Pad becomes a `pad` node), and Relu/Clip/HardSwish/... into the op before them where
// that op takes an `activation`. Quantized graphs in QDQ
// form (QuantizeLinear/DequantizeLinear pairs) and QOperator form (QLinearConv, ...) keep their integers'
// parameters on the input, the nodes and the weights (FORMAT.md "quantization"). Internal to the ONNX importer.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mnet/error.h"
#include "mnet/tensor.h"
#include "model/writer.h"
#include "onnx_model.h"
#include "ops/op.h"

namespace mnet::importer::onnx_import {

class Translator {
public:
    explicit Translator(const OnnxModel& model);

    // Translates every node. Throws Unsupported naming the node and op for anything mnet cannot express,
    // ModelFormat for inconsistent graphs.
    void run();
    // Moves the result into `writer`: input, outputs, nodes and the constants they use.
    void write(ModelWriter& writer);

    Shape input_shape() const;  // [1, C, H, W]
    int64_t classes() const;    // elements per image of the first output

    // The ONNX ops this importer reads, for messages and docs.
    static std::vector<std::string> supported_ops();

private:
    struct Value {
        enum Kind { Undefined, Const, Act } kind = Undefined;
        ConstTensor c;                        // Const
        std::optional<QuantParams> cquant;    // Const: the integers it was dequantized from
        std::string name;                     // Act: the mnet activation
        Shape shape;                          // Act: [1, C, H, W] or [1, K]
        int node = -1;                        // Act: index in nodes_ of its producer; -1 for the graph input
        bool exclusive = false;               // Act: `name` was written for this value alone
        bool integer = false;                 // Act: an ONNX integer tensor, real value (q - zp) * scale ...
        std::optional<QuantParams> quant;     // ... with these parameters (QOperator values, QuantizeLinear)
        std::array<int64_t, 4> pad{};         // Act: a zero Pad not yet applied (top, left, bottom, right)
        bool padded = false;
    };
    using Handler = void (Translator::*)();
    static const std::map<std::string, Handler>& op_table();

    // Float ops (onnx_ops.cpp).
    void conv();
    void batch_norm();
    void relu();
    void clip();
    void hard_swish();
    void hard_sigmoid();
    void sigmoid();
    void add();
    void mul();
    void binary(OpKind op, const Value& a, const Value& b, std::optional<QuantParams> out);
    void global_average_pool();
    void reduce_mean();
    void flatten();
    void reshape();
    void gemm();
    void matmul();
    void pad();
    void softmax();
    void pass_through();  // Identity, Dropout
    // A conv2d node reading `x` (its pending pad folded in) with the given weights [OC, C/group, KH, KW].
    void conv_node(const Value& x, const ConstTensor& w, std::optional<QuantParams> wq, std::vector<float> bias,
                   std::optional<QuantParams> bq, std::optional<QuantParams> out_quant);
    // A fully_connected node: weights [OC, K] (`transposed`: given as [K, OC]).
    void fc_node(const Value& x, const ConstTensor& w, bool transposed, float alpha, std::optional<QuantParams> wq,
                 std::vector<float> bias, std::optional<QuantParams> bq, std::optional<QuantParams> out_quant);
    void pool_node(const Value& x, bool keepdims, std::optional<QuantParams> out_quant);
    void concat();
    // Constant folding (onnx_fold.cpp).
    void constant();
    void shape();
    void gather();
    void unsqueeze();
    void squeeze();
    void cast();
    // Quantized ops (onnx_quant.cpp).
    void quantize_linear();
    void dequantize_linear();
    void qlinear_conv();
    void qlinear_binary(OpKind op);
    void qlinear_add() { qlinear_binary(OpKind::Add); }
    void qlinear_mul() { qlinear_binary(OpKind::Mul); }
    void qlinear_global_average_pool();
    void qlinear_matmul();
    void qgemm();
    void qlinear_softmax();

    // Helpers (onnx_translator.cpp); every error names the file, the node and its op.
    [[noreturn]] void fail(ErrorCode code, const std::string& what) const;
    const std::string& in_name(size_t i) const;          // "" when absent
    bool has_input(size_t i) const;
    const Value& value(size_t i) const;                  // input i, which must be defined
    const ConstTensor& const_input(size_t i, const char* role) const;
    const Value& act_input(size_t i, bool allow_integer = false);  // applies a pending pad
    int64_t attr_int(const std::string& key, int64_t fallback) const;
    float attr_float(const std::string& key, float fallback) const;
    std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback) const;
    bool has_attr(const std::string& key) const;
    void expect_inputs(size_t min, size_t max) const;
    // Appends `nd` as the producer of output 0 (the node and activation named after it, made unique).
    int emit(NodeDef nd, Shape shape, std::optional<QuantParams> quant = std::nullopt, bool integer = false);
    void define_const(ConstTensor c, std::optional<QuantParams> q = std::nullopt, size_t output = 0);
    void alias(const Value& v);  // output 0 is `v` under another ONNX name
    // Applies activation `kind` to input 0: as the attribute of its producer when that is exact, else a node.
    void activation(const std::string& kind, size_t input = 0);
    std::string add_constant(const std::string& base, Shape shape, std::vector<float> values,
                             std::optional<QuantParams> q = std::nullopt);
    std::vector<float>& constant_values(const std::string& name);
    std::string unique(const std::string& base);
    // The quantization parameters given by inputs `scale_input` and `zp_input` (absent: zero point 0, u8), per
    // channel along `axis` when the scale has more than one element.
    QuantParams quant_params(size_t scale_input, size_t zp_input, int64_t axis) const;
    // An integer activation input whose parameters the node restates in inputs `scale_input`, `zp_input`.
    const Value& integer_input(size_t i, size_t scale_input, size_t zp_input);
    // `q` (integers) as real values, with the parameters kept for the weights' quantization.
    Value dequantized(const ConstTensor& q, const QuantParams& p) const;
    void apply_pending_pad(Value& v);

    const OnnxModel& model_;
    std::string dir_;
    const onnx::NodeProto* node_ = nullptr;
    size_t node_index_ = 0;
    std::map<std::string, Value> values_;
    std::vector<NodeDef> nodes_;
    struct Constant {
        Shape shape;
        std::vector<float> values;
        std::optional<QuantParams> quant;
    };
    std::map<std::string, Constant> constants_;
    std::vector<std::string> constant_order_;
    std::set<std::string> names_;
    InputDef input_;
    std::vector<OutputDef> outputs_;
    std::vector<std::string> softmax_outputs_;
    // HardSigmoid outputs that only a Mul by the same input reads (torch's HardSwish before opset 14, and ONNX
    // Runtime's inlined HardSwish): output -> input. The Mul becomes one hard_swish.
    std::map<std::string, std::string> hard_swish_half_;
};

}  // namespace mnet::importer::onnx_import
