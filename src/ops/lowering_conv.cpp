// SPDX-License-Identifier: Apache-2.0
// Float lowering of the convolutions: plain, with the residual add summed in place, fused with the depthwise
// convolution after them, and a 1x1 convolution over a 1x1 image (the classifier) as an inner product or as
// u8_gemv over a quantized model's weight integers.
#include <algorithm>
#include <limits>
#include <memory>

#include "ops/lowering.h"
#include "ops/u8_gemv.h"

namespace mnet {

using dnnl::algorithm;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// A convolution with what may run in the same primitive: the depthwise convolution after it, the residual add it
// feeds, or an activation node after it.
void Lowering::conv2d_node(const Node& n, size_t index) {
    // pw 1x1 -> dw 3x3 (its only consumer) may run as one oneDNN primitive with a depthwise post-op.
    const Value& out = graph_.values[n.output];
    if (options_.fuse_dw && out.consumers.size() == 1 && out.consumers[0] == static_cast<int>(index) + 1 &&
        try_fuse_dw(n, graph_.nodes[index + 1])) {
        fused_[index + 1] = true;
        return;
    }
    // A 1x1 convolution of a 1x1 image (a classifier after global pooling) is a matrix-vector product:
    // oneDNN's inner product runs it from memory-bound weights ~3x faster than its 1x1 conv kernels.
    const Shape& xs = values_[n.inputs[0]].shape;
    if (n.groups == 1 && n.window.kernel_h == 1 && n.window.kernel_w == 1 && xs[2] == 1 && xs[3] == 1 &&
        out.shape[2] == 1 && out.shape[3] == 1) {
        with_follower(index, [&] { fully_connected(n); });
        return;
    }
    // conv -> add(conv, skip) may run as one primitive that accumulates into the skip's buffer.
    const int add = residual_add(index);
    if (add >= 0 && conv2d(n, &graph_.nodes[add])) {
        fused_[add] = true;
        return;
    }
    with_follower(index, [&] { conv2d(n); });
}

// The add node a convolution's result can be summed into in place (oneDNN's sum post-op), or -1. The add's
// other operand (the skip) is then overwritten by the sum, so it must be complete before the convolution,
// read by no later node nor by the convolution, and not a graph output; so must every other value viewing its
// buffer (a reshape of it, or the earlier skip whose buffer an in-place sum before reused, as in consecutive
// residual blocks).
int Lowering::residual_add(size_t conv_index) const {
    const Node& conv = graph_.nodes[conv_index];
    const Value& out = graph_.values[conv.output];
    if (!options_.fuse_add || out.consumers.size() != 1) return -1;
    const int add_index = out.consumers[0];
    const Node& add = graph_.nodes[add_index];
    if (add.op != OpKind::Add || add.inputs.size() != 2 || add.inputs[0] == add.inputs[1]) return -1;
    const int skip = add.inputs[0] == conv.output ? add.inputs[1] : add.inputs[0];
    if (graph_.values[skip].shape != out.shape || graph_.values[skip].producer >= static_cast<int>(conv_index)) return -1;
    auto is_output = [&](int v) { return std::find(graph_.outputs.begin(), graph_.outputs.end(), v) != graph_.outputs.end(); };
    if (is_output(conv.output) || slots_[values_[skip].view.slot].external) return -1;  // never the caller's input
    for (size_t v = 0; v < values_.size(); ++v) {
        if (values_[v].view.slot != values_[skip].view.slot) continue;
        if (is_output(static_cast<int>(v))) return -1;
        for (int c : graph_.values[v].consumers) {  // the convolution itself must not read it either: it writes there
            if (c != add_index && c >= static_cast<int>(conv_index)) return -1;
        }
    }
    return add_index;
}

// Returns false, having changed nothing, when `add` is given but cannot be fused.
bool Lowering::conv2d(const Node& n, const Node* add) {
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    const Window& w = n.window;
    const int64_t G = n.groups, OC = os[1], IC = xs[1];
    const memory::dims weights_dims = G > 1 ? memory::dims{G, OC / G, IC / G, w.kernel_h, w.kernel_w}
                                            : memory::dims{OC, IC, w.kernel_h, w.kernel_w};
    const tag weights_tag = G > 1 ? tag::goihw : tag::oihw;
    const memory::desc weights_any(weights_dims, dt::f32, tag::any);
    const memory::desc bias_md({OC}, dt::f32, tag::a);
    const memory::dims strides{w.stride_h, w.stride_w}, dilates{w.dilation_h - 1, w.dilation_w - 1};
    const memory::dims pad_l{w.pad_t, w.pad_l}, pad_r{w.pad_b, w.pad_r};
    dnnl::primitive_attr attr = attr_with(post_chain(n));
    int skip = -1;
    if (add) {
        skip = add->inputs[0] == n.output ? add->inputs[1] : add->inputs[0];
        dnnl::post_ops ops = attr.get_post_ops();
        ops.append_sum(1.f);
        for (const Eltwise& e : eltwise_chain(add->activation, add->saturate)) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
        attr.set_post_ops(ops);
    }

    auto make = [&](const memory::desc& src_md) {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, algorithm::convolution_direct, src_md,
                                          weights_any, bias_md, act_md(os), strides, dilates, pad_l, pad_r);
        return dnnl::convolution_forward::primitive_desc(d, attr, engine_);
    };
    // The activation layout first; a source layout of oneDNN's choosing where that has no optimised kernel
    // (a 3-channel first layer wants plain NCHW input).
    dnnl::convolution_forward::primitive_desc pd;
    try {
        pd = make(act_md(xs));
    } catch (const dnnl::error&) {
    }
    if (!pd || is_reference_impl(pd.impl_info_str())) {
        if (add) return false;
        pd = make(memory::desc(memory::dims(xs.begin(), xs.end()), dt::f32, tag::any));
    }
    if (add && (is_reference_impl(pd.impl_info_str()) || pd.dst_desc() != values_[skip].view.md)) return false;

