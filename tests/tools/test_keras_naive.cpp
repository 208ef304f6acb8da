// SPDX-License-Identifier: Apache-2.0
// The naive NHWC reference for the test models (test_keras_support.h): each Keras layer written directly from its
// definition, in double, on channels_last arrays and Keras' own kernel layouts. Nothing here knows mnet's format.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>

#include "test_keras_support.h"

namespace mnet::test::keras {

namespace {

int64_t at2(const json& cfg, const char* key, size_t i, int64_t fallback) {
    if (!cfg.contains(key) || cfg[key].is_null()) return fallback;
    return cfg[key].is_array() ? cfg[key][i].get<int64_t>() : cfg[key].get<int64_t>();
}

const Array& weight(const Layer& l, const std::string& name) {
    for (const auto& [n, a] : l.weights) {
        if (n == name) return a;
    }
    throw std::runtime_error(l.name + ": no weight " + name);
}

// TensorFlow: output ceil(in / s) for SAME, floor((in - extent) / s) + 1 for VALID; SAME pads total/2 on top.
void window(int64_t in, int64_t k, int64_t s, int64_t d, bool same, int64_t& out, int64_t& before) {
    const int64_t extent = (k - 1) * d + 1;
    out = same ? (in + s - 1) / s : (in - extent) / s + 1;
    before = same ? std::max<int64_t>((out - 1) * s + extent - in, 0) / 2 : 0;
}

double act(const std::string& kind, double x) {
    if (kind == "linear") return x;
    if (kind == "relu") return std::max(x, 0.0);
    if (kind == "relu6") return std::min(std::max(x, 0.0), 6.0);
    if (kind == "sigmoid") return 1.0 / (1.0 + std::exp(-x));
    if (kind == "hard_sigmoid") return std::min(std::max(0.2 * x + 0.5, 0.0), 1.0);  // Keras 2 / TF.js
    if (kind == "swish") return x / (1.0 + std::exp(-x));
    if (kind == "hard_swish") return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
    throw std::runtime_error("naive: activation " + kind);
}

Array activate(Array a, const std::string& kind) {
    if (kind == "softmax") {  // over the last axis
        const size_t n = size_t(a.shape.back());
        for (size_t base = 0; base < a.v.size(); base += n) {
            const double m = *std::max_element(a.v.begin() + long(base), a.v.begin() + long(base + n));
            double sum = 0;
            for (size_t i = 0; i < n; ++i) sum += (a.v[base + i] = std::exp(a.v[base + i] - m));
            for (size_t i = 0; i < n; ++i) a.v[base + i] /= sum;
        }
        return a;
    }
    for (double& x : a.v) x = act(kind, x);
    return a;
}

// A grouped convolution on x [H, W, C] with kernel [KH, KW, C/G, F]; `depthwise` reads kernel [KH, KW, C, M].
Array conv(const Array& x, const Array& k, const json& cfg, bool depthwise) {
    const int64_t H = x.shape[0], W = x.shape[1], C = x.shape[2], KH = k.shape[0], KW = k.shape[1];
    const int64_t sh = at2(cfg, "strides", 0, 1), sw = at2(cfg, "strides", 1, 1);
    const int64_t dh = at2(cfg, "dilation_rate", 0, 1), dw = at2(cfg, "dilation_rate", 1, 1);
    const bool same = cfg.value("padding", "valid") == "same";
    int64_t OH, OW, pt, pl;
    window(H, KH, sh, dh, same, OH, pt);
    window(W, KW, sw, dw, same, OW, pl);
    const int64_t M = depthwise ? k.shape[3] : 1;
    const int64_t F = depthwise ? C * M : k.shape[3];
    const int64_t G = depthwise ? C : cfg.value("groups", 1);
    const int64_t CG = C / G, FG = F / G;
    Array y{{OH, OW, F}, std::vector<double>(size_t(OH * OW * F), 0.0)};
    for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox)
            for (int64_t f = 0; f < F; ++f) {
                double sum = 0;
                const int64_t g = f / FG;
                for (int64_t ky = 0; ky < KH; ++ky)
                    for (int64_t kx = 0; kx < KW; ++kx) {
                        const int64_t iy = oy * sh + ky * dh - pt, ix = ox * sw + kx * dw - pl;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        if (depthwise) {
                            const int64_t c = f / M, m = f % M;
                            sum += x.v[size_t((iy * W + ix) * C + c)] * k.v[size_t(((ky * KW + kx) * C + c) * M + m)];
                        } else {
                            for (int64_t ci = 0; ci < CG; ++ci) {
                                sum += x.v[size_t((iy * W + ix) * C + g * CG + ci)] *
                                       k.v[size_t(((ky * KW + kx) * CG + ci) * F + f)];
                            }
                        }
                    }
                y.v[size_t((oy * OW + ox) * F + f)] = sum;
            }
    return y;
}

Array add_bias(Array y, const Layer& l) {
    if (!l.config.value("use_bias", true)) return y;
    const Array& b = weight(l, "bias");
    for (size_t i = 0; i < y.v.size(); ++i) y.v[i] += b.v[i % b.v.size()];
    return y;
}

Array pool(const Array& x, const json& cfg, bool average) {
    const int64_t H = x.shape[0], W = x.shape[1], C = x.shape[2];
    const int64_t kh = at2(cfg, "pool_size", 0, 2), kw = at2(cfg, "pool_size", 1, 2);
    const int64_t sh = at2(cfg, "strides", 0, kh), sw = at2(cfg, "strides", 1, kw);
    const bool same = cfg.value("padding", "valid") == "same";
    int64_t OH, OW, pt, pl;
    window(H, kh, sh, 1, same, OH, pt);
    window(W, kw, sw, 1, same, OW, pl);
    Array y{{OH, OW, C}, {}};
    for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox)
            for (int64_t c = 0; c < C; ++c) {
                double acc = average ? 0.0 : -INFINITY;
                int64_t n = 0;
                for (int64_t ky = 0; ky < kh; ++ky)
                    for (int64_t kx = 0; kx < kw; ++kx) {
                        const int64_t iy = oy * sh + ky - pt, ix = ox * sw + kx - pl;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;  // TF: padding never counts
                        const double v = x.v[size_t((iy * W + ix) * C + c)];
                        acc = average ? acc + v : std::max(acc, v);
                        ++n;
                    }
                y.v.push_back(average ? acc / double(n) : acc);
            }
    return y;
}

