// SPDX-License-Identifier: Apache-2.0
// Graph nodes to oneDNN primitives. Activations stay in one layout through the network (the fastest measured for
// this ISA and thread count, see activation_layout()); a reorder is added only where a primitive wants another
// layout, and plain NCHW appears only at the graph's input and outputs.
#include "ops/lowering.h"

#include <oneapi/dnnl/dnnl_debug.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "mnet/error.h"

namespace mnet {

using dnnl::algorithm;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

memory::dims to_dims(const Shape& s) { return memory::dims(s.begin(), s.end()); }

const char* type_name(dt t) {
    switch (t) {
        case dt::f32: return "f32";
        case dt::u8: return "u8";
        case dt::s8: return "s8";
        case dt::s32: return "s32";
        default: return "other";
    }
}

// The activation layout. On AVX-512, channel blocks of one vector register (nChw16c), which oneDNN's jit
// convolutions are fastest on. On AVX2 the blocked nChw8c and nhwc run the same kernels (jit_1x1, jit_dw); measured
// alternately on MobileNet V1/V2/V3 (docs/performance.md), nhwc was 0-11% faster with two or more threads and
// 1-3% slower with one, so the choice follows the thread count.
tag activation_layout(int threads) {
    if (avx512_kernels()) return tag::nChw16c;
    return threads > 1 ? tag::nhwc : tag::nChw8c;
}

}  // namespace

bool is_reference_impl(const char* impl) { return std::strncmp(impl, "ref", 3) == 0; }

std::vector<Eltwise> eltwise_chain(Activation act, const std::optional<Range>& saturate) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    std::vector<Eltwise> chain;
    switch (act) {
        case Activation::None: break;
        case Activation::Relu: chain.push_back({algorithm::eltwise_relu, 0.f, 0.f}); break;
        case Activation::Relu6: chain.push_back({algorithm::eltwise_clip, 0.f, 6.f}); break;
        case Activation::ReluN1To1: chain.push_back({algorithm::eltwise_clip, -1.f, 1.f}); break;
        case Activation::HardSwish: chain.push_back({algorithm::eltwise_hardswish, 0.f, 0.f}); break;
        case Activation::HardSigmoid:  // relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1)
            chain.push_back({algorithm::eltwise_linear, 1.f / 6.f, 0.5f});
            chain.push_back({algorithm::eltwise_clip, 0.f, 1.f});
            break;
        case Activation::Sigmoid: chain.push_back({algorithm::eltwise_logistic, 0.f, 0.f}); break;
    }
    if (saturate) {
        // A clip after a clip (or a relu, a clip to [0, inf)) is one clip to the intersection.
        if (!chain.empty() && (chain.back().alg == algorithm::eltwise_clip || chain.back().alg == algorithm::eltwise_relu)) {
            Eltwise& last = chain.back();
            const float lo = last.alg == algorithm::eltwise_relu ? 0.f : last.alpha;
            const float hi = last.alg == algorithm::eltwise_relu ? kInf : last.beta;
            last = {algorithm::eltwise_clip, std::max(lo, saturate->lo), std::min(hi, saturate->hi)};
        } else {
            chain.push_back({algorithm::eltwise_clip, saturate->lo, saturate->hi});
        }
    }
    return chain;
}

Lowering::Lowering(const Model::Impl& model, const SessionOptions& options, dnnl::engine& engine,
                   dnnl::stream& stream, std::vector<Slot>& slots, std::vector<Step>& steps)
    : model_(model), graph_(model.graph), options_(options), engine_(engine), stream_(stream), slots_(slots),
      steps_(steps), act_tag_(activation_layout(options.threads)) {}

Shape Lowering::batched(const Shape& s) const {
    Shape b = s;
    b[0] = options_.batch;
    return b;
}

memory::desc Lowering::plain_md(const Shape& s) {
    static const tag tags[] = {tag::undef, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde};
    return memory::desc(to_dims(s), dt::f32, tags[s.size()]);
}

memory::desc Lowering::act_md(const Shape& s) const {
    return s.size() == 4 ? memory::desc(to_dims(s), dt::f32, act_tag_) : plain_md(s);
}

int Lowering::new_slot(const memory::desc& md) {
    slots_.push_back(Slot{md.get_size(), -1, -1, 0, false});
    return static_cast<int>(slots_.size()) - 1;
}

View Lowering::reorder_to(const View& src, const memory::desc& md, const std::string& name, int value) {
    // Between a value's integer and float forms: applies its quantization parameters (lowering_int8.cpp).
    if (value >= 0 && src.md.data_type() != md.data_type()) return convert(src, md, name, value);
    View dst = new_view(md);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::reorder::primitive_desc pd(engine_, src.md, engine_, md, attr);
    add_step(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, {}, "reorder:" + name, "reorder",
             {}, 0);
    return dst;
}