    const View src = ensure(n.inputs[0], pd.src_desc());
    const View dst = add ? values_[skip].view : new_view(pd.dst_desc());
    std::unordered_map<int, memory> fixed;
    const std::vector<float> weights = tensor_values(model_.weights, *n.weights);
    fixed[DNNL_ARG_WEIGHTS] = constant(weights, memory::desc(weights_dims, dt::f32, weights_tag), pd.weights_desc());
    std::vector<float> bias(static_cast<size_t>(OC), 0.f);
    if (n.bias) bias = tensor_values(model_.weights, *n.bias);
    fixed[DNNL_ARG_BIAS] = constant(bias, bias_md, pd.bias_desc());
    add_step(dnnl::convolution_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, std::move(fixed),
             add ? n.name + "+" + add->name : n.name, add ? "conv2d+add" : "conv2d", os, n.macs * options_.batch);
    if (add) {
        values_[skip].copies.clear();  // the skip's other layouts (if any) no longer hold its value
        set_output(*add, dst);
    } else {
        set_output(n, dst);
    }
    return true;
}

// A pointwise 1x1 convolution and the depthwise 3x3 after it as one oneDNN primitive (the depthwise post-op):
// the pointwise output never round-trips through memory. oneDNN accepts the attribute even where no kernel
// implements it and then runs a slow generic fallback ("ref_fused..."), so the fusion is kept only when the
// implementation it picked is a real fused kernel. Returns false, having changed nothing, otherwise.
bool Lowering::try_fuse_dw(const Node& pw, const Node& dw) {
    const Window& p = pw.window;
    const Window& d = dw.window;
    const Shape& xs = values_[pw.inputs[0]].shape;
    const Shape& mid = values_[pw.output].shape;
    const Shape& os = values_[dw.output].shape;
    const int64_t C = mid[1];
    const bool pw_ok = pw.groups == 1 && p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                       p.pad_t + p.pad_l + p.pad_b + p.pad_r == 0;
    // oneDNN's depthwise post-op: square kernel and stride, equal top and left padding, output ceil(H / stride).
    const int64_t s = d.stride_h;
    const bool dw_ok = dw.op == OpKind::Conv2d && dw.groups == C && os[1] == C && d.kernel_h == d.kernel_w &&
                       d.stride_w == s && d.dilation_h == 1 && d.dilation_w == 1 && d.pad_t == d.pad_l &&
                       os[2] == (mid[2] + s - 1) / s && os[3] == (mid[3] + s - 1) / s;
    const bool mid_private = std::find(graph_.outputs.begin(), graph_.outputs.end(), pw.output) == graph_.outputs.end();
    // oneDNN 2.6's fused jit_1x1 + depthwise kernel gives wrong, run-to-run different results on nhwc activations
    // with two threads (seen on MobileNetV2, AVX2: off by up to 0.7 in probability), so only blocked layouts fuse.
    if (!pw_ok || !dw_ok || !mid_private || act_tag_ == tag::nhwc) return false;

    dnnl::post_ops ops;
    for (const Eltwise& e : eltwise_chain(pw.activation, pw.saturate)) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
    ops.append_dw(dt::f32, dt::f32, dt::f32, d.kernel_h, s, d.pad_t, 0, {});
    for (const Eltwise& e : eltwise_chain(dw.activation, dw.saturate)) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_post_ops(ops);

    const memory::desc bias_md({C}, dt::f32, tag::a);
    dnnl::convolution_forward::primitive_desc pd;
    try {
        dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm::convolution_direct,
                                             act_md(xs), memory::desc({C, xs[1], 1, 1}, dt::f32, tag::any), bias_md,
                                             act_md(mid), {1, 1}, {0, 0}, {0, 0});
        pd = dnnl::convolution_forward::primitive_desc(desc, attr, engine_);
    } catch (const dnnl::error&) {
        return false;
    }
    if (is_reference_impl(pd.impl_info_str())) return false;

    const View src = ensure(pw.inputs[0], pd.src_desc());
    const View dst = new_view(pd.dst_desc());  // the depthwise output: oneDNN reports the fused result here
    std::unordered_map<int, memory> fixed;
    fixed[DNNL_ARG_WEIGHTS] = constant(tensor_values(model_.weights, *pw.weights),
                                       memory::desc({C, xs[1], 1, 1}, dt::f32, tag::oihw), pd.weights_desc());
    std::vector<float> pw_bias(static_cast<size_t>(C), 0.f), dw_bias(static_cast<size_t>(C), 0.f);
    if (pw.bias) pw_bias = tensor_values(model_.weights, *pw.bias);
    if (dw.bias) dw_bias = tensor_values(model_.weights, *dw.bias);
    fixed[DNNL_ARG_BIAS] = constant(pw_bias, bias_md, pd.bias_desc());
    const int dw_weights_arg = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS;
    const int dw_bias_arg = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS;
    fixed[dw_weights_arg] = constant(tensor_values(model_.weights, *dw.weights),
                                     memory::desc({C, 1, 1, d.kernel_h, d.kernel_w}, dt::f32, tag::goihw),
                                     pd.query_md(dnnl::query::exec_arg_md, dw_weights_arg));
    fixed[dw_bias_arg] = constant(dw_bias, bias_md, pd.query_md(dnnl::query::exec_arg_md, dw_bias_arg));
    add_step(dnnl::convolution_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, std::move(fixed),
             pw.name + "+" + dw.name, "conv2d+dw", os, (pw.macs + dw.macs) * options_.batch);
    set_output(dw, dst);
    return true;
}

