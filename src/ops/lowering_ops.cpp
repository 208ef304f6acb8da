// SPDX-License-Identifier: Apache-2.0
// The lowering table (one row per op: its fp32 and int8 lowering) and the fp32 lowering of the cheap ops.
#include <cstring>

#include "ops/lowering_int8.h"

namespace mnet {

using dnnl::algorithm;
using dnnl::memory;

namespace {

// pad: the whole destination filled with `fill_byte` (0 is also bf16's and f32's zero; a step of our own: oneDNN has no padding primitive, and an
// eltwise 0 * x over the arena's old contents would keep any NaN there), then the source reordered into the
// interior, a sub-memory of the destination.
View pad_into(Lowering& l, const Node& n, const View& src, const memory::desc& dst_md, uint8_t fill_byte) {
    const Shape& os = l.shape(n.output);
    const View dst = l.new_view(dst_md);
    const size_t bytes = dst_md.get_size();
    Step fill;
    fill.kernel = [bytes, fill_byte](const std::unordered_map<int, memory>& args) {
        std::memset(args.at(DNNL_ARG_DST).get_data_handle(), fill_byte, bytes);
    };
    fill.info.impl = "mnet:fill";
    fill.info.type = data_type_name(dst_md.data_type());
    l.push_step(std::move(fill), {{DNNL_ARG_DST, dst}}, n.name, op_name(n.op), os, 0);
    const Window& p = n.window;
    const memory::desc interior = dst_md.submemory_desc(src.md.dims(), {0, 0, p.pad_t, p.pad_l});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::reorder::primitive_desc pd(l.engine(), src.md, l.engine(), interior, attr);
    l.add_step(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, View{dst.slot, interior}}}, {}, n.name,
               op_name(n.op), os, 0);
    return dst;
}

// fp32: zeros around the source, in the activation layout; then the node's saturation, if any.
void pad_fp32(Lowering& l, const Node& n, size_t) {
    const Shape& os = l.shape(n.output);
    const View src = l.ensure(n.inputs[0], l.act_md(l.shape(n.inputs[0])));
    const View dst = pad_into(l, n, src, l.act_md(os), 0);
    l.add_eltwise_steps(dst, eltwise_chain(Activation::None, n.saturate), n.name, os);
    l.set_output(n, dst);
}

// int8, for an output with the input's parameters (TFLite's PAD has them; calibration gives them too): the
// integers moved, the border filled with the zero point, which stands for real 0.
bool pad_int8(Lowering& l, const Node& n, size_t) {
    const ActQuant xq = *l.act_quant(n.inputs[0]);
    if (!int8::same_quant(xq, *l.act_quant(n.output))) return false;
    const View src = l.ensure(n.inputs[0], l.int8_md(l.shape(n.inputs[0]), xq.dt));
    // An s8 zero point's byte is its two's complement.
    const View dst = pad_into(l, n, src, l.int8_md(l.shape(n.output), xq.dt), static_cast<uint8_t>(xq.zero_point));
    l.set_output(n, dst);
    return true;
}

}  // namespace