// A view of the value in layout `md`, reordering (once per layout) when it lives in another. When only the
// dims differ (a reshape), the value is viewed through plain NCHW, where a reshape moves no data.
View Lowering::ensure(int value, const memory::desc& md) {
    ValueState& v = values_[value];
    if (v.view.md == md) return v.view;
    for (const View& c : v.copies) {
        if (c.md == md) return c;
    }
    const std::string& name = graph_.values[value].name;
    View result;
    if (md.dims() == v.view.md.dims()) {
        result = reorder_to(v.view, md, name, value);
    } else {
        const memory::dims have = v.view.md.dims(), want = md.dims();  // dims() returns a fresh vector
        const Shape view_dims(have.begin(), have.end()), want_dims(want.begin(), want.end());
        View plain = ensure(value, plain_md(view_dims));
        View reshaped{plain.slot, plain_md(want_dims)};
        result = reshaped.md == md ? reshaped : reorder_to(reshaped, md, name, value);
    }
    v.copies.push_back(result);
    return result;
}

dnnl::primitive_attr Lowering::attr_with(const std::vector<Eltwise>& chain) const {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    for (const Eltwise& e : chain) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
    attr.set_post_ops(ops);
    return attr;
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

void Lowering::add_step(dnnl::primitive prim, const dnnl::primitive_desc_base& pd,
                        std::vector<std::pair<int, View>> views, std::unordered_map<int, dnnl::memory> fixed,
                        const std::string& name, const std::string& op, const Shape& dst_shape, int64_t macs) {
    scratchpad_bytes_ = std::max(scratchpad_bytes_, pd.scratchpad_desc().get_size());
    Step step;
    step.prim = std::move(prim);
    step.fixed = std::move(fixed);
    step.info.impl = pd.impl_info_str();
    step.info.type = type_name(pd.src_desc().data_type());
    push_step(std::move(step), std::move(views), name, op, dst_shape, macs);
}

void Lowering::push_step(Step step, std::vector<std::pair<int, View>> views, const std::string& name,
                         const std::string& op, const Shape& dst_shape, int64_t macs) {
    const int index = static_cast<int>(steps_.size());
    for (const auto& [arg, view] : views) {
        Slot& s = slots_[view.slot];
        if (s.first_step < 0) s.first_step = index;
        s.last_step = std::max(s.last_step, index);
    }
    step.views = std::move(views);
    step.info.name = name;
    step.info.op = op;
    if (follower_ && op != "reorder") {  // an absorbed activation node shows in the profile with its host
        step.info.name += "+" + follower_->name;
        step.info.op += std::string("+") + op_name(follower_->op);
    }
    step.info.dst_shape = dst_shape;
    step.info.macs = macs;
    steps_.push_back(std::move(step));
}

// Elementwise functions as their own primitives, in place on `dst`: for ops whose oneDNN primitive takes no
// eltwise post-ops.
void Lowering::add_eltwise_steps(const View& dst, const std::vector<Eltwise>& chain, const std::string& name,
                                 const Shape& shape) {
    for (const Eltwise& e : chain) {
        dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, e.alg, dst.md, e.alpha, e.beta);
        dnnl::eltwise_forward::primitive_desc pd(d, attr_with({}), engine_);
        add_step(dnnl::eltwise_forward(pd), pd, {{DNNL_ARG_SRC, dst}, {DNNL_ARG_DST, dst}}, {}, name, "eltwise",
                 shape, 0);
    }
}

// Weights and constants: wrapped in their plain layout, reordered once into the layout the primitive chose.
memory Lowering::constant(const std::vector<float>& values, const memory::desc& user_md, const memory::desc& md) {
    memory user(user_md, engine_, const_cast<float*>(values.data()));
    memory mem(md, engine_);
    dnnl::reorder(user, mem).execute(stream_, user, mem);
    stream_.wait();
    return mem;
}

void Lowering::lower_all() {
    values_.resize(graph_.values.size());
    for (size_t i = 0; i < graph_.values.size(); ++i) values_[i].shape = batched(graph_.values[i].shape);
    fused_.assign(graph_.nodes.size(), false);
    if (options_.precision == Precision::Int8) init_int8();

    input_slot_ = new_slot(plain_md(values_[graph_.input].shape));
    slots_[input_slot_].external = true;
    values_[graph_.input].view = View{input_slot_, plain_md(values_[graph_.input].shape)};

    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
        if (fused_[i]) continue;
        const Node& n = graph_.nodes[i];
        try {
            lower(n, i);
        } catch (const dnnl::error& e) {
            throw Error(ErrorCode::Backend, model_.path + ": node '" + n.name + "' (" + op_name(n.op) +
                                                "): oneDNN: " + e.what() + " (" + dnnl_status2str(e.status) + ")");
        }
    }
    add_outputs();
}

