// SPDX-License-Identifier: Apache-2.0
// The translations of Keras layers without weights (keras_graph.h): pooling, padding, reshaping, merging,
// activations and rescaling.
#include <algorithm>
#include <cmath>

#include "keras_config.h"
#include "keras_graph.h"

namespace mnet::importer::keras {

namespace {

using json = nlohmann::json;

// Graph limits (src/graph/graph.cpp): pooling windows and their padding.
constexpr int64_t kMaxKernel = 64;

int64_t numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

// Whether our NCHW element order of a Keras [H, W, C] map (or a plain vector) equals Keras' NHWC order.
bool same_order(const Shape& s) { return s.size() != 3 || s[2] == 1 || s[0] * s[1] == 1; }

// Our dims after the batch of a Keras shape: [H, W, C] -> [C, H, W].
std::vector<int64_t> ours(const Shape& s) {
    if (s.size() == 3) return {s[2], s[0], s[1]};
    return s;
}

}  // namespace

void Translator::pool(const FlatLayer& l, bool average) {
    const Config c{*l.config, [&](const std::string& w) { fail(l, ErrorCode::ModelFormat, w); }};
    if (c.string("data_format", "channels_last") != "channels_last") fail(l, ErrorCode::Unsupported, "data_format channels_first");
    Value v = raw_operand(l, 0);
    if (v.shape.size() != 3) fail(l, ErrorCode::Unsupported, "input " + shape_text(v.shape) + " is not an [H, W, C] map");
    const int64_t H = v.shape[0], W = v.shape[1], C = v.shape[2];
    const auto [KH, KW] = c.pair("pool_size", 2);
    const auto [SH, SW] = c.has("strides") ? c.pair("strides") : std::array<int64_t, 2>{KH, KW};
    const std::string padding = c.string("padding", "valid");
    if (padding != "valid" && padding != "same") fail(l, ErrorCode::Unsupported, "padding '" + padding + "'");
    if (KH > kMaxKernel || KW > kMaxKernel) fail(l, ErrorCode::Unsupported, "pool_size above 64");
    if (padding == "valid" && (H < KH || W < KW)) {
        fail(l, ErrorCode::ModelFormat, "pool_size exceeds the " + shape_text(v.shape) + " input");
    }
    int64_t t = 0, b = 0, left = 0, r = 0;
    if (padding == "same") {
        same_padding(H, KH, SH, 1, t, b);
        same_padding(W, KW, SW, 1, left, r);
    }
    const int64_t OH = (H + t + b - KH) / SH + 1, OW = (W + left + r - KW) / SW + 1;
    if (v.padded) {
        // Zeros may join a max only where they cannot win (a non-negative input); an average counts Keras' zeros
        // but not our padding, so it never folds. The window must also keep a real pixel (padding < kernel).
        const std::array<int64_t, 4> total = {t + v.pad[0], left + v.pad[1], b + v.pad[2], r + v.pad[3]};
        const bool fits = total[0] < KH && total[2] < KH && total[1] < KW && total[3] < KW;
        if (!average && v.nonneg && fits) {
            t = total[0], left = total[1], b = total[2], r = total[3];
        } else {
            v = operand(l, 0);
        }
    }
    NodeDef nd;
    nd.op = op_name(average ? OpKind::AvgPool : OpKind::MaxPool);
    nd.inputs = {v.name};
    nd.attrs["kernel"] = std::vector<int64_t>{KH, KW};
    nd.attrs["stride"] = std::vector<int64_t>{SH, SW};
    nd.attrs["pad"] = std::vector<int64_t>{t, left, b, r};
    bind(l.output, emit(std::move(nd), l.name), {OH, OW, C}, v.nonneg);
}

void Translator::global_pool(const FlatLayer& l, bool average) {
    const Config c{*l.config, [&](const std::string& w) { fail(l, ErrorCode::ModelFormat, w); }};
    if (c.string("data_format", "channels_last") != "channels_last") fail(l, ErrorCode::Unsupported, "data_format channels_first");
    const Value v = operand(l, 0);
    if (v.shape.size() != 3) fail(l, ErrorCode::Unsupported, "input " + shape_text(v.shape) + " is not an [H, W, C] map");
    const bool keepdims = c.boolean("keepdims", false);
    const int64_t C = v.shape[2];
    NodeDef nd;
    nd.inputs = {v.name};
    if (average) {
        nd.op = op_name(OpKind::GlobalAvgPool);
        nd.attrs["keepdims"] = int64_t{keepdims ? 1 : 0};
        bind(l.output, emit(std::move(nd), l.name), keepdims ? Shape{1, 1, C} : Shape{C}, v.nonneg);
        return;
    }
    // A max pooling window over the whole map.
    if (v.shape[0] > kMaxKernel || v.shape[1] > kMaxKernel) fail(l, ErrorCode::Unsupported, "a map larger than 64x64");
    nd.op = op_name(OpKind::MaxPool);
    nd.attrs["kernel"] = std::vector<int64_t>{v.shape[0], v.shape[1]};
    int node = emit(std::move(nd), keepdims ? l.name : l.name + "/max");
    if (!keepdims) {
        NodeDef flat;
        flat.op = op_name(OpKind::Reshape);
        flat.inputs = {nodes_[size_t(node)].output};
        flat.attrs["shape"] = std::vector<int64_t>{C};
        node = emit(std::move(flat), l.name);
    }
    bind(l.output, node, keepdims ? Shape{1, 1, C} : Shape{C}, v.nonneg);
}

// Nothing is emitted: the padding waits for the convolution or pooling that reads it (materialize() otherwise).
void Translator::zero_padding(const FlatLayer& l) {
    const Config c{*l.config, [&](const std::string& w) { fail(l, ErrorCode::ModelFormat, w); }};
    if (c.string("data_format", "channels_last") != "channels_last") {
        fail(l, ErrorCode::Unsupported, "data_format channels_first");
    }
    const json p = (*l.config).contains("padding") ? (*l.config)["padding"] : json(1);
    std::array<int64_t, 4> pad{};  // top, left, bottom, right
    auto is_int = [](const json& j) { return j.is_number_integer(); };
    if (is_int(p)) {
        pad = {p.get<int64_t>(), p.get<int64_t>(), p.get<int64_t>(), p.get<int64_t>()};
    } else if (p.is_array() && p.size() == 2 && is_int(p[0]) && is_int(p[1])) {
        pad = {p[0].get<int64_t>(), p[1].get<int64_t>(), p[0].get<int64_t>(), p[1].get<int64_t>()};
    } else if (p.is_array() && p.size() == 2 && p[0].is_array() && p[1].is_array() && p[0].size() == 2 &&
               p[1].size() == 2 && is_int(p[0][0]) && is_int(p[0][1]) && is_int(p[1][0]) && is_int(p[1][1])) {
        pad = {p[0][0].get<int64_t>(), p[1][0].get<int64_t>(), p[0][1].get<int64_t>(), p[1][1].get<int64_t>()};
    } else {
        fail(l, ErrorCode::ModelFormat, "padding " + p.dump() + " is not an int, [h, w] or [[top, bottom], [left, right]]");
    }
    if (*std::min_element(pad.begin(), pad.end()) < 0) fail(l, ErrorCode::ModelFormat, "negative padding");
    Value v = raw_operand(l, 0);
    if (v.shape.size() != 3) fail(l, ErrorCode::Unsupported, "input " + shape_text(v.shape) + " is not an [H, W, C] map");
    if (!v.padded) {
        v.padded = true;
        v.src_shape = v.shape;
        v.pad = {};
    }
    for (size_t i = 0; i < 4; ++i) v.pad[i] += pad[i];
    v.shape = {v.src_shape[0] + v.pad[0] + v.pad[2], v.src_shape[1] + v.pad[1] + v.pad[3], v.src_shape[2]};
    v.pad_layer = l.name;
    v.exclusive = false;
    values_[size_t(l.output)] = std::move(v);
}

void Translator::flatten(const FlatLayer& l) {
    const Value v = operand(l, 0);
    if (v.shape.size() == 1) return alias(l.output, l.inputs[0]);
    NodeDef nd;
    nd.op = op_name(OpKind::Reshape);
    nd.inputs = {v.name};
    nd.attrs["shape"] = std::vector<int64_t>{numel(v.shape)};
    bind(l.output, emit(std::move(nd), l.name), {numel(v.shape)}, v.nonneg);
    if (!same_order(v.shape)) values_[size_t(l.output)].nhwc_flat = v.shape;
}

void Translator::reshape(const FlatLayer& l) {
    const Value v = operand(l, 0);
    const json& target = (*l.config).contains("target_shape") ? (*l.config)["target_shape"] : json();
    if (!target.is_array() || target.empty()) fail(l, ErrorCode::ModelFormat, "no target_shape");
    Shape shape;
    int64_t known = 1, inferred = -1;
    for (const json& d : target) {
        if (!d.is_number_integer() || (d.get<int64_t>() < 1 && d.get<int64_t>() != -1)) {
            fail(l, ErrorCode::ModelFormat, "bad target_shape " + target.dump());
        }
        if (d.get<int64_t>() == -1) {
            if (inferred >= 0) fail(l, ErrorCode::ModelFormat, "two -1 in target_shape");
            inferred = int64_t(shape.size());
        } else {
            known *= d.get<int64_t>();
        }
        shape.push_back(d.get<int64_t>());
    }
    const int64_t n = numel(v.shape);
    if (inferred >= 0 && known > 0 && n % known == 0) shape[size_t(inferred)] = n / known;
    if (numel(shape) != n) fail(l, ErrorCode::ModelFormat, "cannot reshape " + shape_text(v.shape) + " to " + target.dump());
    if (shape.size() != 1 && shape.size() != 3) {
        fail(l, ErrorCode::Unsupported, "reshape to rank " + std::to_string(shape.size() + 1) + "; mnet has vectors and maps");
    }
    Shape flat_src;  // set when the result is a flattened map in Keras' NHWC order
    if (!v.nhwc_flat.empty()) {
        if (shape.size() == 1) return alias(l.output, l.inputs[0]);
        if (shape != v.nhwc_flat) {
            fail(l, ErrorCode::Unsupported, "reshapes a flattened " + shape_text(v.nhwc_flat) + " map to " +
                                                shape_text(shape) + ", an element order mnet cannot reproduce");
        }
    } else if (!same_order(v.shape)) {
        if (shape == v.shape) return alias(l.output, l.inputs[0]);
        if (shape.size() != 1) {
            fail(l, ErrorCode::Unsupported, "reshapes a " + shape_text(v.shape) + " map to " + shape_text(shape) +
                                                ", an element order mnet cannot reproduce");
        }
        flat_src = v.shape;
    } else if (!same_order(shape)) {
        fail(l, ErrorCode::Unsupported, "reshapes " + shape_text(v.shape) + " into a " + shape_text(shape) +
                                            " map, an element order mnet cannot reproduce");
    }
    NodeDef nd;
    nd.op = op_name(OpKind::Reshape);
    nd.inputs = {v.name};
    nd.attrs["shape"] = ours(shape);
    bind(l.output, emit(std::move(nd), l.name), shape, v.nonneg);
    values_[size_t(l.output)].nhwc_flat = flat_src;
}

void Translator::merge(const FlatLayer& l, bool is_add) {
    std::vector<Value> in;
    for (size_t i = 0; i < l.inputs.size(); ++i) in.push_back(operand(l, i));
    bool nonneg = true;
    Shape shape = in[0].shape;
    int node = -1;
    for (size_t i = 1; i < in.size(); ++i) {
        const Value& b = in[i];
        if (b.shape.size() != shape.size() || b.nhwc_flat != in[0].nhwc_flat) {
            fail(l, ErrorCode::Unsupported, "inputs " + shape_text(shape) + " and " + shape_text(b.shape) +
                                                " differ in rank or element order");
        }
        Shape out(shape.size());
        for (size_t d = 0; d < shape.size(); ++d) {
            if (shape[d] != b.shape[d] && shape[d] != 1 && b.shape[d] != 1) {
                fail(l, ErrorCode::ModelFormat, "inputs " + shape_text(shape) + " and " + shape_text(b.shape) + " do not broadcast");
            }
            out[d] = std::max(shape[d], b.shape[d]);
        }
        if (out != shape && out != b.shape) {
            fail(l, ErrorCode::Unsupported, "both inputs " + shape_text(shape) + " and " + shape_text(b.shape) + " broadcast");
        }
        NodeDef nd;
        nd.op = op_name(is_add ? OpKind::Add : OpKind::Mul);
        nd.inputs = {node < 0 ? in[0].name : nodes_[size_t(node)].output, b.name};
        node = emit(std::move(nd), i + 1 == in.size() ? l.name : l.name + "/" + std::to_string(i));
        shape = out;
    }
    for (const Value& v : in) nonneg = nonneg && v.nonneg;
    bind(l.output, node, shape, nonneg);
    values_[size_t(l.output)].nhwc_flat = in[0].nhwc_flat;
}

void Translator::relu(const FlatLayer& l) {
    const Config c{*l.config, [&](const std::string& w) { fail(l, ErrorCode::ModelFormat, w); }};
    if (c.number("negative_slope", 0) != 0) fail(l, ErrorCode::Unsupported, "negative_slope (a leaky ReLU)");
    if (c.number("threshold", 0) != 0) fail(l, ErrorCode::Unsupported, "a threshold other than 0");
    const double max_value = c.number("max_value", -1);
    if (!c.has("max_value")) return activation_layer(l, "relu");
    if (max_value == 6) return activation_layer(l, "relu6");
    fail(l, ErrorCode::Unsupported,
         "max_value " + std::to_string(max_value) + "; mnet has ReLU without a cap and with max_value 6");
}

void Translator::activation_layer(const FlatLayer& l, const std::string& keras_name) {
    const Act act = parse_activation(l, keras_name);
    const int in = l.inputs[0];
    const Value v = operand(l, 0);
    if (act.form == ActForm::None) return alias(l.output, in);
    const int node = activate(l, v.name, v.producer, act, v.shape, fusable(in), l.name);
    bind(l.output, node, v.shape, act_nonneg(act));
    values_[size_t(l.output)].nhwc_flat = v.nhwc_flat;
}

void Translator::rescaling(const FlatLayer& l) {
    const Value v = operand(l, 0);
    const int64_t C = v.shape.back();
    auto read = [&](const char* key, double fallback) {
        const json& j = (*l.config).contains(key) ? (*l.config)[key] : json(fallback);
        std::vector<float> out;
        if (j.is_number()) out.push_back(j.get<float>());
        if (j.is_array()) {
            for (const json& e : j) out.push_back(e.is_number() ? e.get<float>() : NAN);
        }
        if (out.empty() || (out.size() != 1 && int64_t(out.size()) != C) ||
            std::any_of(out.begin(), out.end(), [](float f) { return !std::isfinite(f); })) {
            fail(l, ErrorCode::ModelFormat, std::string("'") + key + "' must be a number or one per channel");
        }
        return out;
    };
    const std::vector<float> scale = read("scale", 1.0), offset = read("offset", 0.0);
    std::string name = v.name;
    int node = v.producer;
    auto step = [&](OpKind kind, const std::vector<float>& values, const std::string& node_name) {
        const std::string op = op_name(kind);
        NodeDef nd;
        nd.op = op;
        nd.inputs = {name};
        nd.weights["b"] = values.size() == 1 ? add_constant(l.name + "/" + op, {1}, values)
                                             : channel_constant(l.name + "/" + op, v, values);
        node = emit(std::move(nd), node_name);
        name = nodes_[size_t(node)].output;
    };
    const bool has_scale = std::any_of(scale.begin(), scale.end(), [](float f) { return f != 1.0f; });
    const bool has_offset = std::any_of(offset.begin(), offset.end(), [](float f) { return f != 0.0f; });
    if (!has_scale && !has_offset) return alias(l.output, l.inputs[0]);
    if (has_scale) step(OpKind::Mul, scale, has_offset ? l.name + "/scale" : l.name);
    if (has_offset) step(OpKind::Add, offset, l.name);
    const bool nonneg = v.nonneg && *std::min_element(scale.begin(), scale.end()) >= 0 &&
                        *std::min_element(offset.begin(), offset.end()) >= 0;
    bind(l.output, node, v.shape, nonneg);
    values_[size_t(l.output)].nhwc_flat = v.nhwc_flat;
}

}  // namespace mnet::importer::keras
