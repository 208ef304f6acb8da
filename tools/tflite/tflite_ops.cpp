// SPDX-License-Identifier: Apache-2.0
// The operator translations of GraphBuilder (tflite_graph.h): one TFLite builtin each, NHWC -> NCHW.
#include "tflite_graph.h"

#include <algorithm>

namespace mnet::importer {

namespace {

// NHWC file dims -> our logical NCHW order, for activations and per-channel constants.
const std::vector<size_t> kNhwcToNchw = {0, 3, 1, 2};
// Conv weights OHWI -> OIHW; depthwise [1, KH, KW, C*M] -> [C*M, 1, KH, KW].
const std::vector<size_t> kOhwiToOihw = {0, 3, 1, 2};
const std::vector<size_t> kDepthwiseToOihw = {3, 0, 1, 2};

// TensorFlow's SAME padding: output ceil(in / stride), the odd pixel of padding at the bottom/right.
void same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t& before, int64_t& after) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t extent = (kernel - 1) * dilation + 1;
    const int64_t total = std::max<int64_t>((out - 1) * stride + extent - in, 0);
    before = total / 2;
    after = total - before;
}

// Whether flattening a rank-4 NHWC tensor visits elements in the same order as flattening it as NCHW.
bool same_flatten_order(const std::vector<int64_t>& s) { return s.size() != 4 || s[3] == 1 || s[1] * s[2] == 1; }

}  // namespace

void GraphBuilder::convolution(bool depthwise) {
    expect_io(2, 3);
    int32_t x = input(0);
    const std::vector<int64_t> padded = nhwc(x);  // the size SAME padding is computed on
    PendingPad folded;
    if (auto it = pads_.find(x); it != pads_.end()) {
        folded = it->second;
        x = folded.src;
    }
    const Activation& src = activation(x);
    const TfliteTensor& w = require_constant(input(1), "weights");
    if (w.shape.size() != 4) fail(ErrorCode::ModelFormat, "weights shape " + shape_text(w.shape) + " is not rank 4");
    const int64_t C = padded[3], KH = w.shape[1], KW = w.shape[2];
    int64_t OC, groups, stride_h, stride_w, dil_h, dil_w;
    ::tflite::Padding padding;
    int8_t fused;
    if (depthwise) {
        const auto* o = file_.op(op_index_).builtin_options_as_DepthwiseConv2DOptions();
        if (!o) fail(ErrorCode::ModelFormat, "missing DepthwiseConv2DOptions");
        OC = w.shape[3];
        if (w.shape[0] != 1 || C == 0 || OC % C != 0) {
            fail(ErrorCode::ModelFormat,
                 "depthwise weights " + shape_text(w.shape) + " do not fit " + std::to_string(C) + " input channels");
        }
        if (o->depth_multiplier() != 0 && o->depth_multiplier() != OC / C) {
            fail(ErrorCode::ModelFormat, "depth_multiplier " + std::to_string(o->depth_multiplier()) +
                                             " but the weights give " + std::to_string(OC / C));
        }
        groups = C;
        stride_h = o->stride_h(), stride_w = o->stride_w(), dil_h = o->dilation_h_factor(),
        dil_w = o->dilation_w_factor();
        padding = o->padding();
        fused = o->fused_activation_function();
    } else {
        const auto* o = file_.op(op_index_).builtin_options_as_Conv2DOptions();
        if (!o) fail(ErrorCode::ModelFormat, "missing Conv2DOptions");
        OC = w.shape[0];
        // TFLite reads fewer filter input channels than C as a grouped convolution.
        if (w.shape[3] == 0 || C % w.shape[3] != 0 || OC % (C / w.shape[3]) != 0) {
            fail(ErrorCode::ModelFormat,
                 "weights " + shape_text(w.shape) + " do not fit " + std::to_string(C) + " input channels");
        }
        groups = C / w.shape[3];
        stride_h = o->stride_h(), stride_w = o->stride_w(), dil_h = o->dilation_h_factor(),
        dil_w = o->dilation_w_factor();
        padding = o->padding();
        fused = o->fused_activation_function();
    }
    if (stride_h < 1 || stride_w < 1 || dil_h < 1 || dil_w < 1) {
        fail(ErrorCode::ModelFormat, "strides and dilations must be >= 1");
    }
    int64_t t = 0, l = 0, b = 0, r = 0;
    if (padding == ::tflite::Padding_SAME) {
        same_padding(padded[1], KH, stride_h, dil_h, t, b);
        same_padding(padded[2], KW, stride_w, dil_w, l, r);
    }
    NodeDef nd;
    nd.op = op_name(OpKind::Conv2d);
    nd.inputs = {src.name};
    nd.attrs["stride"] = std::vector<int64_t>{stride_h, stride_w};
    nd.attrs["dilation"] = std::vector<int64_t>{dil_h, dil_w};
    nd.attrs["pad"] = std::vector<int64_t>{t + folded.top, l + folded.left, b + folded.bottom, r + folded.right};
    nd.attrs["groups"] = groups;
    nd.weights["weights"] = add_constant(input(1), depthwise ? kDepthwiseToOihw : kOhwiToOihw);
    if (input(2) >= 0) {
        const TfliteTensor& bias = require_constant(input(2), "bias");
        if (bias.shape != std::vector<int64_t>{OC}) {
            fail(ErrorCode::ModelFormat,
                 "bias shape " + shape_text(bias.shape) + ", expected [" + std::to_string(OC) + "]");
        }
        nd.weights["bias"] = add_constant(input(2), {0});
    }
    const std::vector<int64_t>& out = nhwc(outputs_[0]);
    const int64_t OH = (padded[1] + t + b - (KH - 1) * dil_h - 1) / stride_h + 1;
    const int64_t OW = (padded[2] + l + r - (KW - 1) * dil_w - 1) / stride_w + 1;
    if (out != std::vector<int64_t>{padded[0], OH, OW, OC}) {
        fail(ErrorCode::ModelFormat,
             "output shape " + shape_text(out) + ", the convolution gives " + shape_text({padded[0], OH, OW, OC}));
    }
    emit(std::move(nd), outputs_[0], fused, true);
}

