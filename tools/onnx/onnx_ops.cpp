// SPDX-License-Identifier: Apache-2.0
// The float op translations of the ONNX Translator (onnx_translator.h): one ONNX op each.
#include <algorithm>
#include <cmath>
#include <limits>

#include "mnet/error.h"
#include "onnx/onnx_pb.h"
#include "onnx_translator.h"
#include "ops/op.h"

namespace mnet::importer::onnx_import {

namespace {

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// ONNX auto_pad SAME_UPPER / SAME_LOWER: output ceil(in / stride); the odd pixel after (UPPER) or before.
void same_padding(int64_t in, int64_t extent, int64_t stride, bool upper, int64_t& before, int64_t& after) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + extent - in, 0);
    before = upper ? total / 2 : total - total / 2;
    after = total - before;
}

// The most padding per side mnet's pad op takes (FORMAT.md, "pad").
constexpr int64_t kMaxPadOp = 64;

const std::set<std::string> kTakesActivation = {op_name(OpKind::Conv2d), op_name(OpKind::FullyConnected),
                                                op_name(OpKind::Add), op_name(OpKind::Mul)};

}  // namespace

void Translator::conv() {
    expect_inputs(2, 3);
    const Value& x = value(0);
    const ConstTensor& w = const_input(1, "weights");
    std::vector<float> bias;
    std::optional<QuantParams> bq;
    if (has_input(2)) {
        bias = to_float(const_input(2, "bias").values);
        bq = value(2).cquant;
    }
    conv_node(x, w, value(1).cquant, std::move(bias), bq, std::nullopt);
}

void Translator::conv_node(const Value& x, const ConstTensor& w, std::optional<QuantParams> wq,
                           std::vector<float> bias, std::optional<QuantParams> bq,
                           std::optional<QuantParams> out_quant) {
    if (x.kind != Value::Act || x.shape.size() != 4) fail(ErrorCode::Unsupported, "input is not an [N,C,H,W] activation");
    if (w.dims.size() != 4) fail(ErrorCode::Unsupported, "weights " + dims_text(w.dims) + " are not 2-D convolution weights");
    const int64_t group = attr_int("group", 1), OC = w.dims[0], C = x.shape[1], KH = w.dims[2], KW = w.dims[3];
    if (group < 1 || C % group != 0 || OC % group != 0 || w.dims[1] * group != C) {
        fail(ErrorCode::ModelFormat, "weights " + dims_text(w.dims) + " and group " + std::to_string(group) +
                                         " do not fit " + std::to_string(C) + " input channels");
    }
    const auto kernel = attr_ints("kernel_shape", {KH, KW});
    const auto strides = attr_ints("strides", {1, 1}), dil = attr_ints("dilations", {1, 1});
    auto pads = attr_ints("pads", {0, 0, 0, 0});
    if (kernel != std::vector<int64_t>{KH, KW} || strides.size() != 2 || dil.size() != 2 || pads.size() != 4) {
        fail(ErrorCode::ModelFormat, "kernel_shape, strides, dilations or pads do not describe a 2-D convolution");
    }
    for (int64_t v : strides) if (v < 1 || v > 4096) fail(ErrorCode::ModelFormat, "stride " + std::to_string(v));
    for (int64_t v : dil) if (v < 1 || v > 4096) fail(ErrorCode::ModelFormat, "dilation " + std::to_string(v));
    for (int64_t v : pads) if (v < 0 || v > 4096) fail(ErrorCode::Unsupported, "padding " + std::to_string(v));
    // ONNX pads are [top, left, bottom, right], as ours; a folded Pad adds to them.
    const int64_t H = x.shape[2] + x.pad[0] + x.pad[2], W = x.shape[3] + x.pad[1] + x.pad[3];
    const std::string auto_pad = [&] {
        for (const auto& a : node_->attribute()) if (a.name() == "auto_pad") return a.s();
        return std::string("NOTSET");
    }();
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        same_padding(H, dil[0] * (KH - 1) + 1, strides[0], auto_pad == "SAME_UPPER", pads[0], pads[2]);
        same_padding(W, dil[1] * (KW - 1) + 1, strides[1], auto_pad == "SAME_UPPER", pads[1], pads[3]);
    } else if (auto_pad == "VALID") {
        pads = {0, 0, 0, 0};
    } else if (auto_pad != "NOTSET") {
        fail(ErrorCode::ModelFormat, "auto_pad '" + auto_pad + "'");
    }
    for (size_t i = 0; i < 4; ++i) pads[i] += x.pad[i];
    const int64_t OH = (x.shape[2] + pads[0] + pads[2] - dil[0] * (KH - 1) - 1) / strides[0] + 1;
    const int64_t OW = (x.shape[3] + pads[1] + pads[3] - dil[1] * (KW - 1) - 1) / strides[1] + 1;
    if (x.shape[2] + pads[0] + pads[2] < dil[0] * (KH - 1) + 1 || x.shape[3] + pads[1] + pads[3] < dil[1] * (KW - 1) + 1) {
        fail(ErrorCode::ModelFormat, "the kernel is larger than the padded input " + dims_text(x.shape));
    }
    NodeDef nd;
    nd.op = op_name(OpKind::Conv2d);
    nd.inputs = {x.name};
    nd.attrs["stride"] = strides;
    nd.attrs["dilation"] = dil;
    nd.attrs["pad"] = pads;
    nd.attrs["groups"] = group;
    nd.weights["weights"] = add_constant(node_->output(0) + "/weights", w.dims, to_float(w.values), std::move(wq));
    if (!bias.empty()) {
        if (static_cast<int64_t>(bias.size()) != OC) fail(ErrorCode::ModelFormat, std::to_string(bias.size()) + " biases for " + std::to_string(OC) + " outputs");
        nd.weights["bias"] = add_constant(node_->output(0) + "/bias", {OC}, std::move(bias), std::move(bq));
    }
    const bool integer = out_quant.has_value();
    emit(std::move(nd), {1, OC, OH, OW}, std::move(out_quant), integer);
}