const OpLowering& Lowering::lowering_of(OpKind kind) {
    // Lambdas: a row may name private members, and a new op's free functions alike.
    static constexpr std::array<OpLowering, kOpCount> kLowerings = {{
        {OpKind::Conv2d, [](Lowering& l, const Node& n, size_t i) { l.conv2d_node(n, i); },
         [](Lowering& l, const Node& n, size_t i) { return l.conv2d_int8(n, i); }},
        {OpKind::FullyConnected,
         [](Lowering& l, const Node& n, size_t i) { l.fully_connected(n, l.follower_of(i)); },
         nullptr},  // fp32: the classifier's last steps, where accuracy matters most
        {OpKind::Add, [](Lowering& l, const Node& n, size_t i) { l.binary(n, l.follower_of(i)); },
         [](Lowering& l, const Node& n, size_t) { return l.binary_int8(n); }},
        {OpKind::Mul, [](Lowering& l, const Node& n, size_t i) { l.binary(n, l.follower_of(i)); },
         [](Lowering& l, const Node& n, size_t) { return l.binary_int8(n); }},
        {OpKind::Activation, [](Lowering& l, const Node& n, size_t) { l.eltwise(n); },
         [](Lowering& l, const Node& n, size_t) { return l.requantize_int8(n); }},
        {OpKind::Identity, [](Lowering& l, const Node& n, size_t) { l.eltwise(n); },
         [](Lowering& l, const Node& n, size_t) { return l.requantize_int8(n); }},
        {OpKind::AvgPool, [](Lowering& l, const Node& n, size_t) { l.pool_or_copy(n); },
         [](Lowering& l, const Node& n, size_t) { return l.pool_int8(n); }},
        {OpKind::MaxPool, [](Lowering& l, const Node& n, size_t) { l.pool_or_copy(n); },
         [](Lowering& l, const Node& n, size_t) { return l.pool_int8(n); }},
        {OpKind::GlobalAvgPool, [](Lowering& l, const Node& n, size_t) { l.global_avg_pool(n); },
         [](Lowering& l, const Node& n, size_t) { return l.pool_int8(n); }},
        // Data stays where it is; consumers view it through the new shape (see ensure()).
        {OpKind::Reshape, [](Lowering& l, const Node& n, size_t) { l.eltwise(n); },
         [](Lowering& l, const Node& n, size_t) { return l.reshape_int8(n); }},
        {OpKind::Softmax, [](Lowering& l, const Node& n, size_t) { l.softmax(n); }, nullptr},  // probabilities: fp32
        {OpKind::Pad, pad_fp32, pad_int8},
    }};
    static_assert([] {
        for (size_t i = 0; i < kLowerings.size(); ++i) {
            if (static_cast<size_t>(kLowerings[i].kind) != i) return false;
        }
        return true;
    }(), "kLowerings: one row per OpKind, in enum order");
    return kLowerings[static_cast<size_t>(kind)];
}

template <typename PrimitiveDesc, typename Desc>
std::pair<PrimitiveDesc, std::vector<Eltwise>> Lowering::with_post_ops(const Desc& desc,
                                                                       const std::vector<Eltwise>& chain) const {
    if (!chain.empty()) {
        try {
            PrimitiveDesc pd(desc, attr_with(chain), engine_);
            if (!is_reference_impl(pd.impl_info_str())) return {pd, {}};
        } catch (const dnnl::error&) {
        }
    }
    return {PrimitiveDesc(desc, attr_with({}), engine_), chain};
}

// A 1x1 window with stride 1 (V3's Logits/AvgPool on a 1x1 image) copies its input: oneDNN has only a reference
// kernel for it in nhwc, so it runs as its saturation alone.
void Lowering::pool_or_copy(const Node& n) {
    const Window& w = n.window;
    const bool identity = w.kernel_h == 1 && w.kernel_w == 1 && w.stride_h == 1 && w.stride_w == 1 &&
                          w.pad_t + w.pad_l + w.pad_b + w.pad_r == 0;
    identity ? eltwise(n) : pool(n);
}

void Lowering::binary(const Node& n, const Node* follower) {
    const Shape& os = values_[n.output].shape;
    const algorithm alg = n.op == OpKind::Add ? algorithm::binary_add : algorithm::binary_mul;
    // oneDNN broadcasts only the second source: put the full-shape operand first (add and mul commute).
    auto padded = [&](Shape s) {
        while (s.size() < os.size()) s.insert(s.begin(), 1);
        return s;
    };
    int full = n.inputs[0];
    int other = n.inputs.size() == 2 ? n.inputs[1] : -1;
    if (other >= 0 && padded(values_[full].shape) != os) std::swap(full, other);
    const View src0 = ensure(full, act_md(os));
    std::unordered_map<int, memory> fixed;
    std::vector<std::pair<int, View>> views = {{DNNL_ARG_SRC_0, src0}};
    memory::desc src1_md;
    if (other >= 0) {
        src1_md = act_md(padded(values_[other].shape));
        views.emplace_back(DNNL_ARG_SRC_1, ensure(other, src1_md));
    } else {
        const Shape cs = padded(n.constant->shape);
        src1_md = act_md(cs);
        fixed[DNNL_ARG_SRC_1] = constant(tensor_values(model_.weights, *n.constant), plain_md(cs), src1_md);
    }
    const View dst = new_view(act_md(os));
    views.emplace_back(DNNL_ARG_DST, dst);
    dnnl::binary::desc d(alg, src0.md, src1_md, dst.md);
    const auto pd = with_follower_pd(n, follower, [&](const std::vector<Eltwise>& chain) {
        return dnnl::binary::primitive_desc(d, attr_with(chain), engine_);
    });
    add_step(dnnl::binary(pd), pd, std::move(views), std::move(fixed), joined_name(n, follower),
             joined_op(op_name(n.op), follower), os, 0);
    set_output(n, dst, follower);
}