void GraphBuilder::pool(bool average) {
    expect_io(1, 1);
    const Activation& src = activation(input(0));
    const std::vector<int64_t>& in = nhwc(input(0));
    const auto* o = file_.op(op_index_).builtin_options_as_Pool2DOptions();
    if (!o) fail(ErrorCode::ModelFormat, "missing Pool2DOptions");
    const int64_t kh = o->filter_height(), kw = o->filter_width(), sh = o->stride_h(), sw = o->stride_w();
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1) fail(ErrorCode::ModelFormat, "filter sizes and strides must be >= 1");
    int64_t t = 0, l = 0, b = 0, r = 0;
    if (o->padding() == ::tflite::Padding_SAME) {
        same_padding(in[1], kh, sh, 1, t, b);
        same_padding(in[2], kw, sw, 1, l, r);
    }
    const std::vector<int64_t>& out = nhwc(outputs_[0]);
    const std::vector<int64_t> expected = {in[0], (in[1] + t + b - kh) / sh + 1, (in[2] + l + r - kw) / sw + 1, in[3]};
    if (out != expected) {
        fail(ErrorCode::ModelFormat, "output shape " + shape_text(out) + ", the pooling gives " + shape_text(expected));
    }
    NodeDef nd;
    nd.op = op_name(average ? OpKind::AvgPool : OpKind::MaxPool);
    nd.inputs = {src.name};
    nd.attrs["kernel"] = std::vector<int64_t>{kh, kw};
    nd.attrs["stride"] = std::vector<int64_t>{sh, sw};
    nd.attrs["pad"] = std::vector<int64_t>{t, l, b, r};
    emit(std::move(nd), outputs_[0], o->fused_activation_function(), false);
}

void GraphBuilder::binary(bool is_add) {
    expect_io(2, 2);
    int32_t a = input(0), b = input(1);
    if (constant(a) && constant(b)) fail(ErrorCode::Unsupported, "both operands are constants");
    if (constant(a)) std::swap(a, b);  // ADD and MUL commute; our constant operand is the second one
    const auto& op = file_.op(op_index_);
    int8_t fused = ::tflite::ActivationFunctionType_NONE;
    if (const auto* o = op.builtin_options_as_AddOptions(); is_add && o) fused = o->fused_activation_function();
    if (const auto* o = op.builtin_options_as_MulOptions(); !is_add && o) fused = o->fused_activation_function();
    NodeDef nd;
    nd.op = op_name(is_add ? OpKind::Add : OpKind::Mul);
    nd.inputs = {activation(a).name};
    if (constant(b)) {
        const size_t rank = file_.tensor(a).shape.size();
        if (constant(b)->shape.size() > rank) {
            fail(ErrorCode::Unsupported, "constant operand " + shape_text(constant(b)->shape) +
                                             " has a higher rank than the activation " +
                                             shape_text(file_.tensor(a).shape));
        }
        std::vector<size_t> perm(rank);
        for (size_t i = 0; i < rank; ++i) perm[i] = i;
        if (rank == 4) perm = kNhwcToNchw;
        nd.weights["b"] = add_constant(b, perm);
    } else {
        nd.inputs.push_back(activation(b).name);
    }
    emit(std::move(nd), outputs_[0], fused, true);
}