void Translator::batch_norm() {
    expect_inputs(5, 5);
    const Value& x = act_input(0);
    const int64_t C = x.shape.size() >= 2 ? x.shape[1] : 0;
    std::vector<const ConstTensor*> p;
    for (size_t i = 1; i < 5; ++i) {
        p.push_back(&const_input(i, "BatchNormalization parameter"));
        if (p.back()->dims != std::vector<int64_t>{C}) {
            fail(ErrorCode::ModelFormat, "parameter " + dims_text(p.back()->dims) + " for " + std::to_string(C) + " channels");
        }
    }
    const bool foldable = x.exclusive && x.node >= 0 && model_.uses.at(in_name(0)) == 1 &&
                          nodes_[static_cast<size_t>(x.node)].op == op_name(OpKind::Conv2d) &&
                          !nodes_[static_cast<size_t>(x.node)].attrs.count("activation") &&
                          !nodes_[static_cast<size_t>(x.node)].dst_quant;
    if (!foldable) fail(ErrorCode::Unsupported, "only a BatchNormalization right after a convolution can be folded");
    NodeDef& conv = nodes_[static_cast<size_t>(x.node)];
    Constant& w = constants_.at(conv.weights.at("weights"));
    if (w.quant) fail(ErrorCode::Unsupported, "cannot fold into quantized weights");
    const double eps = attr_float("epsilon", 1e-5f);
    std::vector<float> bias(static_cast<size_t>(C), 0.0f);
    if (conv.weights.count("bias")) bias = constants_.at(conv.weights.at("bias")).values;
    const size_t per_channel = w.values.size() / static_cast<size_t>(C);
    for (size_t c = 0; c < static_cast<size_t>(C); ++c) {
        const double s = p[0]->values[c] / std::sqrt(p[3]->values[c] + eps);
        for (size_t k = 0; k < per_channel; ++k) w.values[c * per_channel + k] = static_cast<float>(w.values[c * per_channel + k] * s);
        bias[c] = static_cast<float>((bias[c] - p[2]->values[c]) * s + p[1]->values[c]);
    }
    if (conv.weights.count("bias")) constants_.at(conv.weights.at("bias")).values = std::move(bias);
    else conv.weights["bias"] = add_constant(conv.name + "/bias", {C}, std::move(bias));
    Value v = x;
    values_[node_->output(0)] = std::move(v);  // the convolution now writes the normalized value, for this reader alone
}