// Also a 1x1 convolution over a 1x1 image: its source is then read as {N, C, 1, 1} in the activation layout
// (no reorder) and its output viewed as {N, OC}; ensure() gives consumers the 4-D shape they expect.
void Lowering::fully_connected(const Node& n) {
    if (u8_classifier(n)) return;
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    const int64_t K = shape_numel(xs) / options_.batch, OC = os[1];
    const bool conv = n.op == OpKind::Conv2d;
    const memory::desc src_md = conv ? act_md(xs) : plain_md({options_.batch, K});
    const memory::dims weights_dims = conv ? memory::dims{OC, xs[1], 1, 1} : memory::dims{OC, K};
    const memory::desc weights_plain(weights_dims, dt::f32, conv ? tag::oihw : tag::ab);
    const memory::desc bias_md({OC}, dt::f32, tag::a);
    dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference, src_md,
                                        memory::desc(weights_dims, dt::f32, tag::any), bias_md,
                                        plain_md({options_.batch, OC}));
    dnnl::inner_product_forward::primitive_desc pd(d, attr_with(post_chain(n)), engine_);
    const View src = ensure(n.inputs[0], pd.src_desc());
    const View dst = new_view(pd.dst_desc());
    std::unordered_map<int, memory> fixed;
    fixed[DNNL_ARG_WEIGHTS] = constant(tensor_values(model_.weights, *n.weights), weights_plain, pd.weights_desc());
    std::vector<float> bias(static_cast<size_t>(OC), 0.f);
    if (n.bias) bias = tensor_values(model_.weights, *n.bias);
    fixed[DNNL_ARG_BIAS] = constant(bias, bias_md, pd.bias_desc());
    add_step(dnnl::inner_product_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, std::move(fixed), n.name,
             conv ? "conv2d" : "fully_connected", os, n.macs * options_.batch);
    set_output(n, dst);
}

