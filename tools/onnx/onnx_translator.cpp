// SPDX-License-Identifier: Apache-2.0
// The ONNX translator's driver, op table and helpers (onnx_translator.h).
#include "onnx_translator.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "mnet/error.h"
#include "onnx/onnx_pb.h"

namespace mnet::importer::onnx_import {

// One place per op: the ONNX op type and the translation that handles it. Ops in Microsoft's domain
// (QLinearAdd, ...) are looked up by type too; an op missing here is refused with this table in the message.
const std::map<std::string, Translator::Handler>& Translator::op_table() {
    static const std::map<std::string, Handler> table = {
        {"Add", &Translator::add},
        {"BatchNormalization", &Translator::batch_norm},
        {"Cast", &Translator::cast},
        {"Clip", &Translator::clip},
        {"Concat", &Translator::concat},
        {"Constant", &Translator::constant},
        {"Conv", &Translator::conv},
        {"DequantizeLinear", &Translator::dequantize_linear},
        {"Dropout", &Translator::pass_through},
        {"Flatten", &Translator::flatten},
        {"Gather", &Translator::gather},
        {"Gemm", &Translator::gemm},
        {"GlobalAveragePool", &Translator::global_average_pool},
        {"HardSigmoid", &Translator::hard_sigmoid},
        {"HardSwish", &Translator::hard_swish},
        {"Identity", &Translator::pass_through},
        {"MatMul", &Translator::matmul},
        {"Mul", &Translator::mul},
        {"Pad", &Translator::pad},
        {"QGemm", &Translator::qgemm},
        {"QLinearAdd", &Translator::qlinear_add},
        {"QLinearConv", &Translator::qlinear_conv},
        {"QLinearGlobalAveragePool", &Translator::qlinear_global_average_pool},
        {"QLinearMatMul", &Translator::qlinear_matmul},
        {"QLinearMul", &Translator::qlinear_mul},
        {"QLinearSoftmax", &Translator::qlinear_softmax},
        {"QuantizeLinear", &Translator::quantize_linear},
        {"ReduceMean", &Translator::reduce_mean},
        {"Relu", &Translator::relu},
        {"Reshape", &Translator::reshape},
        {"Shape", &Translator::shape},
        {"Sigmoid", &Translator::sigmoid},
        {"Softmax", &Translator::softmax},
        {"Squeeze", &Translator::squeeze},
        {"Unsqueeze", &Translator::unsqueeze},
    };
    return table;
}

std::vector<std::string> Translator::supported_ops() {
    std::vector<std::string> ops;
    for (const auto& [name, handler] : op_table()) ops.push_back(name);
    return ops;
}

Translator::Translator(const OnnxModel& model) : model_(model) {
    dir_ = std::filesystem::path(model.path).parent_path().string();
    for (const auto& t : graph(model).initializer()) {
        Value v;
        v.kind = Value::Const;
        v.c = decode_tensor(t, dir_, model.path);
        values_[t.name()] = std::move(v);
    }
    Value in;
    in.kind = Value::Act;
    in.name = unique(model.input);
    in.exclusive = true;
    in.shape = {1, model.input_dims[1], model.input_dims[2], model.input_dims[3]};
    input_.name = in.name;
    input_.shape = in.shape;
    values_[model.input] = in;
}

void Translator::run() {
    for (const onnx::NodeProto* n : model_.order) {
        node_ = n;
        node_index_ = static_cast<size_t>(n - &graph(model_).node(0));
        const auto& table = op_table();
        const auto it = table.find(n->op_type());
        const bool known_domain = n->domain().empty() || n->domain() == "ai.onnx" || n->domain() == "com.microsoft";
        if (it == table.end() || !known_domain) {
            std::string ops;
            for (const auto& [name, handler] : table) ops += (ops.empty() ? "" : ", ") + name;
            fail(ErrorCode::Unsupported, "op " + (n->domain().empty() ? "" : n->domain() + ".") + n->op_type() +
                                             " is not supported; the ONNX importer reads " + ops);
        }
        if (n->output_size() < 1 || n->output(0).empty()) fail(ErrorCode::ModelFormat, "has no output");
        (this->*(it->second))();
    }
    for (const std::string& name : model_.outputs) {
        const Value& v = values_.at(name);
        if (v.kind != Value::Act || v.node < 0 || v.integer) {
            throw Error(ErrorCode::Unsupported, model_.path + ": graph output '" + name +
                                                    "' is not a float activation computed by the graph");
        }
        const bool dup = std::any_of(outputs_.begin(), outputs_.end(), [&](const OutputDef& o) { return o.name == v.name; });
        if (dup) continue;
        const bool probs = std::find(softmax_outputs_.begin(), softmax_outputs_.end(), v.name) != softmax_outputs_.end();
        outputs_.push_back(OutputDef{v.name, probs ? OutputKind::Probabilities : OutputKind::Logits});
    }
}

void Translator::write(ModelWriter& writer) {
    ModelDef& def = writer.def();
    def.input = input_;
    def.outputs = outputs_;
    std::set<std::string> used;
    for (const NodeDef& n : nodes_) {
        for (const auto& [role, name] : n.weights) used.insert(name);
    }
    for (const std::string& name : constant_order_) {
        if (!used.count(name)) continue;  // folded away (a BatchNormalization's, a Reshape's shape, ...)
        Constant& c = constants_.at(name);
        writer.add_f32(name, c.shape, c.values, c.quant);
    }
    def.nodes = std::move(nodes_);
}

Shape Translator::input_shape() const { return input_.shape; }

int64_t Translator::classes() const {
    for (const auto& [name, v] : values_) {
        if (v.kind == Value::Act && !outputs_.empty() && v.name == outputs_[0].name) return shape_numel(v.shape);
    }
    return 0;
}

void Translator::fail(ErrorCode code, const std::string& what) const {
    throw Error(code, model_.path + ": " + node_label(*node_, node_index_) + ": " + what);
}

bool Translator::has_input(size_t i) const {
    return static_cast<int>(i) < node_->input_size() && !node_->input(static_cast<int>(i)).empty();
}

const std::string& Translator::in_name(size_t i) const {
    static const std::string none;
    return has_input(i) ? node_->input(static_cast<int>(i)) : none;
}

void Translator::expect_inputs(size_t min, size_t max) const {
    const auto n = static_cast<size_t>(node_->input_size());
    if (n < min || n > max) {
        fail(ErrorCode::ModelFormat, std::to_string(n) + " inputs, expected " + std::to_string(min) +
                                         (min == max ? "" : " to " + std::to_string(max)));
    }
    for (size_t i = 0; i < min; ++i) {
        if (!has_input(i)) fail(ErrorCode::ModelFormat, "input " + std::to_string(i) + " is missing");
    }
}

const Translator::Value& Translator::value(size_t i) const {
    if (!has_input(i)) fail(ErrorCode::ModelFormat, "input " + std::to_string(i) + " is missing");
    return values_.at(in_name(i));  // read_onnx checked that every input is defined
}

const ConstTensor& Translator::const_input(size_t i, const char* role) const {
    const Value& v = value(i);
    if (v.kind != Value::Const) fail(ErrorCode::Unsupported, std::string(role) + " '" + in_name(i) + "' is not a constant");
    return v.c;
}

const Translator::Value& Translator::act_input(size_t i, bool allow_integer) {
    const Value& v = value(i);
    if (v.kind != Value::Act) fail(ErrorCode::Unsupported, "input '" + in_name(i) + "' is a constant; mnet computes ops on activations");
    if (v.integer && !allow_integer) fail(ErrorCode::ModelFormat, "input '" + in_name(i) + "' is an integer tensor");
    if (v.padded) apply_pending_pad(values_.at(in_name(i)));
    return v;
}

void Translator::apply_pending_pad(Value&) {
    fail(ErrorCode::Unsupported, "reads the output of a Pad, which mnet can only fold into the convolution after it");
}

bool Translator::has_attr(const std::string& key) const {
    return std::any_of(node_->attribute().begin(), node_->attribute().end(),
                       [&](const onnx::AttributeProto& a) { return a.name() == key; });
}

int64_t Translator::attr_int(const std::string& key, int64_t fallback) const {
    for (const auto& a : node_->attribute()) {
        if (a.name() == key) return a.i();
    }
    return fallback;
}

float Translator::attr_float(const std::string& key, float fallback) const {
    for (const auto& a : node_->attribute()) {
        if (a.name() == key) return a.f();
    }
    return fallback;
}

std::vector<int64_t> Translator::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
    for (const auto& a : node_->attribute()) {
        if (a.name() == key) return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    }
    return fallback;
}