void Translator::activation(const std::string& kind, size_t input) {
    const Value& x = act_input(input);
    if (x.exclusive && x.node >= 0 && model_.uses.at(in_name(input)) == 1) {
        NodeDef& producer = nodes_[static_cast<size_t>(x.node)];
        if (kTakesActivation.count(producer.op) && !producer.attrs.count("activation") && !producer.dst_quant) {
            producer.attrs["activation"] = kind;
            Value v = x;
            values_[node_->output(0)] = std::move(v);
            return;
        }
    }
    NodeDef nd;
    nd.op = op_name(OpKind::Activation);
    nd.inputs = {x.name};
    nd.attrs["kind"] = kind;
    emit(std::move(nd), x.shape);
}

void Translator::relu() { expect_inputs(1, 1); activation("relu"); }
void Translator::sigmoid() { expect_inputs(1, 1); activation("sigmoid"); }
void Translator::hard_swish() { expect_inputs(1, 1); activation("hard_swish"); }

void Translator::hard_sigmoid() {
    expect_inputs(1, 1);
    const float alpha = attr_float("alpha", 0.2f), beta = attr_float("beta", 0.5f);
    if (std::abs(alpha - 1.0f / 6.0f) > 1e-6f || beta != 0.5f) {
        fail(ErrorCode::Unsupported, "alpha " + std::to_string(alpha) + ", beta " + std::to_string(beta) +
                                         "; mnet's hard_sigmoid is relu6(x + 3) / 6 (alpha 1/6, beta 0.5)");
    }
    // x * HardSigmoid(x): when a Mul by x alone reads the result, that Mul emits one hard_swish.
    const std::string& out = node_->output(0);
    const onnx::NodeProto* reader = nullptr;
    for (const auto& n : graph(model_).node()) {
        for (const std::string& in : n.input()) {
            if (in == out) reader = reader ? nullptr : &n;
        }
    }
    const bool graph_output = std::find(model_.outputs.begin(), model_.outputs.end(), out) != model_.outputs.end();
    if (reader && !graph_output && model_.uses.at(out) == 1 && reader->op_type() == "Mul" && reader->input_size() == 2 &&
        (reader->input(0) == in_name(0)) != (reader->input(1) == in_name(0))) {
        act_input(0);
        hard_swish_half_[out] = in_name(0);
        values_[out] = values_.at(in_name(0));  // not read as such: the Mul takes it
        return;
    }
    activation("hard_sigmoid");
}

void Translator::clip() {
    expect_inputs(1, 3);
    constexpr float kInf = std::numeric_limits<float>::infinity();
    float lo = attr_float("min", -kInf), hi = attr_float("max", kInf);
    auto bound = [&](size_t i, float& v) {
        if (!has_input(i)) return;
        const ConstTensor& c = const_input(i, i == 1 ? "min" : "max");
        if (c.values.size() != 1) fail(ErrorCode::ModelFormat, "a clip bound is not a scalar");
        v = static_cast<float>(c.values[0]);
    };
    bound(1, lo);
    bound(2, hi);
    if (lo == 0 && hi == 6) return activation("relu6");
    if (lo == 0 && hi == kInf) return activation("relu");
    if (lo == -1 && hi == 1) return activation("relu_n1_to_1");
    fail(ErrorCode::Unsupported, "clip to [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                     "]; mnet clips to [0, 6], [0, inf) and [-1, 1]");
}

void Translator::add() { expect_inputs(2, 2); binary(OpKind::Add, value(0), value(1), std::nullopt); }
void Translator::mul() {
    expect_inputs(2, 2);
    for (size_t i = 0; i < 2; ++i) {
        const auto half = hard_swish_half_.find(in_name(i));
        if (half != hard_swish_half_.end() && half->second == in_name(1 - i)) return activation("hard_swish", 1 - i);
    }
    binary(OpKind::Mul, value(0), value(1), std::nullopt);
}

