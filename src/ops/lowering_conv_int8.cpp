// SPDX-License-Identifier: Apache-2.0
// A convolution on integers, in three decisions: the epilogue (what follows the accumulation: the model's
// requantization, and a residual sum or an activation node the fusion pass grouped with it), the parameters
// (s8 weights, per-channel output scales, and the bias with the source zero point folded in), and the
// implementation (oneDNN's jit_int8 kernels preferred).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "ops/lowering_int8.h"
#include "ops/quantize.h"

namespace mnet {

using dnnl::algorithm;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;
using namespace int8;

// What a convolution's epilogue computes: output scales s_x * s_w / unit, then `chain`, into `dst`'s integers;
// with the nodes it absorbs.
struct Int8Epilogue {
    float unit = 1.f;
    std::vector<PostOp> chain;
    ActQuant dst;
    const Node* add = nullptr;       // a residual add summed in place into its skip
    int skip = -1;
    const Node* follower = nullptr;  // an activation node run as post-ops
};

namespace {

// The convolution's own activation and requantization to `y`.
std::optional<Int8Epilogue> plain_epilogue(Activation act, const ActQuant& y) {
    Int8Epilogue e;
    e.dst = y;
    if (const auto bounds = clip_bounds(act)) {
        // Clipping commutes with scaling: compute in units of y's step and let the conversion add the zero point.
        e.unit = y.scale;
        // The conversion adds the zero point, rounds and saturates: a bound beyond which every value would round
        // to the saturation limit anyway is left out (TFLite's ReLU6 on u8 [0, 6], ReLU on zero point 0), which
        // saves a post-op per element (docs/performance.md).
        const float lo = bounds->first / y.scale, hi = bounds->second / y.scale, zp = float(y.zero_point);
        const bool need_lo = lo + zp >= float(qmin(y.dt)) + 0.5f;
        const bool need_hi = hi + zp <= float(qmax(y.dt)) - 0.5f;
        if (need_lo || need_hi) {
            e.chain.push_back({false, algorithm::eltwise_clip, need_lo ? lo : finite(-INFINITY),
                               need_hi ? hi : finite(INFINITY), 1.f, 0});
        }
        // Round before the conversion adds the zero point, as TFLite and ONNX Runtime do: in float, v + zp
        // rounds to a half step when v is within float precision of one (v = -15.5000019 + 141 = 125.5 exactly,
        // then 126 where they give 125), and such flips grow through the following layers.
        if (zp != 0.f) e.chain.push_back({false, algorithm::eltwise_round, 0.f, 0.f, 1.f, 0});
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
std::optional<Int8Epilogue> emulated_epilogue(Activation act, const ActQuant& y, float scale) {
    const auto bounds = clip_bounds(act);
    if (!bounds) return std::nullopt;
    Int8Epilogue e;
    e.unit = y.scale;
    const float lo = std::max(std::nearbyint(finite(bounds->first / y.scale)), float(qmin(y.dt) - y.zero_point));
    const float hi = std::min(std::nearbyint(finite(bounds->second / y.scale)), float(qmax(y.dt) - y.zero_point));
    e.chain.push_back({false, algorithm::eltwise_round, 0.f, 0.f, 1.f, 0});
    e.chain.push_back({false, algorithm::eltwise_clip, lo, hi, scale, 0});
    return e;
}

// Relative difference under which two scales are one float32 value computed two ways (float vs double products).
constexpr double kSameScale = 1e-6;

// The scale of channel c's bias integers when the source stored the bias as int32 (TFLite, ONNX QLinearConv/QDQ).
std::optional<double> bias_grid(const Node& n, int64_t c) {
    if (!n.bias || !n.bias->quant || n.bias->quant->dtype != DType::S32) return std::nullopt;
    const auto& scale = n.bias->quant->scale;
    return scale.size() == 1 ? scale[0] : scale.at(static_cast<size_t>(c));
}

// The convolution's parameters as the int8 primitive takes them.
struct Int8Params {
    QuantizedWeights weights;   // s8, per output channel
    std::vector<float> bias;    // in accumulator units
    std::vector<float> scales;  // per output channel: accumulator to the epilogue's unit
    bool zero_point_folded = false;
};

// oneDNN's source zero point costs a pointwise convolution much of its time (docs/performance.md; MobileNetV2's
// expansions read the projections' zero points). Without padding every tap reads a real input, so
// sum(w * (x - zp)) = sum(w * x) - zp * sum(w) and the constant joins the bias. (Padding reads integer 0, not zp.)
Int8Params fold_params(const Model::Impl& model, const Node& n, int64_t OC, int64_t ICG, const ActQuant& xq,
                       float unit) {
    const Window& w = n.window;
    Int8Params p;
    // Read in place (quantize.h says why): the loader has checked that the range holds the tensor's f32 values, at
    // an offset that is a multiple of the alignment (>= 16) in a page-aligned buffer, so the floats are aligned.
    const TensorDef& wt = *n.weights;
    p.weights = quantize_weights(reinterpret_cast<const float*>(model.weights.data() + wt.offset),
                                 wt.nbytes / sizeof(float), wt.quant, OC, ICG, w.kernel_h, w.kernel_w,
                                 ICG > 1 && !vnni_kernels());
    p.bias.assign(static_cast<size_t>(OC), 0.f);
    if (n.bias) p.bias = tensor_values(model.weights, *n.bias);
    p.zero_point_folded = xq.zero_point != 0 && w.pad_t == 0 && w.pad_l == 0 && w.pad_b == 0 && w.pad_r == 0;
    const int64_t taps = ICG * w.kernel_h * w.kernel_w;
    p.scales.resize(static_cast<size_t>(OC));
    for (int64_t c = 0; c < OC; ++c) {
        const float acc_unit = xq.scale * p.weights.scales[c];  // one step of the int32 accumulator, in real units
        p.scales[c] = acc_unit / unit;
        double b = double(p.bias[c]) / acc_unit;  // oneDNN adds the bias to the accumulator, before the output scales
        if (const auto grid = bias_grid(n, c); grid && std::abs(*grid - acc_unit) <= kSameScale * acc_unit) {
            // The source's int32 bias on this accumulator's grid: its integer exactly, as the source runtime adds
            // it. b above is off by float rounding (~1e-7 of b), which moves outputs that sit on a half step.
            b = std::nearbyint(double(p.bias[c]) / *grid);
        }
        if (p.zero_point_folded) {
            const int8_t* wc = p.weights.values.data() + c * taps;
            b -= double(xq.zero_point) * double(std::accumulate(wc, wc + taps, int64_t{0}));
        }
        p.bias[c] = static_cast<float>(b);
    }
    return p;
}

// The implementation: on AVX-512 VNNI oneDNN 2.6 lists its brgemm kernels first (brgconv_1x1, brdgmm_dw); its
// older jit_int8 kernels, further down the list, measured faster on MobileNetV2's shapes (docs/performance.md;
// re-checked on an Intel AMX machine, where brgconv AMX int8 + brdgmm_dw was slower at batch 1). So the first
// jit_int8 kernel offered is taken, else oneDNN's first choice. Throws dnnl::error when there is none.
dnnl::convolution_forward::primitive_desc pick_implementation(const dnnl::convolution_forward::desc& d,
                                                              const dnnl::primitive_attr& attr,
                                                              const dnnl::engine& engine) {
    dnnl::convolution_forward::primitive_desc pd(d, attr, engine);
    do {
        if (std::strncmp(pd.impl_info_str(), "jit_int8", 8) == 0) return pd;
    } while (pd.next_impl());
    // next_impl() cannot go back, so the first choice is made again: only when no jit_int8 kernel is offered
    // (a primitive descriptor is built once per convolution in the common case, not twice).
    return dnnl::convolution_forward::primitive_desc(d, attr, engine);
}

}  // namespace

// The epilogue: a residual sum or the activation node the fusion pass grouped with the convolution, when their
// chains can be built without repeating an eltwise algorithm (oneDNN 2.6 computes those wrongly); else the
// convolution's own. Either way the convolution's output is first rounded and saturated exactly as the model's
// intermediate tensor would be. Nothing is committed.
std::optional<Int8Epilogue> Lowering::conv2d_int8_epilogue(const Node& n, size_t index) const {
    const ActQuant yq = *act_quant_[n.output];
    const int add_index = fusions_[index].residual_add;
    if (add_index >= 0 && residual_buffer_free(index, add_index)) {
        const Node& a = graph_.nodes[static_cast<size_t>(add_index)];
        const int skip = residual_skip(a, n.output);
        const auto& oq = act_quant_[a.output];
        const auto& bq = act_quant_[skip];
        // In place: the skip's integers are the destination, so the sum reads them in the add's output type.
        if (oq && bq && oq->dt == bq->dt && values_[skip].view.md == int8_md(values_[n.output].shape, bq->dt) &&
            (a.activation == Activation::None || a.activation == Activation::Relu)) {
            auto epi = emulated_epilogue(n.activation, yq, yq.scale / oq->scale);
            if (epi) {
                PostOp sum;
                sum.sum = true;
                sum.scale = bq->scale / oq->scale;
                sum.zero_point = bq->zero_point;
                epi->chain.push_back(sum);
                if (a.activation == Activation::Relu) epi->chain.push_back({false, algorithm::eltwise_relu, 0.f, 0.f, 1.f, 0});
                epi->dst = *oq;
                epi->add = &a;
                epi->skip = skip;
                if (!has_repeated_algorithm(epi->chain)) return epi;
            }
        }
    }
    // An identity after the convolution is a requantization, which this epilogue has no use for.
    const int next_index = fusions_[index].activation;
    if (next_index >= 0 && graph_.nodes[static_cast<size_t>(next_index)].op == OpKind::Activation &&
        act_quant_[graph_.nodes[static_cast<size_t>(next_index)].output]) {
        const Node& next = graph_.nodes[static_cast<size_t>(next_index)];
        const ActQuant zq = *act_quant_[next.output];
        auto epi = emulated_epilogue(n.activation, yq, yq.scale);
        const auto tail = epi ? requantize_chain(next.activation, 0.f, ActQuant{zq.dt, zq.scale, 0}) : std::nullopt;
        if (tail) {
            epi->chain.insert(epi->chain.end(), tail->begin(), tail->end());
            epi->dst = zq;
            epi->follower = &next;
            if (!has_repeated_algorithm(epi->chain)) return epi;
        }
    }
    return plain_epilogue(n.activation, yq);
}

bool Lowering::conv2d_int8(const Node& n, size_t index) {
    const std::optional<Int8Epilogue> epi = conv2d_int8_epilogue(n, index);
    if (!epi) return false;
    const ActQuant xq = *act_quant_[n.inputs[0]];
    const Shape& xs = values_[n.inputs[0]].shape;
    const Shape& os = values_[n.output].shape;
    const Window& w = n.window;
    const int64_t G = n.groups, OC = os[1], IC = xs[1], ICG = IC / G;
    const Int8Params p = fold_params(model_, n, OC, ICG, xq, epi->unit);

    const memory::dims weights_dims = G > 1 ? memory::dims{G, OC / G, ICG, w.kernel_h, w.kernel_w}
                                            : memory::dims{OC, IC, w.kernel_h, w.kernel_w};
    const memory::desc bias_md({OC}, dt::f32, tag::a);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_output_scales(1 << 1, p.scales);  // per output channel: dimension 1 of dst
    if (xq.zero_point != 0 && !p.zero_point_folded) attr.set_zero_points(DNNL_ARG_SRC, 0, {xq.zero_point});
    if (epi->dst.zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {epi->dst.zero_point});
    attr.set_post_ops(to_post_ops(epi->chain));
    dnnl::convolution_forward::primitive_desc pd;
    try {
        const dnnl::convolution_forward::desc d(
            dnnl::prop_kind::forward_inference, algorithm::convolution_direct, int8_md(xs, xq.dt),
            memory::desc(weights_dims, dt::s8, tag::any), bias_md, int8_md(os, epi->dst.dt), {w.stride_h, w.stride_w},
            {w.dilation_h - 1, w.dilation_w - 1}, {w.pad_t, w.pad_l}, {w.pad_b, w.pad_r});
        pd = pick_implementation(d, attr, engine_);
    } catch (const dnnl::error&) {
        return false;
    }
    if (is_reference_impl(pd.impl_info_str())) return false;

    const View src = ensure(n.inputs[0], pd.src_desc());
    const View dst = epi->add ? values_[epi->skip].view : new_view(pd.dst_desc());
    std::unordered_map<int, memory> fixed;
    memory user_weights(memory::desc(weights_dims, dt::s8, G > 1 ? tag::goihw : tag::oihw), engine_,
                        const_cast<int8_t*>(p.weights.values.data()));
    memory weights(pd.weights_desc(), engine_);
    dnnl::reorder(user_weights, weights).execute(stream_, user_weights, weights);
    stream_.wait();
    fixed[DNNL_ARG_WEIGHTS] = weights;
    fixed[DNNL_ARG_BIAS] = constant_f32(p.bias, pd.bias_desc());
    add_step(dnnl::convolution_forward(pd), pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, std::move(fixed),
             epi->add ? n.name + "+" + epi->add->name : joined_name(n, epi->follower),
             epi->add ? "conv2d+add" : joined_op("conv2d", epi->follower), os, n.macs * options_.batch);
    if (epi->add) {
        values_[epi->skip].copies.clear();  // the skip's other forms no longer hold its value
        values_[epi->add->output].view = dst;
        lowered_[static_cast<size_t>(fusions_[index].residual_add)] = true;
    } else if (epi->follower) {
        values_[epi->follower->output].view = dst;  // the convolution's own output exists only inside the kernel
        lowered_[static_cast<size_t>(fusions_[index].activation)] = true;
    } else {
        values_[n.output].view = dst;
    }
    return true;
}

}  // namespace mnet