// fully_connected() through u8_gemv when the weights are a quantized model's 8-bit integers, the batch is small
// enough for the product to be memory-bound, and the post-ops are at most a clamp. Returns false, having changed
// nothing, otherwise.
bool Lowering::u8_classifier(const Node& n) {
    constexpr int64_t kMaxBatch = 4;  // beyond this oneDNN's GEMM reuses each weight enough to be compute-bound
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    const int64_t K = shape_numel(xs) / options_.batch, OC = os[1];
    const bool conv = n.op == OpKind::Conv2d;
    // The source is read as plain {N, K}: a 1x1 image is that in nhwc, and in a blocked layout when no channel
    // block is padded.
    const int64_t block = act_tag_ == tag::nChw16c ? 16 : act_tag_ == tag::nChw8c ? 8 : 1;
    if (!options_.u8_classifier || options_.batch > kMaxBatch || !n.weights->quant || K % 16 != 0 ||
        (conv && xs[1] % block != 0) || !u8_gemv_supported()) {
        return false;
    }
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    for (const Eltwise& e : post_chain(n)) {
        if (e.alg == algorithm::eltwise_clip) {
            lo = std::max(lo, e.alpha);
            hi = std::min(hi, e.beta);
        } else if (e.alg == algorithm::eltwise_relu && e.alpha == 0.f) {
            lo = std::max(lo, 0.f);
        } else {
            return false;
        }
    }
    if (lo > hi) return false;
    auto weights = recover_u8(tensor_values(model_.weights, *n.weights), OC, K, *n.weights->quant);
    if (!weights) return false;

    auto bias = std::make_shared<std::vector<float>>(static_cast<size_t>(OC), 0.f);
    if (n.bias) *bias = tensor_values(model_.weights, *n.bias);
    auto matrix = std::make_shared<const U8Matrix>(std::move(*weights));
    const View src = ensure(n.inputs[0], conv ? act_md(xs) : plain_md({options_.batch, K}));
    const View dst = new_view(plain_md({options_.batch, OC}));
    const int64_t batch = options_.batch;
    Step step;
    step.kernel = [matrix, bias, batch, lo, hi](const std::unordered_map<int, memory>& args) {
        u8_gemv(*matrix, bias->data(), static_cast<const float*>(args.at(DNNL_ARG_SRC).get_data_handle()),
                static_cast<float*>(args.at(DNNL_ARG_DST).get_data_handle()), batch, lo, hi);
    };
    step.info.impl = "mnet:u8_gemv:avx2";
    step.info.type = "f32";  // the activations; the weights are the integers
    push_step(std::move(step), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, n.name, conv ? "conv2d" : "fully_connected",
              os, n.macs * options_.batch);
    set_output(n, dst);
    return true;
}

}  // namespace mnet