void Translator::binary(OpKind op, const Value& a_value, const Value& b_value, std::optional<QuantParams> out) {
    const Value* a = &a_value;
    const Value* b = &b_value;
    if (a->kind == Value::Const && b->kind == Value::Const) fail(ErrorCode::Unsupported, "both operands are constants");
    if (a->kind == Value::Const) std::swap(a, b);  // both ops commute; our constant is the second operand
    if (a->padded || b->padded) fail(ErrorCode::Unsupported, "reads the output of a Pad, which mnet can only fold into the convolution after it");
    if (!out && (a->integer || b->integer)) fail(ErrorCode::ModelFormat, "an operand is an integer tensor");
    NodeDef nd;
    nd.op = op_name(op);
    nd.inputs = {a->name};
    Shape shape = a->shape;
    auto fits = [](const Shape& big, const std::vector<int64_t>& small) {
        if (small.size() > big.size()) return false;
        for (size_t i = 0; i < small.size(); ++i) {
            const int64_t s = small[small.size() - 1 - i], d = big[big.size() - 1 - i];
            if (s != 1 && s != d) return false;
        }
        return true;
    };
    if (b->kind == Value::Const) {
        if (!fits(a->shape, b->c.dims)) fail(ErrorCode::Unsupported, "constant " + dims_text(b->c.dims) + " does not broadcast into " + dims_text(a->shape));
        Shape cs(a->shape.size() - b->c.dims.size(), 1);
        cs.insert(cs.end(), b->c.dims.begin(), b->c.dims.end());
        if (cs.empty()) cs = {1};
        nd.weights["b"] = add_constant(node_->output(0) + "/b", cs, to_float(b->c.values), b->cquant);
    } else {
        if (!fits(a->shape, b->shape)) {
            if (!fits(b->shape, a->shape)) fail(ErrorCode::Unsupported, "operands " + dims_text(a->shape) + " and " + dims_text(b->shape) + " do not broadcast");
            shape = b->shape;
        }
        nd.inputs.push_back(b->name);
    }
    const bool integer = out.has_value();
    emit(std::move(nd), shape, std::move(out), integer);
}

void Translator::pool_node(const Value& x, bool keepdims, std::optional<QuantParams> out_quant) {
    if (x.shape.size() != 4) fail(ErrorCode::Unsupported, "input " + dims_text(x.shape) + " is not [N,C,H,W]");
    NodeDef nd;
    nd.op = op_name(OpKind::GlobalAvgPool);
    nd.inputs = {x.name};
    nd.attrs["keepdims"] = int64_t{keepdims ? 1 : 0};
    const bool integer = out_quant.has_value();
    emit(std::move(nd), keepdims ? Shape{1, x.shape[1], 1, 1} : Shape{1, x.shape[1]}, std::move(out_quant), integer);
}

void Translator::global_average_pool() { expect_inputs(1, 1); pool_node(act_input(0), true, std::nullopt); }

void Translator::reduce_mean() {
    expect_inputs(1, 2);
    const Value& x = act_input(0);
    std::vector<int64_t> axes = attr_ints("axes", {});
    if (has_input(1)) {
        axes.clear();
        for (double v : const_input(1, "axes").values) axes.push_back(static_cast<int64_t>(v));
    }
    for (int64_t& a : axes) a = a < 0 ? a + static_cast<int64_t>(x.shape.size()) : a;
    std::sort(axes.begin(), axes.end());
    if (x.shape.size() != 4 || axes != std::vector<int64_t>{2, 3}) {
        fail(ErrorCode::Unsupported, "ReduceMean over other axes than H and W of an [N,C,H,W] input");
    }
    pool_node(x, attr_int("keepdims", 1) != 0, std::nullopt);
}

void Translator::flatten() {
    expect_inputs(1, 1);
    const Value& x = value(0);
    if (attr_int("axis", 1) != 1) fail(ErrorCode::Unsupported, "Flatten with axis other than 1");
    if (x.kind == Value::Const) fail(ErrorCode::Unsupported, "Flatten of a constant");
    const Value& xa = act_input(0, true);
    if (xa.shape.size() == 2) return alias(xa);
    NodeDef nd;
    nd.op = op_name(OpKind::Reshape);
    nd.inputs = {xa.name};
    nd.attrs["shape"] = std::vector<int64_t>{shape_numel(xa.shape)};
    emit(std::move(nd), {1, shape_numel(xa.shape)}, xa.quant, xa.integer);
}