Array zero_pad(const Array& x, const json& cfg) {
    const json& p = cfg["padding"];
    int64_t t, b, l, r;
    if (p.is_number()) {
        t = b = l = r = p;
    } else if (p[0].is_number()) {
        t = b = p[0];
        l = r = p[1];
    } else {
        t = p[0][0], b = p[0][1], l = p[1][0], r = p[1][1];
    }
    const int64_t H = x.shape[0], W = x.shape[1], C = x.shape[2], OH = H + t + b, OW = W + l + r;
    Array y{{OH, OW, C}, std::vector<double>(size_t(OH * OW * C), 0.0)};
    for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j)
            for (int64_t c = 0; c < C; ++c) y.v[size_t(((i + t) * OW + j + l) * C + c)] = x.v[size_t((i * W + j) * C + c)];
    return y;
}

Array dense(const Array& x, const Layer& l) {
    const Array& k = weight(l, "kernel");
    const int64_t K = k.shape[0], U = k.shape[1];
    std::vector<int64_t> shape = x.shape;
    shape.back() = U;
    Array y{shape, {}};
    for (size_t base = 0; base < x.v.size(); base += size_t(K)) {  // Dense acts on the last axis
        for (int64_t u = 0; u < U; ++u) {
            double sum = 0;
            for (int64_t i = 0; i < K; ++i) sum += x.v[base + size_t(i)] * k.v[size_t(i * U + u)];
            y.v.push_back(sum);
        }
    }
    return activate(add_bias(y, l), l.config.value("activation", "linear"));
}

Array batch_norm(Array x, const Layer& l) {
    const Array &g = weight(l, "gamma"), &b = weight(l, "beta"), &m = weight(l, "moving_mean"),
                &v = weight(l, "moving_variance");
    const double eps = l.config.value("epsilon", 1e-3);
    const size_t C = g.v.size();
    for (size_t i = 0; i < x.v.size(); ++i) {
        const size_t c = i % C;
        x.v[i] = (x.v[i] - m.v[c]) / std::sqrt(v.v[c] + eps) * g.v[c] + b.v[c];
    }
    return x;
}

