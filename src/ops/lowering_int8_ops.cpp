// SPDX-License-Identifier: Apache-2.0
// Int8 lowering of the cheap ops: residual adds and squeeze-excite products that were not fused into a
// convolution, stand-alone activations (requantized through a binary primitive, the one oneDNN primitive that
// takes input scales and post-ops on integers), pooling, and reshapes.
#include "mnet/error.h"
#include "ops/lowering_int8.h"

namespace mnet {

using dnnl::algorithm;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;
using namespace int8;

namespace {

Shape padded_to(Shape s, size_t rank) {
    while (s.size() < rank) s.insert(s.begin(), 1);
    return s;
}

}  // namespace

// add and mul, of two activations or of an activation and a constant: dst = chain(scale0 * src0 (op) scale1 *
// src1), real values in, the output's integers out. An add folds both zero points into one offset; a product
// cannot, so an operand of a mul with a non-zero zero point is first converted to real values (V3's
// squeeze-excite multiplies a hard-swish output, zero point 2..20, by a gate whose zero point is 0).
bool Lowering::binary_int8(const Node& n) {
    const ActQuant oq = *act_quant_[n.output];
    const Shape& os = values_[n.output].shape;
    const bool is_add = n.op == OpKind::Add;
    int full = n.inputs[0];
    int other = n.inputs.size() == 2 ? n.inputs[1] : -1;
    if (other >= 0 && padded_to(values_[full].shape, os.size()) != os) std::swap(full, other);

    struct Operand {
        int value = -1;
        memory::desc md;
        float scale = 1.f;
        bool as_float = false;  // read as real values (f32), converted from its integers first
    };
    float offset = 0.f;  // real, added to the result before the activation
    auto operand = [&](int value) {
        Operand o;
        o.value = value;
        const ActQuant& q = *act_quant_[value];
        const Shape s = padded_to(values_[value].shape, os.size());
        if (!is_add && q.zero_point != 0) {
            o.as_float = true;
            o.md = int8_md(s, dt::f32);  // same tags as the integer form, so only the type changes
        } else {
            o.md = int8_md(s, q.dt);
            o.scale = q.scale;
            offset -= q.scale * static_cast<float>(q.zero_point);
        }
        return o;
    };
    const Operand a = operand(full);
    Operand b;
    std::vector<float> constant_values;
    if (other >= 0) {
        b = operand(other);
    } else {
        // The constant is real already; an add also takes the other operand's zero-point offset into it.
        const Shape cs = padded_to(n.constant->shape, os.size());
        b.md = int8_md(cs, dt::f32);
        constant_values = tensor_values(model_.weights, *n.constant);
        if (is_add) {
            for (float& v : constant_values) v += offset;
            offset = 0.f;
        }
    }
    const auto chain = requantize_chain(n.activation, offset, oq);
    if (!chain) return false;

    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (a.scale != 1.f) attr.set_scales(DNNL_ARG_SRC_0, 0, {a.scale});
    if (b.scale != 1.f) attr.set_scales(DNNL_ARG_SRC_1, 0, {b.scale});
    attr.set_post_ops(to_post_ops(*chain));
    const memory::desc dst_md = int8_md(os, oq.dt);
    dnnl::binary::primitive_desc pd;
    try {
        dnnl::binary::desc d(is_add ? algorithm::binary_add : algorithm::binary_mul, a.md, b.md, dst_md);
        pd = dnnl::binary::primitive_desc(d, attr, engine_);
    } catch (const dnnl::error&) {
        return false;
    }
    if (is_reference_impl(pd.impl_info_str())) return false;

    std::unordered_map<int, memory> fixed;
    std::vector<std::pair<int, View>> views = {{DNNL_ARG_SRC_0, ensure(a.value, a.md)}};
    if (b.value >= 0) {
        views.emplace_back(DNNL_ARG_SRC_1, ensure(b.value, b.md));
    } else {
        const Shape cs = padded_to(n.constant->shape, os.size());
        fixed[DNNL_ARG_SRC_1] = constant(constant_values, plain_md(cs), b.md);
    }
    const View dst = new_view(dst_md);
    views.emplace_back(DNNL_ARG_DST, dst);
    add_step(dnnl::binary(pd), pd, std::move(views), std::move(fixed), n.name, op_name(n.op), os, 0);
    values_[n.output].view = dst;
    return true;
}

// An activation node or a requantizing identity: real = scale * q + (-scale * zero_point), the offset given as a
// broadcast constant (a binary add), then the function and the output's requantization as post-ops.
bool Lowering::requantize_int8(const Node& n) {
    const ActQuant xq = *act_quant_[n.inputs[0]];
    const ActQuant oq = *act_quant_[n.output];
    const Activation act = n.op == OpKind::Activation ? n.activation : Activation::None;
    if (act == Activation::None && same_quant(xq, oq)) {  // the same integers
        const View v = int8_view(n.inputs[0], xq);
        values_[n.output].view = v;
        return true;
    }
    const auto chain = requantize_chain(act, 0.f, oq);
    if (!chain) return false;
    const Shape& os = values_[n.output].shape;
    const Shape one(os.size(), 1);
    const memory::desc src_md = int8_md(os, xq.dt), offset_md = int8_md(one, dt::f32), dst_md = int8_md(os, oq.dt);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_scales(DNNL_ARG_SRC_0, 0, {xq.scale});
    attr.set_post_ops(to_post_ops(*chain));
    dnnl::binary::primitive_desc pd;
    try {
        dnnl::binary::desc d(algorithm::binary_add, src_md, offset_md, dst_md);
        pd = dnnl::binary::primitive_desc(d, attr, engine_);
    } catch (const dnnl::error&) {
        return false;
    }
    if (is_reference_impl(pd.impl_info_str())) return false;
    const View src = ensure(n.inputs[0], src_md);
    const View dst = new_view(dst_md);
    std::unordered_map<int, memory> fixed;
    fixed[DNNL_ARG_SRC_1] = constant_f32({-xq.scale * static_cast<float>(xq.zero_point)}, offset_md);
    add_step(dnnl::binary(pd), pd, {{DNNL_ARG_SRC_0, src}, {DNNL_ARG_DST, dst}}, std::move(fixed), n.name,
             op_name(n.op), os, 0);
    values_[n.output].view = dst;
    return true;
}

// Pooling on integers keeps the scale: max and mean of q - zero_point are those of q, shifted. Only for an
// output with the input's parameters (TFLite's pools have them; calibration gives them too).
bool Lowering::pool_int8(const Node& n) {
    const ActQuant xq = *act_quant_[n.inputs[0]];
    if (!same_quant(xq, *act_quant_[n.output])) return false;
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    Window w = n.window;
    if (n.op == OpKind::GlobalAvgPool) {
        w = Window{};
        w.kernel_h = xs[2];
        w.kernel_w = xs[3];
    }
    const Shape pooled = {xs[0], xs[1], (xs[2] + w.pad_t + w.pad_b - w.kernel_h) / w.stride_h + 1,
                          (xs[3] + w.pad_l + w.pad_r - w.kernel_w) / w.stride_w + 1};
    const algorithm alg = n.op == OpKind::MaxPool ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
    const memory::desc src_md = int8_md(xs, xq.dt), dst_md = int8_md(pooled, xq.dt);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::pooling_forward::primitive_desc pd;
    try {
        dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, alg, src_md, dst_md, {w.stride_h, w.stride_w},
                                      {w.kernel_h, w.kernel_w}, {w.pad_t, w.pad_l}, {w.pad_b, w.pad_r});
        pd = dnnl::pooling_forward::primitive_desc(d, attr, engine_);
    } catch (const dnnl::error&) {
        return false;
    }
    if (is_reference_impl(pd.impl_info_str())) return false;
    const View src = ensure(n.inputs[0], src_md);
    const View dst = new_view(dst_md);
    add_step(dnnl::pooling_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {}, n.name, op_name(n.op), os, 0);
    // keepdims 0: [N, C] is the same bytes as [N, C, 1, 1] in NHWC.
    values_[n.output].view = View{dst.slot, int8_md(os, xq.dt)};
    return true;
}

// A reshape moves no integers when the order of elements stays: NHWC with 1x1 spatial dims is plain [N, C].
// Otherwise the integers go through plain NCHW order (the format's reshape order) first.
bool Lowering::reshape_int8(const Node& n) {
    const ActQuant xq = *act_quant_[n.inputs[0]];
    if (!same_quant(xq, *act_quant_[n.output])) return false;
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    auto channels_only = [](const Shape& s) { return s.size() <= 2 || shape_numel(s) == s[0] * s[1]; };
    if (channels_only(xs) && channels_only(os)) {
        const View src = int8_view(n.inputs[0], xq);
        values_[n.output].view = View{src.slot, int8_md(os, xq.dt)};
        return true;
    }
    auto plain_int = [&](const Shape& s) {
        static const tag tags[] = {tag::undef, tag::a, tag::ab, tag::abc, tag::abcd};
        return memory::desc(memory::dims(s.begin(), s.end()), xq.dt, tags[s.size()]);
    };
    const View src = ensure(n.inputs[0], plain_int(xs));
    values_[n.output].view = View{src.slot, plain_int(os)};
    return true;
}

}  // namespace mnet
