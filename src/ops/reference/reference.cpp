// SPDX-License-Identifier: Apache-2.0
// Every op of models/FORMAT.md as the most literal loop nest that computes it. Indices are spelled out rather than
// strength-reduced so that each kernel can be checked against the spec by reading it.
#include "ops/reference/reference.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "core/shape.h"
#include "mnet/error.h"
#include "graph/loader.h"

namespace mnet::reference {

namespace {

constexpr size_t kRank4 = 4;

// A graph value's shape at batch `batch`: the graph infers every shape at batch 1.
Shape batched(const Shape& graph_shape, int64_t batch) {
    Shape s = graph_shape;
    s[0] = batch;
    return s;
}

size_t at4(const Shape& s, int64_t n, int64_t c, int64_t h, int64_t w) {
    return static_cast<size_t>(((n * s[1] + c) * s[2] + h) * s[3] + w);
}

std::vector<float> weights_of(const Model::Impl& impl, const TensorDef* t) {
    return t ? tensor_values(impl.weights, *t) : std::vector<float>{};
}

// dst[n, oc, oh, ow] = bias[oc] + sum over the group's input channels and the kernel window of src * weights.
// Output channel oc belongs to group oc / (OC/G) and reads input channels g*(C/G) .. (g+1)*(C/G)-1; for a depthwise
// convolution (G = C) that is input channel oc / multiplier, TensorFlow's order.
void conv2d(const Tensor& src, const std::vector<float>& weights, const std::vector<float>& bias, const Node& n,
            Tensor& dst) {
    const Window& w = n.window;
    const int64_t N = src.shape[0], C = src.shape[1], H = src.shape[2], W = src.shape[3];
    const int64_t OC = dst.shape[1], OH = dst.shape[2], OW = dst.shape[3];
    const int64_t G = n.groups, ICG = C / G, OCG = OC / G, KH = w.kernel_h, KW = w.kernel_w;
    for (int64_t b = 0; b < N; ++b) {
        for (int64_t oc = 0; oc < OC; ++oc) {
            const int64_t g = oc / OCG;
            for (int64_t oh = 0; oh < OH; ++oh) {
                for (int64_t ow = 0; ow < OW; ++ow) {
                    double acc = bias.empty() ? 0.0 : static_cast<double>(bias[static_cast<size_t>(oc)]);
                    for (int64_t ic = 0; ic < ICG; ++ic) {
                        const int64_t c = g * ICG + ic;
                        for (int64_t kh = 0; kh < KH; ++kh) {
                            const int64_t ih = oh * w.stride_h - w.pad_t + kh * w.dilation_h;
                            if (ih < 0 || ih >= H) continue;  // zero padding
                            for (int64_t kw = 0; kw < KW; ++kw) {
                                const int64_t iw = ow * w.stride_w - w.pad_l + kw * w.dilation_w;
                                if (iw < 0 || iw >= W) continue;
                                const size_t wi = static_cast<size_t>(((oc * ICG + ic) * KH + kh) * KW + kw);
                                acc += static_cast<double>(src.data[at4(src.shape, b, c, ih, iw)]) *
                                       static_cast<double>(weights[wi]);
                            }
                        }
                    }
                    dst.data[at4(dst.shape, b, oc, oh, ow)] = static_cast<float>(acc);
                }
            }
        }
    }
}

// dst[n, o] = bias[o] + sum_k src[n, k] * weights[o, k], with k running over the image in NCHW order.
void fully_connected(const Tensor& src, const std::vector<float>& weights, const std::vector<float>& bias,
                     Tensor& dst) {
    const int64_t N = src.shape[0], K = src.numel() / N, OC = dst.shape[1];
    for (int64_t b = 0; b < N; ++b) {
        for (int64_t o = 0; o < OC; ++o) {
            double acc = bias.empty() ? 0.0 : static_cast<double>(bias[static_cast<size_t>(o)]);
            for (int64_t k = 0; k < K; ++k) {
                acc += static_cast<double>(src.data[static_cast<size_t>(b * K + k)]) *
                       static_cast<double>(weights[static_cast<size_t>(o * K + k)]);
            }
            dst.data[static_cast<size_t>(b * OC + o)] = static_cast<float>(acc);
        }
    }
}

// numpy broadcasting: shapes aligned at the right, a dim of 1 repeats. Returns the broadcast shape.
Shape broadcast_shape(const Shape& a, const Shape& b, const std::string& at) {
    const size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (size_t i = 0; i < rank; ++i) {
        const int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
        const int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
        if (da != db && da != 1 && db != 1) {
            throw Error(ErrorCode::InvalidArgument,
                        at + ": operands " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
        }
        out[i] = std::max(da, db);
    }
    return out;
}

// The flat index into an operand of shape `s` (right-aligned within `out`) of the output element `coord`.
size_t broadcast_index(const Shape& s, const Shape& out, const std::vector<int64_t>& coord) {
    const size_t offset = out.size() - s.size();
    int64_t index = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const int64_t c = s[i] == 1 ? 0 : coord[i + offset];
        index = index * s[i] + c;
    }
    return static_cast<size_t>(index);
}

void binary(const Tensor& a, const Tensor& b, bool is_mul, Tensor& dst) {
    std::vector<int64_t> coord(dst.shape.size(), 0);
    for (size_t i = 0; i < dst.data.size(); ++i) {
        // coord = the multi-index of flat output element i
        int64_t rest = static_cast<int64_t>(i);
        for (size_t d = dst.shape.size(); d-- > 0;) {
            coord[d] = rest % dst.shape[d];
            rest /= dst.shape[d];
        }
        const double x = a.data[broadcast_index(a.shape, dst.shape, coord)];
        const double y = b.data[broadcast_index(b.shape, dst.shape, coord)];
        dst.data[i] = static_cast<float>(is_mul ? x * y : x + y);
    }
}

// Average over the window positions inside the image only (TensorFlow: padding is not counted); the maximum over
// the positions inside the image only (padding never wins, even against negative values).
void pool(const Tensor& src, const Window& w, bool is_max, Tensor& dst) {
    const int64_t N = src.shape[0], C = src.shape[1], H = src.shape[2], W = src.shape[3];
    const int64_t OH = dst.shape[2], OW = dst.shape[3];
    for (int64_t b = 0; b < N; ++b) {
        for (int64_t c = 0; c < C; ++c) {
            for (int64_t oh = 0; oh < OH; ++oh) {
                for (int64_t ow = 0; ow < OW; ++ow) {
                    double sum = 0.0, best = -std::numeric_limits<double>::infinity();
                    int64_t count = 0;
                    for (int64_t kh = 0; kh < w.kernel_h; ++kh) {
                        const int64_t ih = oh * w.stride_h - w.pad_t + kh;
                        if (ih < 0 || ih >= H) continue;
                        for (int64_t kw = 0; kw < w.kernel_w; ++kw) {
                            const int64_t iw = ow * w.stride_w - w.pad_l + kw;
                            if (iw < 0 || iw >= W) continue;
                            const double v = src.data[at4(src.shape, b, c, ih, iw)];
                            sum += v;
                            best = std::max(best, v);
                            ++count;
                        }
                    }
                    if (count == 0) {
                        throw Error(ErrorCode::Internal, "reference pool: a window sees only padding");
                    }
                    dst.data[at4(dst.shape, b, c, oh, ow)] =
                        static_cast<float>(is_max ? best : sum / static_cast<double>(count));
                }
            }
        }
    }
}

void global_avg_pool(const Tensor& src, Tensor& dst) {
    const int64_t N = src.shape[0], C = src.shape[1], HW = src.shape[2] * src.shape[3];
    for (int64_t b = 0; b < N; ++b) {
        for (int64_t c = 0; c < C; ++c) {
            double sum = 0.0;
            for (int64_t i = 0; i < HW; ++i) sum += src.data[static_cast<size_t>((b * C + c) * HW + i)];
            dst.data[static_cast<size_t>(b * C + c)] = static_cast<float>(sum / static_cast<double>(HW));
        }
    }
}

// Softmax over C of [N, C] or [N, C, 1, 1], shifted by the maximum so that exp never overflows.
void softmax(const Tensor& src, Tensor& dst) {
    const int64_t N = src.shape[0], C = src.numel() / N;
    for (int64_t b = 0; b < N; ++b) {
        const float* x = src.data.data() + b * C;
        float* y = dst.data.data() + b * C;
        const double top = *std::max_element(x, x + C);
        double sum = 0.0;
        for (int64_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(x[c]) - top);
        for (int64_t c = 0; c < C; ++c) y[c] = static_cast<float>(std::exp(static_cast<double>(x[c]) - top) / sum);
    }
}

// Rounds every value to the grid of `q` (per tensor, u8 or s8) and clamps it to the representable range.
void fake_quantize(const std::optional<QuantParams>& q, Tensor& t) {
    const std::optional<QuantRange> range = q ? quant_range(q->dtype) : std::nullopt;
    if (!range || q->axis >= 0 || q->scale.size() != 1) return;
    const double s = q->scale[0], zp = static_cast<double>(q->zero_point[0]);
    const double lo = range->lo, hi = range->hi;
    for (float& v : t.data) {
        const double k = std::min(std::max(std::nearbyint(static_cast<double>(v) / s) + zp, lo), hi);
        v = static_cast<float>((k - zp) * s);
    }
}


// What a kernel reads: the node, every value computed so far, the weights.
struct Args {
    const Model::Impl& impl;
    const Node& n;
    const std::vector<Tensor>& values;
    const std::string& at;  // "reference: node '...'", for messages