Array binary(const std::vector<Array>& in, bool add) {
    Array y = in[0];
    for (size_t k = 1; k < in.size(); ++k) {
        const Array& b = in[k];
        std::vector<int64_t> shape(y.shape.size());
        for (size_t d = 0; d < shape.size(); ++d) shape[d] = std::max(y.shape[d], b.shape[d]);
        Array out{shape, {}};
        const size_t rank = shape.size();
        std::vector<int64_t> idx(rank, 0);
        auto offset = [&](const Array& a) {
            int64_t off = 0;
            for (size_t d = 0; d < rank; ++d) off = off * a.shape[d] + (a.shape[d] == 1 ? 0 : idx[d]);
            return size_t(off);
        };
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        for (int64_t i = 0; i < n; ++i) {
            int64_t rest = i;
            for (size_t d = rank; d-- > 0;) idx[d] = rest % shape[d], rest /= shape[d];
            const double a = y.v[offset(y)], c = b.v[offset(b)];
            out.v.push_back(add ? a + c : a * c);
        }
        y = std::move(out);
    }
    return y;
}

Array run_layer(const Layer& l, const std::vector<Array>& in) {
    const json& c = l.config;
    const Array& x = in[0];
    if (l.cls == "Conv2D") return activate(add_bias(conv(x, weight(l, "kernel"), c, false), l), c.value("activation", "linear"));
    if (l.cls == "DepthwiseConv2D") {
        return activate(add_bias(conv(x, weight(l, "depthwise_kernel"), c, true), l), c.value("activation", "linear"));
    }
    if (l.cls == "SeparableConv2D") {
        const Array mid = conv(x, weight(l, "depthwise_kernel"), c, true);
        const json pointwise = {{"padding", "valid"}};
        return activate(add_bias(conv(mid, weight(l, "pointwise_kernel"), pointwise, false), l),
                        c.value("activation", "linear"));
    }
    if (l.cls == "BatchNormalization") return batch_norm(x, l);
    if (l.cls == "ReLU") return activate(x, c["max_value"].is_null() ? "relu" : "relu6");
    if (l.cls == "Activation") return activate(x, c["activation"]);
    if (l.cls == "Softmax") return activate(x, "softmax");
    if (l.cls == "MaxPooling2D") return pool(x, c, false);
    if (l.cls == "AveragePooling2D") return pool(x, c, true);
    if (l.cls == "ZeroPadding2D") return zero_pad(x, c);
    if (l.cls == "Add" || l.cls == "Multiply") return binary(in, l.cls == "Add");
    if (l.cls == "Dense") return dense(x, l);
    if (l.cls == "Dropout") return x;
    if (l.cls == "Flatten") return Array{{int64_t(x.v.size())}, x.v};  // NHWC order, as stored
    if (l.cls == "Reshape") return Array{c["target_shape"].get<std::vector<int64_t>>(), x.v};
    if (l.cls == "Rescaling") {
        Array y = x;
        for (double& v : y.v) v = v * c.value("scale", 1.0) + c.value("offset", 0.0);
        return y;
    }
    if (l.cls == "GlobalAveragePooling2D" || l.cls == "GlobalMaxPooling2D") {
        const bool avg = l.cls == "GlobalAveragePooling2D";
        const int64_t C = x.shape[2], HW = x.shape[0] * x.shape[1];
        Array y{c.value("keepdims", false) ? std::vector<int64_t>{1, 1, C} : std::vector<int64_t>{C}, {}};
        for (int64_t ch = 0; ch < C; ++ch) {
            double acc = avg ? 0.0 : -INFINITY;
            for (int64_t p = 0; p < HW; ++p) {
                const double v = x.v[size_t(p * C + ch)];
                acc = avg ? acc + v : std::max(acc, v);
            }
            y.v.push_back(avg ? acc / double(HW) : acc);
        }
        return y;
    }
    if (l.cls == "Sequential") {
        Array y = x;
        for (const Layer& sub : l.layers) y = run_layer(sub, {y});
        return y;
    }
    throw std::runtime_error("naive: layer class " + l.cls);
}

}  // namespace

Array run_naive(const KerasModel& m, const Array& input) {
    std::map<std::string, Array> values = {{m.input_name, input}};
    std::string previous = m.input_name;
    for (const Layer& l : m.layers) {
        std::vector<Array> in;
        for (const std::string& name : l.inputs.empty() ? std::vector<std::string>{previous} : l.inputs) {
            in.push_back(values.at(name));
        }
        values[l.name] = run_layer(l, in);
        previous = l.name;
    }
    return values.at(m.output.empty() ? previous : m.output);
}

}  // namespace mnet::test::keras
