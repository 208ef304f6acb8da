// SPDX-License-Identifier: Apache-2.0
// Int8 lowering: quantized activations held as u8/s8 in NHWC (the layout oneDNN's int8 kernels take without
// falling back to a reference implementation: forced into a blocked layout they do), convolutions on s8
// weights with oneDNN's zero-point attributes and per-channel output scales, the requantization and the model's
// activation in post-ops. Only values whose producer fell back to fp32 pay for a conversion.
#include "ops/lowering_int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "mnet/error.h"
#include "ops/nhwc_quantize.h"
#include "ops/quantize.h"

namespace mnet {

using dnnl::algorithm;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace int8 {

bool is_int(dt t) { return t == dt::u8 || t == dt::s8; }
int32_t qmin(dt t) { return (t == dt::u8 ? kU8Range : kS8Range).lo; }
int32_t qmax(dt t) { return (t == dt::u8 ? kU8Range : kS8Range).hi; }

std::optional<ActQuant> act_quant(const std::optional<QuantParams>& q) {
    if (!q || q->axis >= 0 || q->scale.size() != 1 || q->zero_point.size() != 1) return std::nullopt;
    if (q->dtype != DType::U8 && q->dtype != DType::S8) return std::nullopt;
    const double s = q->scale[0];
    if (!(s > 0) || !std::isfinite(static_cast<float>(s))) return std::nullopt;
    ActQuant a;
    a.dt = q->dtype == DType::U8 ? dt::u8 : dt::s8;
    a.scale = static_cast<float>(s);
    a.zero_point = static_cast<int32_t>(q->zero_point[0]);  // the graph checked it lies in the dtype's range
    return a;
}

bool same_quant(const ActQuant& a, const ActQuant& b) {
    // Parameters read from one file: equal values print equal, and a relative 1e-6 is far below one step.
    constexpr float kRelative = 1e-6f;
    return a.dt == b.dt && a.zero_point == b.zero_point &&
           std::abs(a.scale - b.scale) <= kRelative * std::max(a.scale, b.scale);
}

std::optional<std::pair<float, float>> clip_bounds(Activation act) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    switch (act) {
        case Activation::None: return std::make_pair(-kInf, kInf);
        case Activation::Relu: return std::make_pair(0.f, kInf);
        case Activation::Relu6: return std::make_pair(0.f, 6.f);
        case Activation::ReluN1To1: return std::make_pair(-1.f, 1.f);
        case Activation::HardSwish:
        case Activation::HardSigmoid:
        case Activation::Sigmoid: return std::nullopt;
    }
    return std::nullopt;
}

bool has_repeated_algorithm(const std::vector<PostOp>& chain) {
    for (size_t i = 0; i < chain.size(); ++i) {
        for (size_t j = i + 1; j < chain.size(); ++j) {
            if (!chain[i].sum && !chain[j].sum && chain[i].alg == chain[j].alg) return true;
        }
    }
    return false;
}

dnnl::post_ops to_post_ops(const std::vector<PostOp>& chain) {
    dnnl::post_ops ops;
    for (const PostOp& p : chain) {
        if (p.sum) {
            ops.append_sum(p.scale, p.zero_point, dt::undef);
        } else {
            ops.append_eltwise(p.scale, p.alg, p.alpha, p.beta);
        }
    }
    return ops;
}

float finite(float v) {
    constexpr float kMax = std::numeric_limits<float>::max();
    return std::clamp(v, -kMax, kMax);
}

namespace {

PostOp eltwise_op(algorithm alg, float alpha = 0.f, float beta = 0.f, float scale = 1.f) {
    PostOp p;
    p.alg = alg;
    p.alpha = alpha;
    p.beta = beta;
    p.scale = scale;
    return p;
}

}  // namespace

std::optional<std::vector<PostOp>> requantize_chain(Activation act, float offset, const ActQuant& out) {
    const float inv = 1.f / out.scale, zp = static_cast<float>(out.zero_point);
    std::vector<PostOp> chain;
    if (const auto bounds = clip_bounds(act)) {
        // Everything is affine up to the clip, which then works in the shifted integer domain.
        chain.push_back(eltwise_op(algorithm::eltwise_linear, inv, offset * inv + zp));
        if (act != Activation::None) {
            chain.push_back(eltwise_op(algorithm::eltwise_clip, finite(bounds->first * inv + zp),
                                       finite(bounds->second * inv + zp)));
        }
        return chain;
    }
    if (offset != 0.f) return std::nullopt;
    for (const Eltwise& e : eltwise_chain(act, std::nullopt)) chain.push_back(eltwise_op(e.alg, e.alpha, e.beta));
    chain.back().scale = inv;
    if (out.zero_point != 0) chain.push_back(eltwise_op(algorithm::eltwise_linear, 1.f, zp));
    if (has_repeated_algorithm(chain)) return std::nullopt;
    return chain;
}

}  // namespace int8