void Translator::reshape() {
    expect_inputs(2, 2);
    const ConstTensor& target = const_input(1, "shape");
    const Value& x = value(0);
    const std::vector<int64_t> in = x.kind == Value::Const ? x.c.dims : x.shape;
    int64_t total = 1;
    for (int64_t d : in) total *= d;
    const bool allowzero = attr_int("allowzero", 0) != 0;
    std::vector<int64_t> dims;
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < target.values.size(); ++i) {
        const double t = target.values[i];
        int64_t d = static_cast<int64_t>(t);
        if (t == kBatchDim) d = 1;  // the batch, 1 in our shapes
        else if (d == 0 && !allowzero) {
            if (i >= in.size()) fail(ErrorCode::ModelFormat, "shape copies a dimension the input does not have");
            d = in[i];
        }
        if (d == -1) {
            if (infer >= 0) fail(ErrorCode::ModelFormat, "shape has two -1 dimensions");
            infer = static_cast<int64_t>(i);
        } else if (d < 1) {
            fail(ErrorCode::Unsupported, "shape dimension " + std::to_string(d));
        } else {
            known *= d;
        }
        dims.push_back(d);
    }
    if (infer >= 0) dims[static_cast<size_t>(infer)] = known > 0 ? total / known : 0;
    int64_t out_total = 1;
    for (int64_t d : dims) out_total *= d;
    if (out_total != total || dims.empty()) fail(ErrorCode::ModelFormat, "cannot reshape " + dims_text(in) + " to " + dims_text(dims));
    if (x.kind == Value::Const) {
        ConstTensor c = x.c;
        c.dims = dims;
        return define_const(std::move(c), x.cquant);
    }
    const Value& xa = act_input(0, true);
    if (dims[0] != 1 || dims.size() < 2 || dims.size() > 4) {
        fail(ErrorCode::Unsupported, "reshape to " + dims_text(dims) + " must keep the batch first and have 2 to 4 dims");
    }
    if (Shape(dims) == xa.shape) return alias(xa);
    NodeDef nd;
    nd.op = op_name(OpKind::Reshape);
    nd.inputs = {xa.name};
    nd.attrs["shape"] = std::vector<int64_t>(dims.begin() + 1, dims.end());
    emit(std::move(nd), dims, xa.quant, xa.integer);
}

void Translator::gemm() {
    expect_inputs(2, 3);
    if (attr_int("transA", 0) != 0) fail(ErrorCode::Unsupported, "transA");
    std::vector<float> bias;
    if (has_input(2)) {
        const float beta = attr_float("beta", 1.0f);
        for (double v : const_input(2, "C").values) bias.push_back(static_cast<float>(v * beta));
    }
    const bool transposed = attr_int("transB", 0) == 0;
    fc_node(act_input(0), const_input(1, "B"), transposed, attr_float("alpha", 1.0f), value(1).cquant,
            std::move(bias), has_input(2) ? value(2).cquant : std::nullopt, std::nullopt);
}

void Translator::matmul() {
    expect_inputs(2, 2);
    const Value& x = act_input(0);
    if (x.shape.size() != 2) fail(ErrorCode::Unsupported, "MatMul of an input " + dims_text(x.shape) + "; mnet multiplies [N, K]");
    fc_node(x, const_input(1, "B"), true, 1.0f, value(1).cquant, {}, std::nullopt, std::nullopt);
}

void Translator::fc_node(const Value& x, const ConstTensor& w, bool transposed, float alpha,
                         std::optional<QuantParams> wq, std::vector<float> bias, std::optional<QuantParams> bq,
                         std::optional<QuantParams> out_quant) {
    const int64_t K = shape_numel(x.shape);
    if (w.dims.size() != 2) fail(ErrorCode::Unsupported, "weights " + dims_text(w.dims) + " are not a matrix");
    const int64_t OC = transposed ? w.dims[1] : w.dims[0];
    if ((transposed ? w.dims[0] : w.dims[1]) != K) {
        fail(ErrorCode::ModelFormat, "weights " + dims_text(w.dims) + " for an input of " + std::to_string(K) + " elements");
    }
    std::vector<float> oc_k(static_cast<size_t>(OC * K));
    for (int64_t o = 0; o < OC; ++o) {
        for (int64_t k = 0; k < K; ++k) {
            const double v = transposed ? w.values[static_cast<size_t>(k * OC + o)] : w.values[static_cast<size_t>(o * K + k)];
            oc_k[static_cast<size_t>(o * K + k)] = static_cast<float>(v * alpha);
        }
    }
    if (wq && wq->axis >= 0) wq->axis = transposed ? 1 - wq->axis : wq->axis;  // the channel axis after transposing
    NodeDef nd;
    nd.op = op_name(OpKind::FullyConnected);
    nd.inputs = {x.name};
    nd.weights["weights"] = add_constant(node_->output(0) + "/weights", {OC, K}, std::move(oc_k), std::move(wq));
    if (!bias.empty()) {
        if (static_cast<int64_t>(bias.size()) != OC) fail(ErrorCode::ModelFormat, std::to_string(bias.size()) + " biases for " + std::to_string(OC) + " outputs");
        nd.weights["bias"] = add_constant(node_->output(0) + "/bias", {OC}, std::move(bias), std::move(bq));
    }
    const bool integer = out_quant.has_value();
    emit(std::move(nd), {1, OC}, std::move(out_quant), integer);
}

