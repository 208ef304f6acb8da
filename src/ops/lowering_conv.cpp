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

// A convolution with the group the fusion pass gave it: the depthwise convolution after it, the residual add it
// feeds, or an activation node after it; or alone when oneDNN has no optimised kernel for the group.
void Lowering::conv2d_node(const Node& n, size_t index) {
    const Fusion& group = fusions_[index];
    if (group.depthwise >= 0 && try_fuse_dw(n, graph_.nodes[static_cast<size_t>(group.depthwise)])) {
        lowered_[static_cast<size_t>(group.depthwise)] = true;
        return;
    }
    // A 1x1 convolution of a 1x1 image (a classifier after global pooling) is a matrix-vector product, which
    // oneDNN's inner product runs faster than its 1x1 convolution kernels (docs/performance.md).
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    if (n.groups == 1 && n.window.kernel_h == 1 && n.window.kernel_w == 1 && xs[2] == 1 && xs[3] == 1 && os[2] == 1 &&
        os[3] == 1) {
        fully_connected(n, follower_of(index));
        return;
    }
    if (group.residual_add >= 0 && residual_buffer_free(index, group.residual_add) &&
        conv2d(n, &graph_.nodes[static_cast<size_t>(group.residual_add)], nullptr)) {
        lowered_[static_cast<size_t>(group.residual_add)] = true;
        return;
    }
    conv2d(n, nullptr, follower_of(index));
}

// Whether the skip of the residual add `add_index` may be overwritten by the sum of convolution `conv_index`:
// it must be read by no later node nor by the convolution, and not be a graph output; so must every other value
// viewing its buffer (a reshape of it, or the earlier skip whose buffer an in-place sum before reused, as in
// consecutive residual blocks). Never the caller's input buffer.
bool Lowering::residual_buffer_free(size_t conv_index, int add_index) const {
    const int skip = residual_skip(graph_.nodes[static_cast<size_t>(add_index)], graph_.nodes[conv_index].output);
    const int slot = values_[skip].view.slot;
    if (slots_[slot].external) return false;
    for (size_t v = 0; v < values_.size(); ++v) {
        if (values_[v].view.slot != slot) continue;
        if (graph_.values[v].is_output) return false;
        for (int c : graph_.values[v].consumers) {  // the convolution itself must not read it either: it writes there
            if (c != add_index && c >= static_cast<int>(conv_index)) return false;
        }
    }
    return true;
}