using namespace int8;

void Lowering::init_int8() {
    act_quant_.assign(graph_.values.size(), std::nullopt);
    std::map<std::string, const NodeDef*> producers;
    for (const NodeDef& nd : model_.def.nodes) producers[nd.output] = &nd;
    bool any = false;
    for (size_t v = 0; v < graph_.values.size(); ++v) {
        const std::optional<QuantParams>* q = nullptr;
        if (static_cast<int>(v) == graph_.input) {
            q = &model_.def.input.quant;
        } else if (auto it = producers.find(graph_.values[v].name); it != producers.end()) {
            q = &it->second->dst_quant;
        }
        if (q) act_quant_[v] = int8::act_quant(*q);
        any = any || act_quant_[v].has_value();
    }
    if (!any) {
        throw Error(ErrorCode::Unsupported, model_.path + ": int8 execution needs quantization parameters and this "
                                                          "model has none (run it in fp32, or quantize it first)");
    }
}

memory::desc Lowering::int8_md(const Shape& s, dt type) const {
    static const tag tags[] = {tag::undef, tag::a, tag::ab, tag::abc, tag::nhwc};
    return memory::desc(memory::dims(s.begin(), s.end()), type, tags[s.size()]);
}

const std::optional<ActQuant>& Lowering::act_quant(int value) const {
    static const std::optional<ActQuant> kNone;
    return act_quant_.empty() ? kNone : act_quant_[static_cast<size_t>(value)];
}

View Lowering::int8_view(int value, const ActQuant& q) { return ensure(value, int8_md(values_[value].shape, q.dt)); }

// Makes the float form the value's main view (converting once), so that fp32 lowering, which reads main views
// directly, never sees integers. The integer view stays available to later int8 consumers.
void Lowering::to_float(int value) {
    ValueState& v = values_[value];
    if (!is_int(v.view.md.data_type())) return;
    const View int_view = v.view;
    const memory::dims d = int_view.md.dims();
    const Shape dims(d.begin(), d.end());
    const View f = ensure(value, dims.size() == 4 ? act_md(dims) : plain_md(dims));
    v.copies.erase(std::remove_if(v.copies.begin(), v.copies.end(), [&](const View& c) { return c.md == f.md; }),
                   v.copies.end());
    v.view = f;
    v.copies.push_back(int_view);
}

// An fp32 fallback in an int8 session (the classifier, softmax, a small pool) writes real values; when the
// model quantizes that output and another node reads it, it is rounded to its grid here (quantized, and the
// float form made from the integers), so that float consumers read what the model's integer tensor holds: the
// source runtime's softmax reads integer logits, and half a step of a logit is several steps of a probability.
// A value only the caller reads (the final probabilities) stays as computed, within half a step of the grid.
void Lowering::round_to_grid(int value) {
    ValueState& v = values_[value];
    const std::optional<ActQuant>& q = act_quant(value);
    if (!q || is_int(v.view.md.data_type())) return;
    const bool read = std::any_of(graph_.nodes.begin(), graph_.nodes.end(), [&](const Node& n) {
        return std::find(n.inputs.begin(), n.inputs.end(), value) != n.inputs.end();
    });
    if (!read) return;
    const View integers = int8_view(value, *q);
    v.copies.clear();
    v.view = integers;
    to_float(value);
}

