// SPDX-License-Identifier: Apache-2.0
// Quantized ONNX in the ONNX Translator (onnx_translator.h). QDQ form: a QuantizeLinear of an activation gives
// the integers' parameters to the node that computed it (the saturation rule of FORMAT.md is what the clamp to
// the integer range does), a DequantizeLinear of constant integers becomes float weights that keep their
// parameters. QOperator form: QLinearConv & co. are our float ops whose inputs are known by their parameters and
// whose outputs carry them. mnet's int8 sessions run the result on integers.
#include <algorithm>
#include <cmath>

#include "mnet/error.h"
#include "onnx/onnx_pb.h"
#include "onnx_translator.h"
#include "ops/op.h"

namespace mnet::importer::onnx_import {

namespace {

bool same_params(const QuantParams& a, const QuantParams& b) {
    if (a.dtype != b.dtype || a.scale.size() != b.scale.size() || a.zero_point != b.zero_point) return false;
    for (size_t i = 0; i < a.scale.size(); ++i) {
        if (std::abs(a.scale[i] - b.scale[i]) > 1e-6 * std::abs(b.scale[i])) return false;
    }
    return true;
}

}  // namespace

QuantParams Translator::quant_params(size_t scale_input, size_t zp_input, int64_t axis) const {
    const ConstTensor& s = const_input(scale_input, "scale");
    QuantParams q;
    q.dtype = DType::U8;
    if (s.values.empty() || s.dims.size() > 1) fail(ErrorCode::ModelFormat, "scale " + dims_text(s.dims) + " is not a scalar or a vector");
    for (double v : s.values) {
        if (!(v > 0) || !std::isfinite(v)) fail(ErrorCode::ModelFormat, "scale " + std::to_string(v) + " is not positive and finite");
        q.scale.push_back(v);
    }
    q.zero_point.assign(q.scale.size(), 0);
    if (has_input(zp_input)) {
        const ConstTensor& z = const_input(zp_input, "zero point");
        if (z.values.size() != s.values.size()) fail(ErrorCode::ModelFormat, "zero point and scale differ in size");
        if (z.type == kInt8) q.dtype = DType::S8;
        else if (z.type == kInt32) q.dtype = DType::S32;
        else if (z.type != kUint8) fail(ErrorCode::Unsupported, std::string("zero point of type ") + elem_type_name(z.type));
        for (size_t i = 0; i < z.values.size(); ++i) q.zero_point[i] = static_cast<int64_t>(z.values[i]);
    }
    q.axis = q.scale.size() > 1 ? axis : -1;
    return q;
}

Translator::Value Translator::dequantized(const ConstTensor& q, const QuantParams& p) const {
    Value v;
    v.kind = Value::Const;
    v.c.type = kFloat;
    v.c.dims = q.dims;
    size_t inner = 1, channels = 1;
    if (p.axis >= 0) {
        if (p.axis >= static_cast<int64_t>(q.dims.size()) || q.dims[static_cast<size_t>(p.axis)] != static_cast<int64_t>(p.scale.size())) {
            fail(ErrorCode::ModelFormat, std::to_string(p.scale.size()) + " scales along axis " + std::to_string(p.axis) + " of " + dims_text(q.dims));
        }
        channels = p.scale.size();
        for (size_t d = static_cast<size_t>(p.axis) + 1; d < q.dims.size(); ++d) inner *= static_cast<size_t>(q.dims[d]);
    }
    v.c.values.resize(q.values.size());
    for (size_t i = 0; i < q.values.size(); ++i) {
        const size_t c = (i / inner) % channels;
        v.c.values[i] = (q.values[i] - static_cast<double>(p.zero_point[c])) * p.scale[c];
    }
    v.cquant = p;
    return v;
}

const Translator::Value& Translator::integer_input(size_t i, size_t scale_input, size_t zp_input) {
    const Value& x = act_input(i, true);
    const QuantParams given = quant_params(scale_input, zp_input, -1);
    if (!x.integer || !x.quant || !same_params(*x.quant, given)) {
        fail(ErrorCode::Unsupported, "input '" + in_name(i) + "' is not the quantized tensor its scale and zero point describe");
    }
    return x;
}

void Translator::quantize_linear() {
    expect_inputs(2, 3);
    const Value& x = value(0);
    const QuantParams q = quant_params(1, 2, attr_int("axis", 1));
    if (x.kind == Value::Const) {  // folded: round half to even, saturate
        if (q.scale.size() != 1) fail(ErrorCode::Unsupported, "per-channel quantization of a constant");
        const double lo = q.dtype == DType::S8 ? -128 : 0, hi = q.dtype == DType::S8 ? 127 : 255;
        ConstTensor c = x.c;
        c.type = q.dtype == DType::S8 ? kInt8 : kUint8;
        for (double& v : c.values) v = std::clamp(std::nearbyint(v / q.scale[0]) + static_cast<double>(q.zero_point[0]), lo, hi);
        return define_const(std::move(c));
    }
    const Value& a = act_input(0, false);
    if (q.scale.size() != 1 || q.dtype == DType::S32) fail(ErrorCode::Unsupported, "activations are quantized per tensor to u8 or s8 only");
    Value v = a;
    v.integer = true;
    v.quant = q;
    v.exclusive = false;
    if (a.quant && same_params(*a.quant, q)) {  // a DequantizeLinear's output quantized again alike
        values_[node_->output(0)] = std::move(v);
    } else if (a.node < 0 && !input_.quant) {
        input_.quant = q;
        values_[node_->output(0)] = std::move(v);
    } else if (a.node >= 0 && a.exclusive && model_.uses.at(in_name(0)) == 1 && !nodes_[static_cast<size_t>(a.node)].dst_quant) {
        nodes_[static_cast<size_t>(a.node)].dst_quant = q;
        values_[node_->output(0)] = std::move(v);
    } else {
        NodeDef nd;
        nd.op = op_name(OpKind::Identity);
        nd.inputs = {a.name};
        emit(std::move(nd), a.shape, q, true);
    }
}

void Translator::dequantize_linear() {
    expect_inputs(2, 3);
    const Value& x = value(0);
    if (x.kind == Value::Const) {
        const int64_t rank = static_cast<int64_t>(x.c.dims.size());
        int64_t axis = attr_int("axis", 1);
        axis = axis < 0 ? axis + rank : axis;
        const Value v = dequantized(x.c, quant_params(1, 2, axis));
        return define_const(v.c, v.cquant);
    }
    const Value& a = act_input(0, true);
    if (!a.integer) fail(ErrorCode::ModelFormat, "input '" + in_name(0) + "' is not an integer tensor");
    const QuantParams q = quant_params(1, 2, -1);
    if (!a.quant || !same_params(*a.quant, q)) fail(ErrorCode::Unsupported, "dequantizes with other parameters than the tensor was quantized with");
    Value v = a;
    v.integer = false;
    v.exclusive = false;
    values_[node_->output(0)] = std::move(v);
}

void Translator::qlinear_conv() {
    expect_inputs(8, 9);
    const Value& x = integer_input(0, 1, 2);
    const ConstTensor& wq = const_input(3, "weights");
    const QuantParams wp = quant_params(4, 5, 0);
    const Value w = dequantized(wq, wp);
    const QuantParams yq = quant_params(6, 7, -1);
    std::vector<float> bias;
    std::optional<QuantParams> bq;
    if (has_input(8)) {
        const ConstTensor& b = const_input(8, "bias");
        const double sx = x.quant->scale[0];
        QuantParams p;
        p.dtype = DType::S32;
        p.axis = wp.scale.size() > 1 ? 0 : -1;
        for (double s : wp.scale) p.scale.push_back(sx * s);
        p.zero_point.assign(p.scale.size(), 0);
        if (p.axis >= 0 && b.values.size() != p.scale.size()) fail(ErrorCode::ModelFormat, "bias and weight scales differ in size");
        for (size_t c = 0; c < b.values.size(); ++c) bias.push_back(static_cast<float>(b.values[c] * p.scale[p.axis >= 0 ? c : 0]));
        bq = p;
    }
    conv_node(x, w.c, w.cquant, std::move(bias), bq, yq);
}

void Translator::qlinear_binary(OpKind op) {
    expect_inputs(7, 8);
    auto operand = [&](size_t i) -> Value {
        const Value& v = value(i);
        if (v.kind == Value::Const) return dequantized(v.c, quant_params(i + 1, i + 2, -1));
        return integer_input(i, i + 1, i + 2);
    };
    const Value a = operand(0), b = operand(3);
    binary(op, a, b, quant_params(6, 7, -1));
}

void Translator::qlinear_global_average_pool() {
    expect_inputs(5, 5);
    if (attr_int("channels_last", 0) != 0) fail(ErrorCode::Unsupported, "channels_last");
    pool_node(integer_input(0, 1, 2), true, quant_params(3, 4, -1));
}

void Translator::qlinear_matmul() {
    expect_inputs(8, 8);
    const Value& x = integer_input(0, 1, 2);
    const Value w = dequantized(const_input(3, "B"), quant_params(4, 5, 1));
    fc_node(x, w.c, true, 1.0f, w.cquant, {}, std::nullopt, quant_params(6, 7, -1));
}

void Translator::qgemm() {
    expect_inputs(6, 9);
    if (attr_int("transA", 0) != 0) fail(ErrorCode::Unsupported, "transA");
    const Value& x = integer_input(0, 1, 2);
    const bool transposed = attr_int("transB", 0) == 0;
    const Value w = dequantized(const_input(3, "B"), quant_params(4, 5, transposed ? 1 : 0));
    const float alpha = attr_float("alpha", 1.0f);
    std::vector<float> bias;
    std::optional<QuantParams> bq;
    if (has_input(6)) {
        QuantParams p = *w.cquant;
        p.dtype = DType::S32;
        for (double& s : p.scale) s *= x.quant->scale[0] * alpha;
        p.zero_point.assign(p.scale.size(), 0);
        p.axis = p.scale.size() > 1 ? 0 : -1;
        const ConstTensor& b = const_input(6, "C");
        for (size_t c = 0; c < b.values.size(); ++c) bias.push_back(static_cast<float>(b.values[c] * p.scale[p.axis >= 0 ? std::min(c, p.scale.size() - 1) : 0]));
        bq = p;
    }
    std::optional<QuantParams> yq;
    if (has_input(7)) yq = quant_params(7, 8, -1);
    // alpha scales A*B; the weights take it (fc_node), the bias is C's integers in A*B's units times alpha.
    fc_node(x, w.c, transposed, alpha, w.cquant, std::move(bias), bq, yq);
}

}  // namespace mnet::importer::onnx_import

namespace mnet::importer::onnx_import {

void Translator::qlinear_softmax() {
    expect_inputs(5, 5);
    const Value& x = integer_input(0, 1, 2);
    int64_t axis = attr_int("axis", attr_int("opset", 13) >= 13 ? -1 : 1);
    if (axis < 0) axis += static_cast<int64_t>(x.shape.size());
    if (x.shape.size() != 2 || axis != 1) fail(ErrorCode::Unsupported, "softmax over axis " + std::to_string(axis) + " of " + dims_text(x.shape));
    NodeDef nd;
    nd.op = op_name(OpKind::Softmax);
    nd.inputs = {x.name};
    emit(std::move(nd), x.shape, quant_params(3, 4, -1), true);
    softmax_outputs_.push_back(values_.at(node_->output(0)).name);
}

}  // namespace mnet::importer::onnx_import