// With `add`, the convolution summed into the add's skip; returns false, having changed nothing, when oneDNN has
// no optimised kernel for that. Otherwise always lowers it, with `follower` when oneDNN takes the longer chain.
bool Lowering::conv2d(const Node& n, const Node* add, const Node* follower) {
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    const Window& w = n.window;
    const int64_t G = n.groups, OC = os[1], IC = xs[1];
    const memory::dims weights_dims = G > 1 ? memory::dims{G, OC / G, IC / G, w.kernel_h, w.kernel_w}
                                            : memory::dims{OC, IC, w.kernel_h, w.kernel_w};
    const tag weights_tag = G > 1 ? tag::goihw : tag::oihw;
    const memory::desc weights_any(weights_dims, act_dt_, tag::any);
    const memory::desc bias_md({OC}, dt::f32, tag::a);
    const memory::dims strides{w.stride_h, w.stride_w}, dilates{w.dilation_h - 1, w.dilation_w - 1};
    const memory::dims pad_l{w.pad_t, w.pad_l}, pad_r{w.pad_b, w.pad_r};
    const int skip = add ? residual_skip(*add, n.output) : -1;
    auto make = [&](const std::vector<Eltwise>& chain) {
        dnnl::primitive_attr attr = attr_with(chain);
        if (add) {
            dnnl::post_ops ops = attr.get_post_ops();
            ops.append_sum(1.f);
            for (const Eltwise& e : eltwise_chain(add->activation, add->saturate)) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
            attr.set_post_ops(ops);
        }
        auto make_for = [&](const memory::desc& src_md) {
            dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, algorithm::convolution_direct, src_md,
                                              weights_any, bias_md, act_md(os), strides, dilates, pad_l, pad_r);
            return dnnl::convolution_forward::primitive_desc(d, attr, engine_);
        };
        // The activation layout first; a source layout of oneDNN's choosing where that has no optimised kernel
        // (a 3-channel first layer wants plain NCHW input). The sum into the skip needs the skip's layout.
        dnnl::convolution_forward::primitive_desc pd;
        try {
            pd = make_for(act_md(xs));
        } catch (const dnnl::error&) {
        }
        if (!add && (!pd || is_reference_impl(pd.impl_info_str()))) {
            pd = make_for(memory::desc(memory::dims(xs.begin(), xs.end()), act_dt_, tag::any));
        }
        return pd;
    };
    const dnnl::convolution_forward::primitive_desc pd = with_follower_pd(n, follower, make);
    if (add && (!pd || is_reference_impl(pd.impl_info_str()) || pd.dst_desc() != values_[skip].view.md)) return false;

    const View src = ensure(n.inputs[0], pd.src_desc());
    const View dst = add ? values_[skip].view : new_view(pd.dst_desc());
    std::unordered_map<int, memory> fixed;
    const std::vector<float> weights = tensor_values(model_.weights, *n.weights);
    fixed[DNNL_ARG_WEIGHTS] = constant(weights, memory::desc(weights_dims, dt::f32, weights_tag), pd.weights_desc());
    std::vector<float> bias(static_cast<size_t>(OC), 0.f);
    if (n.bias) bias = tensor_values(model_.weights, *n.bias);
    fixed[DNNL_ARG_BIAS] = constant(bias, bias_md, pd.bias_desc());
    add_step(dnnl::convolution_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, std::move(fixed),
             add ? n.name + "+" + add->name : joined_name(n, follower), add ? "conv2d+add" : joined_op("conv2d", follower),
             os, n.macs * options_.batch);
    if (add) {
        values_[skip].copies.clear();  // the skip's other layouts (if any) no longer hold its value
        set_output(*add, dst);
    } else {
        set_output(n, dst, follower);
    }
    return true;
}