std::string Translator::unique(const std::string& base) {
    std::string name = base.empty() ? "value" : base;
    for (int k = 1; names_.count(name); ++k) name = base + "_" + std::to_string(k);
    names_.insert(name);
    return name;
}

int Translator::emit(NodeDef nd, Shape shape, std::optional<QuantParams> quant, bool integer) {
    for (int64_t d : shape) {
        if (d < 1) fail(ErrorCode::Unsupported, "gives an empty or unknown shape " + dims_text(shape));
    }
    const std::string& out = node_->output(0);
    nd.name = unique(node_->name().empty() ? out : node_->name());
    nd.output = nd.name == out || !names_.count(out) ? unique(out) : unique(nd.name + "_out");
    if (quant) nd.dst_quant = quant;
    Value v;
    v.kind = Value::Act;
    v.name = nd.output;
    v.shape = std::move(shape);
    v.node = static_cast<int>(nodes_.size());
    v.exclusive = true;
    v.integer = integer;
    v.quant = quant;
    nodes_.push_back(std::move(nd));
    values_[out] = std::move(v);
    return static_cast<int>(nodes_.size()) - 1;
}

void Translator::define_const(ConstTensor c, std::optional<QuantParams> q, size_t output) {
    Value v;
    v.kind = Value::Const;
    v.c = std::move(c);
    v.cquant = std::move(q);
    values_[node_->output(static_cast<int>(output))] = std::move(v);
}

void Translator::alias(const Value& src) {
    Value v = src;
    v.exclusive = false;
    values_[node_->output(0)] = std::move(v);
}

std::string Translator::add_constant(const std::string& base, Shape shape, std::vector<float> values,
                                     std::optional<QuantParams> q) {
    const std::string name = unique(base);
    constants_[name] = Constant{std::move(shape), std::move(values), std::move(q)};
    constant_order_.push_back(name);
    return name;
}

std::vector<float>& Translator::constant_values(const std::string& name) { return constants_.at(name).values; }

}  // namespace mnet::importer::onnx_import
