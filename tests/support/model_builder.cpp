// SPDX-License-Identifier: Apache-2.0
#include "support/model_builder.h"

#include <cmath>
#include <stdexcept>

#include "graph/loader.h"

namespace mnet::test {

namespace {

// Output size of a window (FORMAT.md conv2d): the loader recomputes and checks it.
int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1) {
    return (in + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

ModelDef base_def(int64_t height, int64_t width) {
    ModelDef def;
    def.name = "test_model";
    def.input.name = "input";
    def.input.shape = {1, 3, height, width};
    def.preprocess.height = static_cast<int>(height);
    def.preprocess.width = static_cast<int>(width);
    def.preprocess.crop = 1.0;
    def.preprocess.mean = {0.0f, 0.0f, 0.0f};
    def.preprocess.std = {1.0f, 1.0f, 1.0f};
    return def;
}

std::vector<int64_t> ints(std::initializer_list<int64_t> v) { return std::vector<int64_t>(v); }

}  // namespace

ConvSpec conv_spec(int64_t out_channels, int64_t kernel, int64_t stride, std::array<int64_t, 4> pad, int64_t groups,
                   const std::string& activation, int64_t dilation) {
    ConvSpec s;
    s.out_channels = out_channels;
    s.kernel_h = s.kernel_w = kernel;
    s.stride_h = s.stride_w = stride;
    s.dilation_h = s.dilation_w = dilation;
    s.pad = pad;
    s.groups = groups;
    s.activation = activation;
    return s;
}

ModelBuilder::ModelBuilder(int64_t height, int64_t width, uint32_t seed)
    : writer_(base_def(height, width)), rng_(seed) {
    shapes_[input_] = {1, 3, height, width};
    last_ = input_;
}

const Shape& ModelBuilder::shape(const std::string& value) const {
    auto it = shapes_.find(value);
    if (it == shapes_.end()) throw std::invalid_argument("ModelBuilder: unknown value '" + value + "'");
    return it->second;
}

std::vector<float> ModelBuilder::uniform(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng_);
    return v;
}

// Uniform with variance scale^2 / fan_in: activations keep a similar magnitude through a deep random graph.
std::vector<float> ModelBuilder::he_uniform(size_t n, int64_t fan_in, float scale) {
    const float a = scale * std::sqrt(3.0f / static_cast<float>(fan_in));
    return uniform(n, -a, a);
}

std::string ModelBuilder::add_weights(const std::string& role, const Shape& shape, const std::vector<float>& values) {
    const std::string name = "n" + std::to_string(writer_.def().nodes.size()) + "/" + role;
    return writer_.add_f32(name, shape, values);
}

std::string ModelBuilder::add_node(const std::string& op, std::vector<std::string> inputs,
                                   std::map<std::string, AttrValue> attrs, std::map<std::string, std::string> weights,
                                   Shape out) {
    for (const std::string& in : inputs) shape(in);  // fails early on a typo
    NodeDef nd;
    nd.name = "n" + std::to_string(writer_.def().nodes.size()) + "_" + op;
    nd.op = op;
    nd.inputs = std::move(inputs);
    nd.output = nd.name;
    nd.attrs = std::move(attrs);
    nd.weights = std::move(weights);
    producers_[nd.output] = writer_.def().nodes.size();
    shapes_[nd.output] = std::move(out);
    last_ = nd.output;
    writer_.def().nodes.push_back(nd);
    return last_;
}

std::string ModelBuilder::conv(const std::string& x, const ConvSpec& spec) {
    const int64_t ic = shape(x)[1] / spec.groups;
    const int64_t fan_in = ic * spec.kernel_h * spec.kernel_w;
    const auto n = static_cast<size_t>(spec.out_channels * fan_in);
    std::vector<float> bias = spec.bias ? uniform(static_cast<size_t>(spec.out_channels), -0.5f, 0.5f)
                                        : std::vector<float>{};
    return conv_with(x, spec, he_uniform(n, fan_in, spec.weight_scale), bias);
}

std::string ModelBuilder::conv_with(const std::string& x, const ConvSpec& spec, const std::vector<float>& weights,
                                    const std::vector<float>& bias) {
    const Shape& s = shape(x);
    std::map<std::string, std::string> w;
    w["weights"] = add_weights("weights", {spec.out_channels, s[1] / spec.groups, spec.kernel_h, spec.kernel_w},
                               weights);
    if (!bias.empty()) w["bias"] = add_weights("bias", {spec.out_channels}, bias);
    std::map<std::string, AttrValue> attrs;
    attrs["stride"] = ints({spec.stride_h, spec.stride_w});
    attrs["dilation"] = ints({spec.dilation_h, spec.dilation_w});
    attrs["pad"] = ints({spec.pad[0], spec.pad[1], spec.pad[2], spec.pad[3]});
    attrs["groups"] = spec.groups;
    attrs["activation"] = spec.activation;
    Shape out = {1, spec.out_channels,
                 window_out(s[2], spec.kernel_h, spec.stride_h, spec.dilation_h, spec.pad[0], spec.pad[2]),
                 window_out(s[3], spec.kernel_w, spec.stride_w, spec.dilation_w, spec.pad[1], spec.pad[3])};
    return add_node("conv2d", {x}, std::move(attrs), std::move(w), std::move(out));
}

std::string ModelBuilder::fully_connected(const std::string& x, int64_t out_channels, const std::string& activation,
                                          bool bias, float weight_scale) {
    const int64_t k = shape_numel(shape(x));
    std::vector<float> w = he_uniform(static_cast<size_t>(out_channels * k), k, weight_scale);
    std::vector<float> b = bias ? uniform(static_cast<size_t>(out_channels), -0.5f, 0.5f) : std::vector<float>{};
    std::string out = fully_connected_with(x, out_channels, w, b);
    writer_.def().nodes.back().attrs["activation"] = activation;
    return out;
}

std::string ModelBuilder::fully_connected_with(const std::string& x, int64_t out_channels,
                                               const std::vector<float>& weights, const std::vector<float>& bias) {
    std::map<std::string, std::string> w;
    w["weights"] = add_weights("weights", {out_channels, shape_numel(shape(x))}, weights);
    if (!bias.empty()) w["bias"] = add_weights("bias", {out_channels}, bias);
    return add_node("fully_connected", {x}, {}, std::move(w), {1, out_channels});
}

std::string ModelBuilder::binary(const std::string& op, const std::string& a, const std::string& b,
                                 const std::string& activation) {
    const Shape& sa = shape(a);
    Shape out = shape_numel(sa) >= shape_numel(shape(b)) ? sa : shape(b);
    return add_node(op, {a, b}, {{"activation", activation}}, {}, std::move(out));
}

std::string ModelBuilder::binary_const(const std::string& op, const std::string& a, const Shape& b_shape,
                                       const std::string& activation, float lo, float hi) {
    return binary_const_with(op, a, b_shape, uniform(static_cast<size_t>(shape_numel(b_shape)), lo, hi), activation);
}

std::string ModelBuilder::binary_const_with(const std::string& op, const std::string& a, const Shape& b_shape,
                                            const std::vector<float>& values, const std::string& activation) {
    std::map<std::string, std::string> w;
    w["b"] = add_weights("b", b_shape, values);
    return add_node(op, {a}, {{"activation", activation}}, std::move(w), shape(a));
}

std::string ModelBuilder::activation(const std::string& x, const std::string& kind) {
    return add_node("activation", {x}, {{"kind", kind}}, {}, shape(x));
}

std::string ModelBuilder::identity(const std::string& x) { return add_node("identity", {x}, {}, {}, shape(x)); }

std::string ModelBuilder::pool(const std::string& op, const std::string& x, std::array<int64_t, 2> kernel,
                               std::array<int64_t, 2> stride, std::array<int64_t, 4> pad) {
    const Shape& s = shape(x);
    std::map<std::string, AttrValue> attrs;
    attrs["kernel"] = ints({kernel[0], kernel[1]});
    attrs["stride"] = ints({stride[0], stride[1]});
    attrs["pad"] = ints({pad[0], pad[1], pad[2], pad[3]});
    Shape out = {1, s[1], window_out(s[2], kernel[0], stride[0], 1, pad[0], pad[2]),
                 window_out(s[3], kernel[1], stride[1], 1, pad[1], pad[3])};
    return add_node(op, {x}, std::move(attrs), {}, std::move(out));
}

std::string ModelBuilder::global_avg_pool(const std::string& x, bool keepdims) {
    const int64_t c = shape(x)[1];
    return add_node("global_avg_pool", {x}, {{"keepdims", int64_t{keepdims ? 1 : 0}}}, {},
                    keepdims ? Shape{1, c, 1, 1} : Shape{1, c});
}

std::string ModelBuilder::reshape(const std::string& x, const std::vector<int64_t>& dims) {
    Shape out = {1};
    int64_t known = 1;
    for (int64_t d : dims) known *= d == -1 ? 1 : d;
    for (int64_t d : dims) out.push_back(d == -1 ? shape_numel(shape(x)) / known : d);
    return add_node("reshape", {x}, {{"shape", dims}}, {}, std::move(out));
}

std::string ModelBuilder::softmax(const std::string& x) { return add_node("softmax", {x}, {}, {}, shape(x)); }

std::string ModelBuilder::pad(const std::string& x, std::array<int64_t, 4> pads) {
    const Shape& s = shape(x);
    Shape out = {1, s[1], s[2] + pads[0] + pads[2], s[3] + pads[1] + pads[3]};
    return add_node("pad", {x}, {{"pad", ints({pads[0], pads[1], pads[2], pads[3]})}}, {}, std::move(out));
}

void ModelBuilder::quantize(const std::string& value, DType dtype, double scale, int64_t zero_point) {
    auto it = producers_.find(value);
    if (it == producers_.end()) throw std::invalid_argument("ModelBuilder: '" + value + "' has no producer node");
    QuantParams q;
    q.dtype = dtype;
    q.scale = {scale};
    q.zero_point = {zero_point};
    writer_.def().nodes[it->second].dst_quant = q;
}

void ModelBuilder::quantize_input(DType dtype, double scale, int64_t zero_point) {
    QuantParams q;
    q.dtype = dtype;
    q.scale = {scale};
    q.zero_point = {zero_point};
    writer_.def().input.quant = q;
}

void ModelBuilder::set_activation(const std::string& value, const std::string& activation) {
    auto it = producers_.find(value);
    if (it == producers_.end()) throw std::invalid_argument("ModelBuilder: '" + value + "' has no producer node");
    writer_.def().nodes[it->second].attrs["activation"] = activation;
}

std::shared_ptr<const Model> ModelBuilder::build(std::vector<std::string> outputs) {
    if (outputs.empty()) outputs.push_back(last_);
    writer_.def().outputs.clear();
    for (const std::string& o : outputs) writer_.def().outputs.push_back(OutputDef{o, OutputKind::Feature});
    const std::string manifest = writer_.manifest_json("x.bin");
    return load_model_from_memory(manifest, writer_.weights_bytes(), "test_model.json");
}

Tensor random_input(const Model& model, int64_t batch, uint32_t seed, float lo, float hi) {
    Shape s = model.input_shape();
    s[0] = batch;
    Tensor t(s);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    for (float& v : t.data) v = dist(rng);
    return t;
}

}  // namespace mnet::test