// A pointwise 1x1 convolution and the depthwise convolution after it (a group of the fusion pass's depthwise
// rule) as one oneDNN primitive. oneDNN accepts the depthwise post-op even where no kernel implements it and then
// runs a slow generic fallback ("ref_fused..."), so the fusion is kept only when the implementation it picked is
// a real fused kernel. Returns false, having changed nothing, otherwise.
bool Lowering::try_fuse_dw(const Node& pw, const Node& dw) {
    const Window& d = dw.window;
    const Shape& xs = values_[pw.inputs[0]].shape;
    const Shape& mid = values_[pw.output].shape;
    const Shape& os = values_[dw.output].shape;
    const int64_t C = mid[1], s = d.stride_h;
    dnnl::post_ops ops;
    for (const Eltwise& e : eltwise_chain(pw.activation, pw.saturate)) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
    ops.append_dw(act_dt_, dt::f32, act_dt_, d.kernel_h, s, d.pad_t, 0, {});  // weights, bias, dst types
    for (const Eltwise& e : eltwise_chain(dw.activation, dw.saturate)) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_post_ops(ops);

    const memory::desc bias_md({C}, dt::f32, tag::a);
    dnnl::convolution_forward::primitive_desc pd;
    try {
        dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm::convolution_direct,
                                             act_md(xs), memory::desc({C, xs[1], 1, 1}, act_dt_, tag::any), bias_md,
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
void Lowering::fully_connected(const Node& n, const Node* follower) {
    if (u8_classifier(n, follower)) return;
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    const int64_t K = shape_numel(xs) / options_.batch, OC = os[1];
    const bool conv = n.op == OpKind::Conv2d;
    // In f32 in a bf16 session too: the classifier (and V3's squeeze-and-excitation products, 1x1 images as well)
    // is under 1% of the MACs, and its logits decide the ranking (bf16 there moved V3-small's probabilities by
    // 0.027 instead of 0.019; docs/performance.md, "bf16").
    const memory::desc src_md = conv ? act_md(xs, dt::f32) : plain_md({options_.batch, K});
    const memory::dims weights_dims = conv ? memory::dims{OC, xs[1], 1, 1} : memory::dims{OC, K};
    const memory::desc weights_plain(weights_dims, dt::f32, conv ? tag::oihw : tag::ab);
    const memory::desc bias_md({OC}, dt::f32, tag::a);
    dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference, src_md,
                                        memory::desc(weights_dims, dt::f32, tag::any), bias_md,
                                        plain_md({options_.batch, OC}));
    const auto pd = with_follower_pd(n, follower, [&](const std::vector<Eltwise>& chain) {
        return dnnl::inner_product_forward::primitive_desc(d, attr_with(chain), engine_);
    });
    const View src = ensure(n.inputs[0], pd.src_desc());
    const View dst = new_view(pd.dst_desc());
    std::unordered_map<int, memory> fixed;
    fixed[DNNL_ARG_WEIGHTS] = constant(tensor_values(model_.weights, *n.weights), weights_plain, pd.weights_desc());
    std::vector<float> bias(static_cast<size_t>(OC), 0.f);
    if (n.bias) bias = tensor_values(model_.weights, *n.bias);
    fixed[DNNL_ARG_BIAS] = constant(bias, bias_md, pd.bias_desc());
    add_step(dnnl::inner_product_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, std::move(fixed),
             joined_name(n, follower), joined_op(conv ? "conv2d" : "fully_connected", follower), os,
             n.macs * options_.batch);
    set_output(n, dst, follower);
}

// fully_connected() through u8_gemv when the weights are a quantized model's 8-bit integers, the batch is small
// enough for the product to be memory-bound, and the post-ops are at most a clamp. Returns false, having changed
// nothing, otherwise.
bool Lowering::u8_classifier(const Node& n, const Node* follower) {
    constexpr int64_t kMaxBatch = 4;  // beyond this oneDNN's GEMM reuses each weight enough to be compute-bound
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    const int64_t K = shape_numel(xs) / options_.batch, OC = os[1];
    const bool conv = n.op == OpKind::Conv2d;
    // The source is read as plain {N, K}: a 1x1 image is that in nhwc, and in a blocked layout when no channel
    // block is padded.
    const int64_t block = act_tag_ == tag::nChw16c ? 16 : act_tag_ == tag::nChw8c ? 8 : 1;
    if (!lowering_.u8_classifier || options_.batch > kMaxBatch || !n.weights->quant || K % 16 != 0 ||
        (conv && xs[1] % block != 0) || !u8_gemv_supported()) {
        return false;
    }
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    for (const Eltwise& e : post_chain(n, follower)) {
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
    const View src = ensure(n.inputs[0], conv ? act_md(xs, dt::f32) : plain_md({options_.batch, K}));
    const View dst = new_view(plain_md({options_.batch, OC}));
    const int64_t batch = options_.batch;
    Step step;
    step.kernel = [matrix, bias, batch, lo, hi](const std::unordered_map<int, memory>& args) {
        u8_gemv(*matrix, bias->data(), static_cast<const float*>(args.at(DNNL_ARG_SRC).get_data_handle()),
                static_cast<float*>(args.at(DNNL_ARG_DST).get_data_handle()), batch, lo, hi);
    };
    step.info.impl = "mnet:u8_gemv:avx2";
    step.info.type = "f32";  // the activations; the weights are the integers
    push_step(std::move(step), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, joined_name(n, follower),
              joined_op(conv ? "conv2d" : "fully_connected", follower), os, n.macs * options_.batch);
    set_output(n, dst, follower);
    return true;
}

}  // namespace mnet