// Activation and identity nodes, and a reshape's saturation. Without a function to apply, the output is the
// input itself; otherwise the first function writes a new buffer and the rest run in place on it.
void Lowering::eltwise(const Node& n) {
    const Activation act = n.op == OpKind::Activation ? n.activation : Activation::None;
    // Every op saturates its result last, so a reshape or copy of a value already inside its own range (TFLite
    // gives both sides of a RESHAPE or SQUEEZE the same parameters) has nothing left to clip.
    const int producer = graph_.values[n.inputs[0]].producer;
    const std::optional<Range>& before = producer >= 0 ? graph_.nodes[producer].saturate : std::nullopt;
    const bool inside = act == Activation::None && n.saturate && before && before->lo >= n.saturate->lo &&
                        before->hi <= n.saturate->hi;
    const std::vector<Eltwise> chain = eltwise_chain(act, inside ? std::nullopt : n.saturate);
    const ValueState& x = values_[n.inputs[0]];
    if (chain.empty()) {
        values_[n.output].view = x.view;
        values_[n.output].copies = x.copies;
        return;
    }
    const View src = x.view;
    const View dst = new_view(src.md);
    const Eltwise& first = chain.front();
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, first.alg, src.md, first.alpha, first.beta);
    dnnl::eltwise_forward::primitive_desc pd(d, attr_with({}), engine_);
    add_step(dnnl::eltwise_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {}, n.name, op_name(n.op),
             values_[n.output].shape, 0);
    add_eltwise_steps(dst, std::vector<Eltwise>(chain.begin() + 1, chain.end()), n.name, values_[n.output].shape);
    set_output(n, dst);
}

void Lowering::pool(const Node& n) {
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    const Window& w = n.window;
    const algorithm alg = n.op == OpKind::MaxPool ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
    const View src = ensure(n.inputs[0], act_md(xs));
    const View dst = new_view(act_md(os));
    dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, alg, src.md, dst.md, {w.stride_h, w.stride_w},
                                  {w.kernel_h, w.kernel_w}, {w.pad_t, w.pad_l}, {w.pad_b, w.pad_r});
    const auto [pd, rest] = with_post_ops<dnnl::pooling_forward::primitive_desc>(d, eltwise_chain(Activation::None, n.saturate));
    add_step(dnnl::pooling_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {}, n.name, op_name(n.op), os, 0);
    add_eltwise_steps(dst, rest, n.name, os);
    set_output(n, dst);
}

void Lowering::global_avg_pool(const Node& n) {
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape pooled = {xs[0], xs[1], 1, 1};
    const View src = ensure(n.inputs[0], act_md(xs));
    const View dst = new_view(act_md(pooled));
    dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, algorithm::pooling_avg_exclude_padding, src.md,
                                  dst.md, {1, 1}, {xs[2], xs[3]}, {0, 0}, {0, 0});
    const auto [pd, rest] = with_post_ops<dnnl::pooling_forward::primitive_desc>(d, eltwise_chain(Activation::None, n.saturate));
    add_step(dnnl::pooling_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {}, n.name, "global_avg_pool",
             values_[n.output].shape, 0);
    add_eltwise_steps(dst, rest, n.name, values_[n.output].shape);
    set_output(n, dst);  // with keepdims 0 the view stays 4-D; ensure() reshapes for consumers
}

void Lowering::softmax(const Node& n) {
    const Shape& os = values_[n.output].shape;
    const memory::desc md = plain_md({os[0], os[1]});
    const View src = ensure(n.inputs[0], md);
    const View dst = new_view(md);
    dnnl::softmax_forward::desc d(dnnl::prop_kind::forward_inference, md, 1);
    const auto [pd, rest] = with_post_ops<dnnl::softmax_forward::primitive_desc>(d, eltwise_chain(Activation::None, n.saturate));
    add_step(dnnl::softmax_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, {}, n.name, "softmax", os, 0);
    add_eltwise_steps(dst, rest, n.name, os);
    set_output(n, dst);
}

}  // namespace mnet