// Converts between a value's integer and float forms. oneDNN 2.6's jit reorder ignores zero points when it also
// transposes NHWC <-> NCHW for some shapes (seen: 64, 320 and 1280 channels at 7x7, 1001 at 56x56, both
// directions), so the type changes in one layout and the transposition moves integers: quantize, then transpose;
// transpose, then dequantize.
View Lowering::convert(const View& src, const memory::desc& md, const std::string& name, int value) {
    auto with_type = [](const memory::desc& d, dt type) {
        dnnl_memory_desc_t c = d.data;
        c.data_type = static_cast<dnnl_data_type_t>(type);
        return memory::desc(c);
    };
    auto step = [&](const View& from, const memory::desc& to, const dnnl::primitive_attr& conversion) {
        View dst = new_view(to);
        dnnl::primitive_attr attr = conversion;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::reorder::primitive_desc pd(engine_, from.md, engine_, to, attr);
        add_step(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, dst}}, {}, "reorder:" + name, "reorder",
                 {}, 0);
        return dst;
    };
    const dnnl::primitive_attr attr = conversion_attr(value, src.md, md);  // checks the value has parameters
    // (A rank-2 value, e.g. a float softmax's output requantized to u8, has no NCHW form to compare with.)
    if (is_int(md.data_type()) && md.dims().size() == 4 && src.md == memory::desc(md.dims(), dt::f32, tag::nchw) &&
        md == memory::desc(md.dims(), md.data_type(), tag::nhwc)) {
        return quantize_to_nhwc(src, md, name, value);
    }
    if (is_int(md.data_type())) {
        const memory::desc mid = with_type(src.md, md.data_type());
        const View q = step(src, mid, attr);
        return mid == md ? q : step(q, md, dnnl::primitive_attr());
    }
    const memory::desc mid = with_type(md, src.md.data_type());
    const View t = mid == src.md ? src : step(src, mid, dnnl::primitive_attr());
    return step(t, md, attr);
}

// Float NCHW (the graph's input) to integer NHWC in one step of our own (nhwc_quantize.h says why).
View Lowering::quantize_to_nhwc(const View& src, const memory::desc& md, const std::string& name, int value) {
    const ActQuant q = *act_quant_[value];  // convert() checked it is there
    const memory::dims d = md.dims();
    const View dst = new_view(md);
    const float inv = 1.f / q.scale;
    Step step;
    step.kernel = [d, inv, q](const std::unordered_map<int, memory>& args) {
        const auto* x = static_cast<const float*>(args.at(DNNL_ARG_FROM).get_data_handle());
        void* out = args.at(DNNL_ARG_TO).get_data_handle();
        if (q.dt == dt::u8) {
            quantize_nchw_to_nhwc(x, static_cast<uint8_t*>(out), d[0], d[1], d[2], d[3], inv, q.zero_point);
        } else {
            quantize_nchw_to_nhwc(x, static_cast<int8_t*>(out), d[0], d[1], d[2], d[3], inv, q.zero_point);
        }
    };
    step.info.impl = "mnet:nhwc_quantize";
    step.info.type = "f32";
    push_step(std::move(step), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, "reorder:" + name, "reorder", {}, 0);
    return dst;
}

dnnl::primitive_attr Lowering::conversion_attr(int value, const memory::desc& from, const memory::desc& to) const {
    dnnl::primitive_attr attr;
    const bool from_int = is_int(from.data_type()), to_int = is_int(to.data_type());
    if (from_int == to_int) return attr;
    if (act_quant_.empty() || !act_quant_[value]) {
        throw Error(ErrorCode::Internal, "int8: value '" + graph_.values[value].name + "' has no quantization parameters");
    }
    const ActQuant& q = *act_quant_[value];
    if (to_int) {
        attr.set_output_scales(0, {1.f / q.scale});
        if (q.zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {q.zero_point});
    } else {
        attr.set_output_scales(0, {q.scale});
        if (q.zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {q.zero_point});
    }
    return attr;
}

memory Lowering::constant_f32(const std::vector<float>& values, const memory::desc& md) {
    memory mem(md, engine_);
    std::memcpy(mem.get_data_handle(), values.data(), std::min(md.get_size(), values.size() * sizeof(float)));
    return mem;
}

}  // namespace mnet