    const Tensor& src(size_t i = 0) const { return values[static_cast<size_t>(n.inputs[i])]; }
};

void conv2d_kernel(const Args& a, Tensor& dst) {
    conv2d(a.src(), weights_of(a.impl, a.n.weights), weights_of(a.impl, a.n.bias), a.n, dst);
}

void fully_connected_kernel(const Args& a, Tensor& dst) {
    fully_connected(a.src(), weights_of(a.impl, a.n.weights), weights_of(a.impl, a.n.bias), dst);
}

void binary_kernel(const Args& a, Tensor& dst) {
    const Tensor& x = a.src();
    Tensor b;
    if (a.n.constant) {
        b.shape = a.n.constant->shape;  // a constant has no batch: it broadcasts over it
        b.data = weights_of(a.impl, a.n.constant);
    } else {
        b = a.src(1);
    }
    // At batch N an operand of lower rank than the output would align its batch dim elsewhere: refuse what
    // FORMAT.md leaves undefined instead of guessing.
    if (broadcast_shape(x.shape, b.shape, a.at) != dst.shape) {
        throw Error(ErrorCode::Unsupported, a.at + ": operands " + shape_str(x.shape) + " and " + shape_str(b.shape) +
                                                " do not broadcast to " + shape_str(dst.shape) + " at batch " +
                                                std::to_string(dst.shape[0]));
    }
    binary(x, b, a.n.op == OpKind::Mul, dst);
}

// activation (the function itself is n.activation, applied by run_all), identity, and reshape (NCHW element
// order is kept; only the shape changes).
void copy_kernel(const Args& a, Tensor& dst) { dst.data = a.src().data; }

void pool_kernel(const Args& a, Tensor& dst) { pool(a.src(), a.n.window, a.n.op == OpKind::MaxPool, dst); }
void global_avg_pool_kernel(const Args& a, Tensor& dst) { global_avg_pool(a.src(), dst); }
void softmax_kernel(const Args& a, Tensor& dst) { softmax(a.src(), dst); }

// dst[n, c, h + t, w + l] = src[n, c, h, w]; every other element 0.
void pad_kernel(const Args& a, Tensor& dst) {
    const Tensor& src = a.src();
    const Window& p = a.n.window;
    std::fill(dst.data.begin(), dst.data.end(), 0.0f);
    for (int64_t b = 0; b < src.shape[0]; ++b) {
        for (int64_t c = 0; c < src.shape[1]; ++c) {
            for (int64_t h = 0; h < src.shape[2]; ++h) {
                for (int64_t w = 0; w < src.shape[3]; ++w) {
                    dst.data[at4(dst.shape, b, c, h + p.pad_t, w + p.pad_l)] = src.data[at4(src.shape, b, c, h, w)];
                }
            }
        }
    }
}

struct Kernel {
    OpKind kind;
    void (*run)(const Args& args, Tensor& dst);  // dst comes sized; the node's activation and saturation follow
};

constexpr std::array<Kernel, kOpCount> kKernels = {{
    {OpKind::Conv2d, conv2d_kernel},
    {OpKind::FullyConnected, fully_connected_kernel},
    {OpKind::Add, binary_kernel},
    {OpKind::Mul, binary_kernel},
    {OpKind::Activation, copy_kernel},
    {OpKind::Identity, copy_kernel},
    {OpKind::AvgPool, pool_kernel},
    {OpKind::MaxPool, pool_kernel},
    {OpKind::GlobalAvgPool, global_avg_pool_kernel},
    {OpKind::Reshape, copy_kernel},
    {OpKind::Softmax, softmax_kernel},
    {OpKind::Pad, pad_kernel},
}};

constexpr bool kernels_in_kind_order() {
    for (size_t i = 0; i < kKernels.size(); ++i) {
        if (static_cast<size_t>(kKernels[i].kind) != i) return false;
    }
    return true;
}
static_assert(kernels_in_kind_order(), "kKernels: one row per OpKind, in enum order");

}  // namespace

double activate(Activation act, double x) {
    auto clamp = [](double v, double lo, double hi) { return std::min(std::max(v, lo), hi); };
    switch (act) {
        case Activation::None: return x;
        case Activation::Relu: return std::max(x, 0.0);
        case Activation::Relu6: return clamp(x, 0.0, 6.0);
        case Activation::ReluN1To1: return clamp(x, -1.0, 1.0);
        case Activation::HardSwish: return x * clamp(x + 3.0, 0.0, 6.0) / 6.0;
        case Activation::HardSigmoid: return clamp(x + 3.0, 0.0, 6.0) / 6.0;
        case Activation::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    }
    throw Error(ErrorCode::Internal, "reference: unknown activation");
}

std::vector<Tensor> run_all(const Model& model, const Tensor& src, bool fake_quant) {
    const Model::Impl& impl = model_impl(model);
    const Graph& g = impl.graph;
    const Shape& in_shape = g.values[static_cast<size_t>(g.input)].shape;
    if (src.shape.size() != in_shape.size() || src.shape[0] < 1 ||
        !std::equal(in_shape.begin() + 1, in_shape.end(), src.shape.begin() + 1) ||
        src.numel() != shape_numel(src.shape)) {
        throw Error(ErrorCode::InvalidArgument, "reference::run: input shape " + shape_str(src.shape) +
                                                    ", expected [N" + shape_str(in_shape).substr(2));
    }
    const int64_t batch = src.shape[0];

    std::vector<Tensor> values(g.values.size());
    values[static_cast<size_t>(g.input)] = src;
    std::map<std::string, const std::optional<QuantParams>*> node_quant;  // by output name
    if (fake_quant) {
        fake_quantize(impl.def.input.quant, values[static_cast<size_t>(g.input)]);
        for (const NodeDef& nd : impl.def.nodes) node_quant[nd.output] = &nd.dst_quant;
    }
    for (const Node& n : g.nodes) {
        const std::string at = "reference: node '" + n.name + "'";
        Tensor dst(batched(g.values[static_cast<size_t>(n.output)].shape, batch));
        kKernels[static_cast<size_t>(n.op)].run(Args{impl, n, values, at}, dst);
        if (dst.shape.size() > kRank4 || dst.data.size() != static_cast<size_t>(shape_numel(dst.shape))) {
            throw Error(ErrorCode::Internal, at + ": produced a malformed tensor");
        }
        for (float& v : dst.data) {
            double y = activate(n.activation, v);
            if (n.saturate) y = std::min(std::max(y, static_cast<double>(n.saturate->lo)),
                                         static_cast<double>(n.saturate->hi));
            v = static_cast<float>(y);
        }
        if (fake_quant) fake_quantize(*node_quant.at(g.values[static_cast<size_t>(n.output)].name), dst);
        values[static_cast<size_t>(n.output)] = std::move(dst);
    }
    return values;
}

std::vector<Tensor> run(const Model& model, const Tensor& src, bool fake_quant) {
    std::vector<Tensor> values = run_all(model, src, fake_quant);
    std::vector<Tensor> outputs;
    for (int id : model_impl(model).graph.outputs) outputs.push_back(values[static_cast<size_t>(id)]);
    return outputs;
}

}  // namespace mnet::reference