void GraphBuilder::activation_op(mnet::Activation kind) {
    expect_io(1, 1);
    NodeDef nd;
    nd.op = op_name(OpKind::Activation);
    nd.inputs = {activation(input(0)).name};
    nd.attrs["kind"] = std::string(activation_name(kind));
    emit(std::move(nd), outputs_[0], ::tflite::ActivationFunctionType_NONE, false);
}

void GraphBuilder::reshape() {
    expect_io(1, 2);  // the optional second input is the target shape, which the output tensor's shape repeats
    const Activation& src = activation(input(0));
    const std::vector<int64_t>& in = file_.tensor(input(0)).shape;
    const std::vector<int64_t>& out = file_.tensor(outputs_[0]).shape;
    if (!same_flatten_order(in) || !same_flatten_order(out)) {
        fail(ErrorCode::Unsupported, "reshape " + shape_text(in) + " -> " + shape_text(out) +
                                         " depends on the NHWC element order, which mnet's NCHW layout does not keep");
    }
    if (out.size() < 2 || out.size() > 4 || in.empty() || out[0] != in[0] || numel(in) != numel(out)) {
        fail(ErrorCode::Unsupported,
             "reshape " + shape_text(in) + " -> " + shape_text(out) + " must keep the batch and have 2 to 4 dims");
    }
    const Shape logical = logical_shape(out);
    NodeDef nd;
    nd.op = op_name(OpKind::Reshape);
    nd.inputs = {src.name};
    nd.attrs["shape"] = std::vector<int64_t>(logical.begin() + 1, logical.end());
    emit(std::move(nd), outputs_[0], ::tflite::ActivationFunctionType_NONE, false);
    identity_src_[outputs_[0]] = input(0);
}

void GraphBuilder::softmax() {
    expect_io(1, 1);
    const Activation& src = activation(input(0));
    if (const auto* o = file_.op(op_index_).builtin_options_as_SoftmaxOptions(); o && o->beta() != 1.0f) {
        fail(ErrorCode::Unsupported, "softmax beta " + std::to_string(o->beta()) + "; mnet supports beta 1");
    }
    const std::vector<int64_t>& in = file_.tensor(input(0)).shape;
    if (!(in.size() == 2 || (in.size() == 4 && in[1] * in[2] == 1))) {
        fail(ErrorCode::Unsupported, "softmax over " + shape_text(in) + "; mnet supports [N,C] and [N,1,1,C]");
    }
    NodeDef nd;
    nd.op = op_name(OpKind::Softmax);
    nd.inputs = {src.name};
    emit(std::move(nd), outputs_[0], ::tflite::ActivationFunctionType_NONE, false);
}

void GraphBuilder::mean() {
    expect_io(2, 2);
    const Activation& src = activation(input(0));
    const std::vector<int64_t>& in = nhwc(input(0));
    std::vector<int64_t> axes = file_.int_values(require_constant(input(1), "axes"));
    for (int64_t& a : axes) a = a < 0 ? a + 4 : a;
    std::sort(axes.begin(), axes.end());
    if (axes != std::vector<int64_t>{1, 2}) {
        fail(ErrorCode::Unsupported, "MEAN over axes other than H and W (1, 2)");
    }
    const auto* o = file_.op(op_index_).builtin_options_as_ReducerOptions();
    const bool keep = o && o->keep_dims();
    const std::vector<int64_t>& out = file_.tensor(outputs_[0]).shape;
    const std::vector<int64_t> expected =
        keep ? std::vector<int64_t>{in[0], 1, 1, in[3]} : std::vector<int64_t>{in[0], in[3]};
    if (out != expected) {
        fail(ErrorCode::ModelFormat, "output shape " + shape_text(out) + ", expected " + shape_text(expected));
    }
    NodeDef nd;
    nd.op = op_name(OpKind::GlobalAvgPool);
    nd.inputs = {src.name};
    nd.attrs["keepdims"] = int64_t{keep ? 1 : 0};
    emit(std::move(nd), outputs_[0], ::tflite::ActivationFunctionType_NONE, false);
}

