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
#include <numeric>

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
int32_t qmin(dt t) { return t == dt::u8 ? 0 : -128; }
int32_t qmax(dt t) { return t == dt::u8 ? 255 : 127; }

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
        default: return std::nullopt;
    }
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

namespace {

// A finite stand-in for an infinite clip bound: the integer conversion saturates far below it.
float finite(float v) {
    constexpr float kMax = std::numeric_limits<float>::max();
    return std::clamp(v, -kMax, kMax);
}

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

namespace {

// What a convolution's epilogue computes: output scales s_x * s_w / unit, then `chain`, into `dst`'s integers.
struct Epilogue {
    float unit = 1.f;
    std::vector<PostOp> chain;
    ActQuant dst;
};

// The convolution's own activation and requantization to `y`.
std::optional<Epilogue> plain_epilogue(Activation act, const ActQuant& y) {
    Epilogue e;
    e.dst = y;
    if (const auto bounds = clip_bounds(act)) {
        // Clipping commutes with scaling: compute in units of y's step and let the conversion add the zero point.
        e.unit = y.scale;
        // The conversion adds the zero point, rounds and saturates: a bound beyond which every value would round
        // to the saturation limit anyway is left out (TFLite's ReLU6 on u8 [0, 6], ReLU on zero point 0), which
        // saves a post-op per element: 6-12% of MobileNetV2's int8 convolution time.
        const float lo = bounds->first / y.scale, hi = bounds->second / y.scale, zp = float(y.zero_point);
        const bool need_lo = lo + zp >= float(qmin(y.dt)) + 0.5f;
        const bool need_hi = hi + zp <= float(qmax(y.dt)) - 0.5f;
        if (need_lo || need_hi) {
            e.chain.push_back({false, algorithm::eltwise_clip, need_lo ? lo : finite(-INFINITY),
                               need_hi ? hi : finite(INFINITY), 1.f, 0});
        }
        return e;
    }
    const auto chain = requantize_chain(act, 0.f, ActQuant{y.dt, y.scale, 0});
    if (!chain) return std::nullopt;
    e.unit = 1.f;  // hard-swish and the like need real values
    e.chain = *chain;
    return e;
}

// The convolution's activation and its output rounded to y's grid and saturated, exactly as the model's
// quantized tensor holds it, then scaled by `scale` for what follows (another function, or a sum). Rounding
// commutes with clipping (both are monotone), so the activation's clip and the saturation merge into one clip.
std::optional<Epilogue> emulated_epilogue(Activation act, const ActQuant& y, float scale) {
    const auto bounds = clip_bounds(act);
    if (!bounds) return std::nullopt;
    Epilogue e;
    e.unit = y.scale;
    const float lo = std::max(std::nearbyint(finite(bounds->first / y.scale)), float(qmin(y.dt) - y.zero_point));
    const float hi = std::min(std::nearbyint(finite(bounds->second / y.scale)), float(qmax(y.dt) - y.zero_point));
    e.chain.push_back({false, algorithm::eltwise_round, 0.f, 0.f, 1.f, 0});
    e.chain.push_back({false, algorithm::eltwise_clip, lo, hi, scale, 0});
    return e;
}

}  // namespace

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
        if (q) act_quant_[v] = act_quant(*q);
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
    if (is_int(md.data_type()) && src.md == memory::desc(md.dims(), dt::f32, tag::nchw) &&
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

// A convolution on integers. With a residual add after it, the sum post-op adds the skip's integers in place;
// with an activation node after it (V3's hard-swish), that function runs as a post-op. Either way the
// convolution's own output is first rounded and saturated exactly as the model's intermediate tensor would be.
bool Lowering::conv2d_int8(const Node& n, size_t index) {
    const ActQuant xq = *act_quant_[n.inputs[0]];
    const ActQuant yq = *act_quant_[n.output];
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    const Window& w = n.window;
    const int64_t G = n.groups, OC = os[1], IC = xs[1], ICG = IC / G;

    // Pick the epilogue: residual sum, absorbed activation node, or plain.
    const Node* add = nullptr;
    const Node* follower = nullptr;
    int skip = -1;
    std::optional<Epilogue> epi;
    const int add_index = residual_add(index);
    if (add_index >= 0) {
        const Node& a = graph_.nodes[add_index];
        skip = a.inputs[0] == n.output ? a.inputs[1] : a.inputs[0];
        const auto& oq = act_quant_[a.output];
        const auto& bq = act_quant_[skip];
        // In place: the skip's integers are the destination, so the sum reads them in the add's output type.
        if (oq && bq && oq->dt == bq->dt && values_[skip].view.md == int8_md(os, bq->dt) &&
            (a.activation == Activation::None || a.activation == Activation::Relu)) {
            epi = emulated_epilogue(n.activation, yq, yq.scale / oq->scale);
            if (epi) {
                PostOp sum;
                sum.sum = true;
                sum.scale = bq->scale / oq->scale;
                sum.zero_point = bq->zero_point;
                epi->chain.push_back(sum);
                if (a.activation == Activation::Relu) epi->chain.push_back({false, algorithm::eltwise_relu, 0.f, 0.f, 1.f, 0});
                epi->dst = *oq;
                if (has_repeated_algorithm(epi->chain)) {
                    epi.reset();
                } else {
                    add = &a;
                }
            }
        }
    }
    const Value& out = graph_.values[n.output];
    const bool is_output = std::find(graph_.outputs.begin(), graph_.outputs.end(), n.output) != graph_.outputs.end();
    if (!add && options_.fuse_activation && out.consumers.size() == 1 && out.consumers[0] == static_cast<int>(index) + 1 &&
        !is_output && graph_.nodes[index + 1].op == OpKind::Activation && act_quant_[graph_.nodes[index + 1].output]) {
        const Node& next = graph_.nodes[index + 1];
        const ActQuant zq = *act_quant_[next.output];
        epi = emulated_epilogue(n.activation, yq, yq.scale);
        const auto tail = epi ? requantize_chain(next.activation, 0.f, ActQuant{zq.dt, zq.scale, 0}) : std::nullopt;
        if (tail) {
            epi->chain.insert(epi->chain.end(), tail->begin(), tail->end());
            epi->dst = zq;
            if (!has_repeated_algorithm(epi->chain)) follower = &next;
        }
        if (!follower) epi.reset();
    }
    if (!epi) epi = plain_epilogue(n.activation, yq);
    if (!epi) return false;

    const QuantizedWeights qw = quantize_weights(tensor_values(model_.weights, *n.weights), n.weights->quant, OC, ICG,
                                                 w.kernel_h, w.kernel_w, ICG > 1);
    std::vector<float> bias(static_cast<size_t>(OC), 0.f);
    if (n.bias) bias = tensor_values(model_.weights, *n.bias);
    // oneDNN's source zero point costs 5-35% of a pointwise convolution's time (MobileNetV2's expansions read
    // the projections' zero points). Without padding every tap reads a real input, so sum(w * (x - zp)) =
    // sum(w * x) - zp * sum(w) and the constant joins the bias. (Padding reads integer 0, not zp.)
    const bool fold_zero_point = xq.zero_point != 0 && w.pad_t == 0 && w.pad_l == 0 && w.pad_b == 0 && w.pad_r == 0;
    const int64_t taps = ICG * w.kernel_h * w.kernel_w;
    std::vector<float> scales(static_cast<size_t>(OC));
    for (int64_t c = 0; c < OC; ++c) {
        const float acc_unit = xq.scale * qw.scales[c];  // one step of the int32 accumulator, in real units
        scales[c] = acc_unit / epi->unit;
        double b = double(bias[c]) / acc_unit;  // oneDNN adds the bias to the accumulator, before the output scales
        if (fold_zero_point) {
            const int8_t* wc = qw.values.data() + c * taps;
            b -= double(xq.zero_point) * double(std::accumulate(wc, wc + taps, int64_t{0}));
        }
        bias[c] = static_cast<float>(b);
    }

    const memory::dims weights_dims = G > 1 ? memory::dims{G, OC / G, ICG, w.kernel_h, w.kernel_w}
                                            : memory::dims{OC, IC, w.kernel_h, w.kernel_w};
    const memory::desc bias_md({OC}, dt::f32, tag::a);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_output_scales(1 << 1, scales);  // per output channel: dimension 1 of dst
    if (xq.zero_point != 0 && !fold_zero_point) attr.set_zero_points(DNNL_ARG_SRC, 0, {xq.zero_point});
    if (epi->dst.zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {epi->dst.zero_point});
    attr.set_post_ops(to_post_ops(epi->chain));
    dnnl::convolution_forward::primitive_desc pd;
    try {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, algorithm::convolution_direct,
                                          int8_md(xs, xq.dt), memory::desc(weights_dims, dt::s8, tag::any), bias_md,
                                          int8_md(os, epi->dst.dt), {w.stride_h, w.stride_w},
                                          {w.dilation_h - 1, w.dilation_w - 1}, {w.pad_t, w.pad_l}, {w.pad_b, w.pad_r});
        pd = dnnl::convolution_forward::primitive_desc(d, attr, engine_);
        // On AVX-512 VNNI oneDNN 2.6 lists its brgemm kernels first (brgconv_1x1, brdgmm_dw); its older jit_int8
        // kernels, further down the list, measured faster on MobileNetV2's shapes: depthwise 0-17% per layer
        // (batch 1 and 16, one and two threads), pointwise 10% over all 14 shapes at batch 1 with two threads and
        // 5.5% at batch 2 with one (docs/performance.md). So the first jit_int8 kernel offered is taken.
        dnnl::convolution_forward::primitive_desc alt(d, attr, engine_);
        while (std::strncmp(alt.impl_info_str(), "jit_int8", 8) != 0 && alt.next_impl()) {
        }
        if (std::strncmp(alt.impl_info_str(), "jit_int8", 8) == 0) pd = alt;
    } catch (const dnnl::error&) {
        return false;
    }
    if (is_reference_impl(pd.impl_info_str())) return false;

    const View src = ensure(n.inputs[0], pd.src_desc());
    const View dst = add ? values_[skip].view : new_view(pd.dst_desc());
    std::unordered_map<int, memory> fixed;
    memory user_weights(memory::desc(weights_dims, dt::s8, G > 1 ? tag::goihw : tag::oihw), engine_,
                        const_cast<int8_t*>(qw.values.data()));
    memory weights(pd.weights_desc(), engine_);
    dnnl::reorder(user_weights, weights).execute(stream_, user_weights, weights);
    stream_.wait();
    fixed[DNNL_ARG_WEIGHTS] = weights;
    fixed[DNNL_ARG_BIAS] = constant_f32(bias, pd.bias_desc());
    follower_ = follower;
    add_step(dnnl::convolution_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, std::move(fixed),
             add ? n.name + "+" + add->name : n.name, add ? "conv2d+add" : "conv2d", os, n.macs * options_.batch);
    if (add) {
        values_[skip].copies.clear();  // the skip's other forms no longer hold its value
        values_[add->output].view = dst;
        fused_[add_index] = true;
    } else if (follower) {
        values_[follower->output].view = dst;  // the convolution's own output exists only inside the kernel
        fused_[index + 1] = true;
    } else {
        values_[n.output].view = dst;
    }
    follower_ = nullptr;
    return true;
}

}  // namespace mnet