void Lowering::lower(const Node& n, size_t index) {
    follower_ = nullptr;
    if (options_.precision == Precision::Int8 && lower_int8(n, index)) return;
    switch (n.op) {
        case OpKind::Conv2d: {
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
            return;
        }
        case OpKind::FullyConnected: with_follower(index, [&] { fully_connected(n); }); return;
        case OpKind::Add:
        case OpKind::Mul: with_follower(index, [&] { binary(n); }); return;
        case OpKind::AvgPool:
        case OpKind::MaxPool: {
            // A 1x1 window with stride 1 (V3's Logits/AvgPool on a 1x1 image) copies its input: oneDNN has only a
            // reference kernel for it in nhwc, so it runs as its saturation alone.
            const Window& w = n.window;
            const bool identity = w.kernel_h == 1 && w.kernel_w == 1 && w.stride_h == 1 && w.stride_w == 1 &&
                                  w.pad_t + w.pad_l + w.pad_b + w.pad_r == 0;
            identity ? eltwise(n) : pool(n);
            return;
        }
        case OpKind::GlobalAvgPool: global_avg_pool(n); return;
        case OpKind::Reshape:  // data stays where it is; consumers view it through the new shape (see ensure())
        case OpKind::Activation:
        case OpKind::Identity: eltwise(n); return;
        case OpKind::Softmax: softmax(n); return;
    }
}

// oneDNN 2.6's jit post-op injector computes a chain holding the same eltwise algorithm twice with different
// parameters wrongly (seen: conv jit_1x1:avx2 with clip, hardswish, clip is off by up to 1/6; clip, clip by
// 0.7), so such chains are never built.
static bool has_repeated_algorithm(const std::vector<Eltwise>& chain) {
    for (size_t i = 0; i < chain.size(); ++i) {
        for (size_t j = i + 1; j < chain.size(); ++j) {
            if (chain[i].alg == chain[j].alg) return true;
        }
    }
    return false;
}

// Lowers a node whose primitive takes eltwise post-ops together with the activation node right after it, when
// that node reads only its output (V3's separate hard-swish ops, a quantize's saturation): one pass over memory
// instead of two. Falls back to lowering the node alone if oneDNN refuses the longer post-op chain.
template <typename LowerFn>
void Lowering::with_follower(size_t index, LowerFn lower_node) {
    const Node& n = graph_.nodes[index];
    const Value& out = graph_.values[n.output];
    const bool is_output = std::find(graph_.outputs.begin(), graph_.outputs.end(), n.output) != graph_.outputs.end();
    if (options_.fuse_activation && out.consumers.size() == 1 && out.consumers[0] == static_cast<int>(index) + 1 &&
        !is_output) {
        const Node& next = graph_.nodes[index + 1];
        if (next.op == OpKind::Activation || next.op == OpKind::Identity) follower_ = &next;
    }
    if (follower_ && has_repeated_algorithm(post_chain(n))) follower_ = nullptr;
    if (follower_) {
        try {
            lower_node();
            fused_[index + 1] = true;
            return;
        } catch (const dnnl::error&) {
            follower_ = nullptr;
        }
    }
    lower_node();
}

// The post-op chain of `n`: its activation and saturation, then those of an absorbed follower.
std::vector<Eltwise> Lowering::post_chain(const Node& n) const {
    std::vector<Eltwise> chain = eltwise_chain(n.activation, n.saturate);
    if (follower_) {
        for (const Eltwise& e : eltwise_chain(follower_->activation, follower_->saturate)) chain.push_back(e);
    }
    return chain;
}

void Lowering::set_output(const Node& n, const View& view) {
    values_[n.output].view = view;
    if (follower_) values_[follower_->output].view = view;
}

void Lowering::binary(const Node& n) {
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
    dnnl::binary::primitive_desc pd(d, attr_with(post_chain(n)), engine_);
    add_step(dnnl::binary(pd), pd, std::move(views), std::move(fixed), n.name, op_name(n.op), os, 0);
    set_output(n, dst);
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

// Each graph output is copied, in plain NCHW, into a tensor the session owns.
void Lowering::add_outputs() {
    for (int id : graph_.outputs) {
        const Shape& shape = values_[id].shape;
        const View src = ensure(id, plain_md(shape));
        Tensor t(shape);
        outputs_.push_back(std::move(t));
        memory dst(plain_md(shape), engine_, outputs_.back().data.data());
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::reorder::primitive_desc pd(engine_, src.md, engine_, dst.get_desc(), attr);
        add_step(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}}, {{DNNL_ARG_TO, dst}},
                 "output:" + graph_.values[id].name, "reorder", shape, 0);
        steps_.back().output = static_cast<int>(outputs_.size()) - 1;
    }
}

}  // namespace mnet