void Translator::pad() {
    expect_inputs(1, 3);
    const Value& x = value(0);  // not act_input: a Pad of a Pad adds up
    if (x.kind != Value::Act) fail(ErrorCode::Unsupported, "input '" + in_name(0) + "' is a constant; mnet computes ops on activations");
    if (x.integer) fail(ErrorCode::ModelFormat, "input '" + in_name(0) + "' is an integer tensor");
    std::string mode = "constant";
    for (const auto& a : node_->attribute()) if (a.name() == "mode") mode = a.s();
    std::vector<int64_t> p = attr_ints("pads", {});
    double fill = attr_float("value", 0.0f);
    if (has_input(1)) {
        p.clear();
        for (double v : const_input(1, "pads").values) p.push_back(static_cast<int64_t>(v));
    }
    if (has_input(2)) fill = const_input(2, "constant_value").values.at(0);
    if (mode != "constant") fail(ErrorCode::Unsupported, "mode '" + mode + "': mnet pads with zeros only (mode 'constant', value 0)");
    if (fill != 0) fail(ErrorCode::Unsupported, "constant value " + std::to_string(fill) + ": mnet pads with zeros only");
    if (x.shape.size() != 4 || p.size() != 8 || p[0] || p[1] || p[4] || p[5] || *std::min_element(p.begin(), p.end()) < 0) {
        fail(ErrorCode::Unsupported, "pads " + dims_text(p) + " of " + dims_text(x.shape) + ": mnet pads H and W only, by non-negative amounts");
    }
    const std::array<int64_t, 4> total = {x.pad[0] + p[2], x.pad[1] + p[3], x.pad[2] + p[6], x.pad[3] + p[7]};
    const std::string& out = node_->output(0);
    bool conv_only = model_.uses.at(out) > 0 && std::find(model_.outputs.begin(), model_.outputs.end(), out) == model_.outputs.end();
    for (const auto& n : graph(model_).node()) {
        for (int i = 0; i < n.input_size(); ++i) {
            if (n.input(i) == out) conv_only = conv_only && n.op_type() == "Conv" && i == 0;
        }
    }
    if (conv_only) {  // folded into the convolutions' own padding
        Value v = x;
        v.exclusive = false;
        v.padded = true;
        v.pad = total;
        values_[out] = std::move(v);
        return;
    }
    // Anything else reads the padded tensor: mnet's pad op (FORMAT.md), zeros around H and W.
    for (int64_t v : total) {
        if (v > kMaxPadOp) fail(ErrorCode::Unsupported, "padding of " + std::to_string(v) + ": mnet's pad op takes at most " + std::to_string(kMaxPadOp) + " per side");
    }
    NodeDef nd;
    nd.op = op_name(OpKind::Pad);
    nd.inputs = {x.name};
    nd.attrs["pad"] = std::vector<int64_t>(total.begin(), total.end());
    emit(std::move(nd), {x.shape[0], x.shape[1], x.shape[2] + total[0] + total[2], x.shape[3] + total[1] + total[3]});
}

void Translator::softmax() {
    expect_inputs(1, 1);
    const Value& x = act_input(0);
    int64_t axis = attr_int("axis", model_.opset >= 13 ? -1 : 1);
    if (axis < 0) axis += static_cast<int64_t>(x.shape.size());
    const bool ok = (x.shape.size() == 2 && axis == 1) ||
                    (x.shape.size() == 4 && axis == 1 && x.shape[2] * x.shape[3] == 1);
    if (!ok) fail(ErrorCode::Unsupported, "softmax over axis " + std::to_string(axis) + " of " + dims_text(x.shape));
    NodeDef nd;
    nd.op = op_name(OpKind::Softmax);
    nd.inputs = {x.name};
    emit(std::move(nd), x.shape);
    softmax_outputs_.push_back(values_.at(node_->output(0)).name);
}

void Translator::pass_through() {
    expect_inputs(1, 3);  // Dropout's ratio and training_mode
    for (int i = 1; i < node_->output_size(); ++i) {
        if (!node_->output(i).empty() && model_.uses.count(node_->output(i))) fail(ErrorCode::Unsupported, "the mask output is read");
    }
    alias(value(0));
}

}  // namespace mnet::importer::onnx_import
