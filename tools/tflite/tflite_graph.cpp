// SPDX-License-Identifier: Apache-2.0
#include "tflite_graph.h"

#include <algorithm>

namespace mnet::importer {

namespace {

// Transposes `src` (row-major over `shape`) so that dimension i of the result is dimension perm[i] of `shape`.
std::vector<float> permute(const std::vector<float>& src, const std::vector<int64_t>& shape,
                           const std::vector<size_t>& perm, Shape& out_shape) {
    const size_t rank = perm.size();
    std::vector<size_t> strides(rank, 1);
    for (size_t i = rank; i-- > 1;) strides[i - 1] = strides[i] * static_cast<size_t>(shape[i]);
    out_shape.assign(rank, 1);
    for (size_t i = 0; i < rank; ++i) out_shape[i] = shape[perm[i]];
    std::vector<float> out(src.size());
    std::vector<int64_t> idx(rank, 0);
    for (size_t o = 0; o < out.size(); ++o) {
        size_t off = 0;
        for (size_t i = 0; i < rank; ++i) off += static_cast<size_t>(idx[i]) * strides[perm[i]];
        out[o] = src[off];
        for (size_t i = rank; i-- > 0;) {
            if (++idx[i] < out_shape[i]) break;
            idx[i] = 0;
        }
    }
    return out;
}

}  // namespace

std::string shape_text(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

GraphBuilder::GraphBuilder(const TfliteFile& file, ModelWriter& writer) : file_(file), writer_(writer) {
    for (const TfliteTensor& t : file_.tensors()) used_names_.insert(t.name);
    for (size_t i = 0; i < file_.operator_count(); ++i) {
        for (int32_t t : file_.op_inputs(i)) {
            if (t >= 0) consumers_[t].push_back(i);
        }
    }
}

void GraphBuilder::add_input(int32_t tensor, const std::string& name) {
    graph_input_ = tensor;
    acts_[tensor] = Activation{name, logical_shape(file_.tensor(tensor).shape)};
}

// Every builtin the importer translates, with the condition it needs when there is one. The error for any other
// op lists this table, so the message and the importer cannot disagree.
const std::vector<GraphBuilder::Translation>& GraphBuilder::translations() {
    using Op = ::tflite::BuiltinOperator;
    static const std::vector<Translation> table = {
        {Op::BuiltinOperator_CONV_2D, "", [](GraphBuilder& g) { g.convolution(false); }},
        {Op::BuiltinOperator_DEPTHWISE_CONV_2D, "", [](GraphBuilder& g) { g.convolution(true); }},
        {Op::BuiltinOperator_AVERAGE_POOL_2D, "", [](GraphBuilder& g) { g.pool(true); }},
        {Op::BuiltinOperator_MAX_POOL_2D, "", [](GraphBuilder& g) { g.pool(false); }},
        {Op::BuiltinOperator_ADD, "", [](GraphBuilder& g) { g.binary(true); }},
        {Op::BuiltinOperator_SUB, "with a constant operand", [](GraphBuilder& g) { g.subtract(); }},
        {Op::BuiltinOperator_MUL, "", [](GraphBuilder& g) { g.binary(false); }},
        {Op::BuiltinOperator_HARD_SWISH, "", [](GraphBuilder& g) { g.activation_op(mnet::Activation::HardSwish); }},
        {Op::BuiltinOperator_LOGISTIC, "", [](GraphBuilder& g) { g.activation_op(mnet::Activation::Sigmoid); }},
        {Op::BuiltinOperator_RELU, "", [](GraphBuilder& g) { g.activation_op(mnet::Activation::Relu); }},
        {Op::BuiltinOperator_RELU6, "", [](GraphBuilder& g) { g.activation_op(mnet::Activation::Relu6); }},
        {Op::BuiltinOperator_RELU_N1_TO_1, "", [](GraphBuilder& g) { g.activation_op(mnet::Activation::ReluN1To1); }},
        {Op::BuiltinOperator_RESHAPE, "", [](GraphBuilder& g) { g.reshape(); }},
        {Op::BuiltinOperator_SOFTMAX, "", [](GraphBuilder& g) { g.softmax(); }},
        {Op::BuiltinOperator_MEAN, "over H and W", [](GraphBuilder& g) { g.mean(); }},
        {Op::BuiltinOperator_FULLY_CONNECTED, "", [](GraphBuilder& g) { g.fully_connected(); }},
        {Op::BuiltinOperator_QUANTIZE, "", [](GraphBuilder& g) { g.identity(); }},
        {Op::BuiltinOperator_DEQUANTIZE, "", [](GraphBuilder& g) { g.identity(); }},
        {Op::BuiltinOperator_PAD, "before a convolution", [](GraphBuilder& g) { g.pad(); }},
        {Op::BuiltinOperator_SHAPE, "for a RESHAPE's shape", [](GraphBuilder& g) { g.shape_computation(); }},
        {Op::BuiltinOperator_STRIDED_SLICE, "for a RESHAPE's shape", [](GraphBuilder& g) { g.shape_computation(); }},
        {Op::BuiltinOperator_PACK, "for a RESHAPE's shape", [](GraphBuilder& g) { g.shape_computation(); }},
    };
    return table;
}

std::string GraphBuilder::supported_ops() {
    std::string out;
    for (const Translation& t : translations()) {
        out += out.empty() ? "" : ", ";
        out += ::tflite::EnumNameBuiltinOperator(static_cast<::tflite::BuiltinOperator>(t.code));
        if (*t.condition) out += std::string(" (") + t.condition + ")";
    }
    return out;
}

void GraphBuilder::add_operator(size_t index) {
    op_index_ = index;
    op_name_ = file_.op_name(index);
    inputs_ = file_.op_inputs(index);
    outputs_ = file_.op_outputs(index);
    const int32_t code = file_.op_code(index);
    for (const Translation& t : translations()) {
        if (t.code == code) return t.translate(*this);
    }
    fail(ErrorCode::Unsupported, "mnet-convert does not support this op; it handles " + supported_ops());
}

std::string GraphBuilder::output_name(int32_t tensor) const {
    auto it = acts_.find(tensor);
    if (it == acts_.end()) {
        file_.fail(ErrorCode::ModelFormat,
                   "graph output '" + file_.tensor(tensor).name + "' is not produced by any operator");
    }
    return it->second.name;
}

OutputKind GraphBuilder::output_kind(int32_t tensor) const {
    for (auto it = identity_src_.find(tensor); it != identity_src_.end(); it = identity_src_.find(tensor)) {
        tensor = it->second;
    }
    auto p = producer_code_.find(tensor);
    if (p == producer_code_.end()) return OutputKind::Logits;
    switch (p->second) {
        case ::tflite::BuiltinOperator_SOFTMAX: return OutputKind::Probabilities;
        // A pooled vector (a Keras model with include_top=False, pooling="avg" or "max") is a feature vector.
        case ::tflite::BuiltinOperator_MEAN:
        case ::tflite::BuiltinOperator_AVERAGE_POOL_2D:
        case ::tflite::BuiltinOperator_MAX_POOL_2D:
        case ::tflite::BuiltinOperator_REDUCE_MAX: return OutputKind::Feature;
        default: return OutputKind::Logits;
    }
}

int64_t GraphBuilder::features(int32_t tensor) const {
    const Shape& s = acts_.at(tensor).shape;
    return numel(s) / s[0];
}

void GraphBuilder::fail(ErrorCode code, const std::string& what) const { file_.fail(code, where() + ": " + what); }

std::string GraphBuilder::where() const {
    std::string out = "operator " + std::to_string(op_index_) + " " + op_name_;
    if (!outputs_.empty()) out += " (output '" + file_.tensor(outputs_[0]).name + "')";
    return out;
}

void GraphBuilder::expect_io(size_t min_inputs, size_t max_inputs) {
    if (inputs_.size() < min_inputs || inputs_.size() > max_inputs || outputs_.size() != 1) {
        fail(ErrorCode::ModelFormat, std::to_string(inputs_.size()) + " inputs and " + std::to_string(outputs_.size()) +
                                         " outputs, expected " + std::to_string(min_inputs) + " to " +
                                         std::to_string(max_inputs) + " inputs and 1 output");
    }
    for (size_t i = 0; i < min_inputs; ++i) {
        if (inputs_[i] < 0) fail(ErrorCode::ModelFormat, "required input " + std::to_string(i) + " is missing");
    }
}

int32_t GraphBuilder::input(size_t i) const { return i < inputs_.size() ? inputs_[i] : -1; }

const GraphBuilder::Activation& GraphBuilder::activation(int32_t tensor) const {
    if (shape_values_.count(tensor)) {
        fail(ErrorCode::Unsupported, "reads '" + file_.tensor(tensor).name +
                                         "', a shape computation, which mnet supports only as a RESHAPE's shape");
    }
    if (pads_.count(tensor)) {
        fail(ErrorCode::Unsupported, "reads the output of a PAD, which mnet folds only into convolutions");
    }
    auto it = acts_.find(tensor);
    if (it != acts_.end()) return it->second;
    const std::string name = file_.tensor(tensor).name;
    if (constant(tensor)) {
        fail(ErrorCode::Unsupported, "input '" + name + "' is a constant; mnet expects an activation");
    }
    fail(ErrorCode::ModelFormat, "input '" + name + "' is read before any operator produces it");
}

const TfliteTensor* GraphBuilder::constant(int32_t tensor) const {
    if (tensor < 0) return nullptr;
    if (auto it = const_alias_.find(tensor); it != const_alias_.end()) tensor = it->second;
    const TfliteTensor& t = file_.tensor(tensor);
    return t.is_constant() ? &t : nullptr;
}

const TfliteTensor& GraphBuilder::require_constant(int32_t tensor, const char* role) const {
    const TfliteTensor* t = constant(tensor);
    if (!t) fail(ErrorCode::Unsupported, std::string(role) + " '" + file_.tensor(tensor).name + "' is not a constant");
    return *t;
}

const std::vector<int64_t>& GraphBuilder::nhwc(int32_t tensor) const {
    const std::vector<int64_t>& s = file_.tensor(tensor).shape;
    if (s.size() != 4) {
        fail(ErrorCode::Unsupported,
             "tensor '" + file_.tensor(tensor).name + "' has shape " + shape_text(s) + ", expected [N,H,W,C]");
    }
    return s;
}

Shape GraphBuilder::logical_shape(const std::vector<int64_t>& s) const {
    if (s.size() < 2 || s.size() > 4) {
        fail(ErrorCode::Unsupported, "activation shape " + shape_text(s) + " is not rank 2 to 4");
    }
    if (*std::min_element(s.begin(), s.end()) < 1) {
        fail(ErrorCode::ModelFormat, "activation shape " + shape_text(s) + " is empty");
    }
    if (s.size() == 4) return {s[0], s[3], s[1], s[2]};
    return s;
}

std::string GraphBuilder::add_constant(int32_t tensor, const std::vector<size_t>& perm, bool negate) {
    if (auto it = const_alias_.find(tensor); it != const_alias_.end()) tensor = it->second;
    const TfliteTensor& t = file_.tensor(tensor);
    std::string key = std::to_string(tensor) + "/";
    for (size_t p : perm) key += std::to_string(p);
    if (negate) key += "-";
    if (auto it = constants_.find(key); it != constants_.end()) return it->second;
    const size_t pad = perm.size() - t.shape.size();
    std::vector<int64_t> shape(pad, 1);
    shape.insert(shape.end(), t.shape.begin(), t.shape.end());
    Shape out_shape;
    std::vector<float> values = permute(file_.dequantize(t), shape, perm, out_shape);
    if (out_shape.empty()) out_shape = {1};  // a scalar
    if (negate) {
        for (float& v : values) v = -v;
    }
    std::optional<QuantParams> quant = t.quant;
    if (quant && negate) {
        quant.reset();  // the negated values are no longer those integers
    } else if (quant) {
        quant->axis = -1;
        if (t.quant_axis_file >= 0) {
            const size_t file_axis = static_cast<size_t>(t.quant_axis_file) + pad;
            quant->axis = static_cast<int64_t>(std::find(perm.begin(), perm.end(), file_axis) - perm.begin());
        }
    }
    // The first layout of a file tensor keeps its name; another layout of the same tensor gets a new one.
    bool first = std::none_of(constants_.begin(), constants_.end(),
                              [&](const auto& kv) { return kv.first.rfind(std::to_string(tensor) + "/", 0) == 0; });
    const std::string name = first && !negate ? t.name : unique_name(t.name + (negate ? "/negated" : "/nchw"));
    writer_.add_f32(name, out_shape, values, quant);
    constants_[key] = name;
    return name;
}

void GraphBuilder::emit(NodeDef nd, int32_t out, int8_t fused, bool has_activation_attr) {
    const TfliteTensor& t = file_.tensor(out);
    if (t.is_constant()) fail(ErrorCode::ModelFormat, "writes to a constant tensor");
    if (acts_.count(out) || const_alias_.count(out) || pads_.count(out)) {
        fail(ErrorCode::ModelFormat, "output written twice");
    }
    std::string kind;
    switch (fused) {
        case ::tflite::ActivationFunctionType_NONE: break;
        case ::tflite::ActivationFunctionType_RELU: kind = activation_name(mnet::Activation::Relu); break;
        case ::tflite::ActivationFunctionType_RELU6: kind = activation_name(mnet::Activation::Relu6); break;
        case ::tflite::ActivationFunctionType_RELU_N1_TO_1: kind = activation_name(mnet::Activation::ReluN1To1); break;
        default:
            fail(ErrorCode::Unsupported,
                 std::string("fused activation ") +
                     ::tflite::EnumNameActivationFunctionType(static_cast<::tflite::ActivationFunctionType>(fused)));
    }
    Shape shape = logical_shape(t.shape);
    std::vector<NodeDef>& nodes = writer_.def().nodes;
    if (!kind.empty() && has_activation_attr) {
        nd.attrs["activation"] = kind;
    } else if (!kind.empty()) {
        nd.name = nd.output = unique_name(t.name + "/" + nd.op);
        const std::string mid = nd.output;
        nodes.push_back(std::move(nd));
        nd = NodeDef{};
        nd.op = op_name(OpKind::Activation);
        nd.inputs = {mid};
        nd.attrs["kind"] = kind;
    }
    nd.name = nd.output = t.name;
    // FORMAT.md saturation rule: the output's representable range, which quantized models rely on.
    if (t.quant && (t.quant->dtype == DType::U8 || t.quant->dtype == DType::S8) && t.quant->scale.size() == 1) {
        if (!(t.quant->scale[0] > 0)) fail(ErrorCode::ModelFormat, "output quantization scale must be > 0");
        nd.dst_quant = t.quant;
        nd.dst_quant->axis = -1;
    }
    nodes.push_back(std::move(nd));
    acts_[out] = Activation{t.name, std::move(shape)};
    producer_code_[out] = file_.op_code(op_index_);
}

std::string GraphBuilder::unique_name(const std::string& base) {
    std::string name = base;
    for (int i = 2; used_names_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_names_.insert(name);
    return name;
}

}  // namespace mnet::importer