void GraphBuilder::fully_connected() {
    expect_io(2, 3);
    const Activation& src = activation(input(0));
    const std::vector<int64_t>& in = file_.tensor(input(0)).shape;
    const auto* o = file_.op(op_index_).builtin_options_as_FullyConnectedOptions();
    if (o && o->weights_format() != ::tflite::FullyConnectedOptionsWeightsFormat_DEFAULT) {
        fail(ErrorCode::Unsupported, "shuffled FULLY_CONNECTED weights");
    }
    if (!same_flatten_order(in)) {
        fail(ErrorCode::Unsupported, "input " + shape_text(in) + " flattens differently in NHWC and NCHW order");
    }
    const TfliteTensor& w = require_constant(input(1), "weights");
    const int64_t K = numel(in) / std::max<int64_t>(in.empty() ? 1 : in[0], 1);
    if (w.shape.size() != 2 || w.shape[1] != K) {
        fail(ErrorCode::Unsupported, "weights " + shape_text(w.shape) + " for input " + shape_text(in) +
                                         "; mnet needs [OC, elements per image]");
    }
    const std::vector<int64_t>& out = file_.tensor(outputs_[0]).shape;
    if (out != std::vector<int64_t>{in[0], w.shape[0]}) {
        fail(ErrorCode::Unsupported, "output shape " + shape_text(out) + "; mnet's fully_connected gives [N, OC]");
    }
    NodeDef nd;
    nd.op = op_name(OpKind::FullyConnected);
    nd.inputs = {src.name};
    nd.weights["weights"] = add_constant(input(1), {0, 1});
    if (input(2) >= 0) {
        const TfliteTensor& bias = require_constant(input(2), "bias");
        if (bias.shape != std::vector<int64_t>{w.shape[0]}) {
            fail(ErrorCode::ModelFormat,
                 "bias shape " + shape_text(bias.shape) + " for " + std::to_string(w.shape[0]) + " outputs");
        }
        nd.weights["bias"] = add_constant(input(2), {0});
    }
    emit(std::move(nd), outputs_[0], o ? o->fused_activation_function() : ::tflite::ActivationFunctionType_NONE, true);
}

void GraphBuilder::identity() {
    expect_io(1, 1);
    if (constant(input(0))) {
        // A DEQUANTIZE of constant weights (float16 models): its output is the same constant, in float.
        if (acts_.count(outputs_[0]) || const_alias_.count(outputs_[0])) {
            fail(ErrorCode::ModelFormat, "output written twice");
        }
        const_alias_[outputs_[0]] = input(0);
        return;
    }
    NodeDef nd;
    nd.op = op_name(OpKind::Identity);
    nd.inputs = {activation(input(0)).name};
    emit(std::move(nd), outputs_[0], ::tflite::ActivationFunctionType_NONE, false);
    identity_src_[outputs_[0]] = input(0);
}

void GraphBuilder::pad() {
    expect_io(2, 2);
    const int32_t out = outputs_[0];
    activation(input(0));  // must be defined
    const std::vector<int64_t>& in = nhwc(input(0));
    std::vector<int64_t> p = file_.int_values(require_constant(input(1), "paddings"));
    if (p.size() != 8 || p[0] || p[1] || p[6] || p[7] || *std::min_element(p.begin(), p.end()) < 0) {
        fail(ErrorCode::Unsupported, "only non-negative padding of H and W can be folded into a convolution");
    }
    if (nhwc(out) != std::vector<int64_t>{in[0], in[1] + p[2] + p[3], in[2] + p[4] + p[5], in[3]}) {
        fail(ErrorCode::ModelFormat, "output shape " + shape_text(nhwc(out)) + " does not match the paddings");
    }
    const auto& graph_outputs = file_.graph_outputs();
    bool foldable = std::find(graph_outputs.begin(), graph_outputs.end(), out) == graph_outputs.end();
    for (size_t c : consumers_[out]) {
        const int32_t code = file_.op_code(c);
        const auto ins = file_.op_inputs(c);
        foldable = foldable && c > op_index_ &&
                   (code == ::tflite::BuiltinOperator_CONV_2D || code == ::tflite::BuiltinOperator_DEPTHWISE_CONV_2D) &&
                   ins[0] == out && std::count(ins.begin(), ins.end(), out) == 1;
    }
    if (!foldable) {
        fail(ErrorCode::Unsupported, "PAD is supported only when convolutions alone read its output");
    }
    if (acts_.count(out) || pads_.count(out)) fail(ErrorCode::ModelFormat, "output written twice");
    pads_[out] = PendingPad{input(0), p[2], p[4], p[3], p[5]};
}

}  // namespace mnet::importer
