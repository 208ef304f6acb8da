// SPDX-License-Identifier: Apache-2.0
// The layer translations of Translator (keras_graph.h): one Keras layer class each, NHWC -> NCHW.
#include <algorithm>
#include <cmath>
#include <map>

#include "keras_config.h"
#include "keras_graph.h"

namespace mnet::importer::keras {

namespace {

using json = nlohmann::json;

// Keras kernels are HWIO-like; mnet wants [out, in, KH, KW]. `k` is already checked against the shapes named.

// [KH, KW, C, M] -> [C*M, 1, KH, KW]; output channel c*M + m reads input channel c.
std::vector<float> depthwise_to_oihw(const WeightArray& k, int64_t KH, int64_t KW, int64_t CM) {
    std::vector<float> w(k.values.size());
    for (int64_t y = 0; y < KH * KW; ++y) {
        for (int64_t cm = 0; cm < CM; ++cm) w[size_t(cm * KH * KW + y)] = k.values[size_t(y * CM + cm)];
    }
    return w;
}

// [KH, KW, C/G, F] -> [F, C/G, KH, KW]
std::vector<float> kernel_to_oihw(const WeightArray& k, int64_t KH, int64_t KW, int64_t CG, int64_t F) {
    std::vector<float> w(k.values.size());
    for (int64_t y = 0; y < KH * KW; ++y) {
        for (int64_t ci = 0; ci < CG; ++ci) {
            for (int64_t f = 0; f < F; ++f) w[size_t((f * CG + ci) * KH * KW + y)] = k.values[size_t((y * CG + ci) * F + f)];
        }
    }
    return w;
}

// [1, 1, C*M, F] -> [F, C*M, 1, 1]
std::vector<float> pointwise_to_oihw(const WeightArray& k, int64_t CM, int64_t F) {
    std::vector<float> w(k.values.size());
    for (int64_t ci = 0; ci < CM; ++ci) {
        for (int64_t f = 0; f < F; ++f) w[size_t(f * CM + ci)] = k.values[size_t(ci * F + f)];
    }
    return w;
}

}  // namespace

void Translator::translate(const FlatLayer& l) {
    using Fn = void (*)(Translator&, const FlatLayer&);
    static const std::map<std::string, Fn> kLayers = {
        {"Conv2D", [](Translator& t, const FlatLayer& x) { t.conv(x); }},
        {"Convolution2D", [](Translator& t, const FlatLayer& x) { t.conv(x); }},
        {"DepthwiseConv2D", [](Translator& t, const FlatLayer& x) { t.conv(x); }},
        {"SeparableConv2D", [](Translator& t, const FlatLayer& x) { t.conv(x); }},
        {"SeparableConvolution2D", [](Translator& t, const FlatLayer& x) { t.conv(x); }},
        {"Dense", [](Translator& t, const FlatLayer& x) { t.dense(x); }},
        {"BatchNormalization", [](Translator& t, const FlatLayer& x) { t.batch_norm(x); }},
        {"MaxPooling2D", [](Translator& t, const FlatLayer& x) { t.pool(x, false); }},
        {"MaxPool2D", [](Translator& t, const FlatLayer& x) { t.pool(x, false); }},
        {"AveragePooling2D", [](Translator& t, const FlatLayer& x) { t.pool(x, true); }},
        {"AvgPool2D", [](Translator& t, const FlatLayer& x) { t.pool(x, true); }},
        {"GlobalAveragePooling2D", [](Translator& t, const FlatLayer& x) { t.global_pool(x, true); }},
        {"GlobalAvgPool2D", [](Translator& t, const FlatLayer& x) { t.global_pool(x, true); }},
        {"GlobalMaxPooling2D", [](Translator& t, const FlatLayer& x) { t.global_pool(x, false); }},
        {"GlobalMaxPool2D", [](Translator& t, const FlatLayer& x) { t.global_pool(x, false); }},
        {"ZeroPadding2D", [](Translator& t, const FlatLayer& x) { t.zero_padding(x); }},
        {"Flatten", [](Translator& t, const FlatLayer& x) { t.flatten(x); }},
        {"Reshape", [](Translator& t, const FlatLayer& x) { t.reshape(x); }},
        {"Add", [](Translator& t, const FlatLayer& x) { t.merge(x, true); }},
        {"Multiply", [](Translator& t, const FlatLayer& x) { t.merge(x, false); }},
        {"ReLU", [](Translator& t, const FlatLayer& x) { t.relu(x); }},
        {"Activation", [](Translator& t, const FlatLayer& x) { t.activation_layer(x, t.activation_name(x)); }},
        {"Softmax", [](Translator& t, const FlatLayer& x) { t.softmax_layer(x); }},
        {"Rescaling", [](Translator& t, const FlatLayer& x) { t.rescaling(x); }},
        // No computation at inference.
        {"Dropout", [](Translator& t, const FlatLayer& x) { t.alias(x.output, x.inputs[0]); }},
        {"SpatialDropout2D", [](Translator& t, const FlatLayer& x) { t.alias(x.output, x.inputs[0]); }},
        {"GaussianDropout", [](Translator& t, const FlatLayer& x) { t.alias(x.output, x.inputs[0]); }},
        {"GaussianNoise", [](Translator& t, const FlatLayer& x) { t.alias(x.output, x.inputs[0]); }},
        {"AlphaDropout", [](Translator& t, const FlatLayer& x) { t.alias(x.output, x.inputs[0]); }},
        {"ActivityRegularization", [](Translator& t, const FlatLayer& x) { t.alias(x.output, x.inputs[0]); }},
    };
    const auto it = kLayers.find(l.class_name);
    if (it == kLayers.end()) {
        std::string handled;
        for (const auto& entry : kLayers) handled += entry.first + ", ";
        fail(l, ErrorCode::Unsupported,
             "mnet-convert cannot translate this layer class (it handles InputLayer, " + handled +
                 "and nested Sequential/Functional models)");
    }
    const bool merge = l.class_name == "Add" || l.class_name == "Multiply";
    if (merge ? l.inputs.size() < 2 : l.inputs.size() != 1) {
        fail(l, ErrorCode::ModelFormat, "called on " + std::to_string(l.inputs.size()) + " tensors");
    }
    it->second(*this, l);
}

std::string Translator::activation_name(const FlatLayer& l) const {
    const json& a = (*l.config).contains("activation") ? (*l.config)["activation"] : json();
    if (!a.is_string()) fail(l, ErrorCode::Unsupported, "the activation is not given by name");
    return a.get<std::string>();
}

void Translator::softmax_layer(const FlatLayer& l) {
    const json& axis = (*l.config).contains("axis") ? (*l.config)["axis"] : json(-1);
    if (!(axis == json(-1) || axis == json::array({-1}))) {
        fail(l, ErrorCode::Unsupported, "softmax over an axis other than the last");
    }
    activation_layer(l, "softmax");
}

void Translator::conv(const FlatLayer& l) {
    const Config c{*l.config, [&](const std::string& w) { fail(l, ErrorCode::ModelFormat, w); }};
    const bool depthwise = l.class_name == "DepthwiseConv2D";
    const bool separable = l.class_name.rfind("Separable", 0) == 0;
    if (c.string("data_format", "channels_last") != "channels_last") {
        fail(l, ErrorCode::Unsupported, "data_format channels_first");
    }
    const Value v = raw_operand(l, 0);  // a copy: materialize() below may change the table
    if (v.shape.size() != 3) fail(l, ErrorCode::Unsupported, "input " + shape_text(v.shape) + " is not an [H, W, C] map");
    const int64_t H = v.shape[0], W = v.shape[1], C = v.shape[2];
    const auto [KH, KW] = c.pair("kernel_size");
    const auto [SH, SW] = c.pair("strides", 1);
    const auto [DH, DW] = c.pair("dilation_rate", 1);
    const std::string padding = c.string("padding", "valid");
    if (padding != "valid" && padding != "same") fail(l, ErrorCode::Unsupported, "padding '" + padding + "'");
    int64_t t = 0, b = 0, left = 0, r = 0;
    if (padding == "same") {
        same_padding(H, KH, SH, DH, t, b);
        same_padding(W, KW, SW, DW, left, r);
    }
    const int64_t OH = (H + t + b - (KH - 1) * DH - 1) / SH + 1, OW = (W + left + r - (KW - 1) * DW - 1) / SW + 1;
    if (H + t + b < (KH - 1) * DH + 1 || W + left + r < (KW - 1) * DW + 1) {
        fail(l, ErrorCode::ModelFormat, "the kernel does not fit the " + shape_text(v.shape) + " input");
    }
    if (v.padded) t += v.pad[0], left += v.pad[1], b += v.pad[2], r += v.pad[3];  // ZeroPadding2D folded in
    const Act act = parse_activation(l, c.string("activation", "linear"));
    const bool bias = c.boolean("use_bias", true);
    const int64_t M = (depthwise || separable) ? c.integer("depth_multiplier", 1) : 1;
    const int64_t G = (depthwise || separable) ? C : c.integer("groups", 1);
    if (M < 1 || G < 1 || C % G != 0) fail(l, ErrorCode::ModelFormat, "bad depth_multiplier or groups");

    NodeDef nd;
    nd.op = op_name(OpKind::Conv2d);
    nd.inputs = {v.name};
    nd.attrs["stride"] = std::vector<int64_t>{SH, SW};
    nd.attrs["dilation"] = std::vector<int64_t>{DH, DW};
    nd.attrs["pad"] = std::vector<int64_t>{t, left, b, r};
    nd.attrs["groups"] = G;
    int64_t F = 0;
    if (depthwise || separable) {
        // Keras 3 names a DepthwiseConv2D's weight "kernel"; Keras 2 (and the separable conv) "depthwise_kernel".
        const bool keras3_name = keras3_ && weights_.find(l.name, "kernel", l.scope) &&
                                 !weights_.find(l.name, "depthwise_kernel", l.scope);
        const WeightArray& k = weight(l, keras3_name ? "kernel" : "depthwise_kernel", {KH, KW, C, M});
        nd.weights["weights"] =
            add_constant(l.name + "/depthwise_kernel", {C * M, 1, KH, KW}, depthwise_to_oihw(k, KH, KW, C * M));
        F = C * M;
    } else {
        F = c.integer("filters");
        if (F < 1 || F % G != 0) fail(l, ErrorCode::ModelFormat, "filters must be a positive multiple of groups");
        const int64_t CG = C / G;
        const WeightArray& k = weight(l, "kernel", {KH, KW, CG, F});
        nd.weights["weights"] = add_constant(l.name + "/kernel", {F, CG, KH, KW}, kernel_to_oihw(k, KH, KW, CG, F));
    }
    int node = -1;
    if (separable) {
        node = emit(std::move(nd), l.name + "/depthwise");
        const int64_t CM = F;
        F = c.integer("filters");
        if (F < 1) fail(l, ErrorCode::ModelFormat, "filters must be positive");
        const WeightArray& k = weight(l, "pointwise_kernel", {1, 1, CM, F});
        NodeDef pw;
        pw.op = op_name(OpKind::Conv2d);
        pw.inputs = {nodes_[size_t(node)].output};
        pw.weights["weights"] = add_constant(l.name + "/pointwise_kernel", {F, CM, 1, 1}, pointwise_to_oihw(k, CM, F));
        nd = std::move(pw);
    }
    if (bias) nd.weights["bias"] = add_constant(l.name + "/bias", {F}, weight(l, "bias", {F}).values);
    node = emit(std::move(nd), l.name);
    node = activate(l, nodes_[size_t(node)].output, node, act, {OH, OW, F}, true, l.name + "/activation");
    bind(l.output, node, {OH, OW, F}, act_nonneg(act));
}

void Translator::dense(const FlatLayer& l) {
    const Config c{*l.config, [&](const std::string& w) { fail(l, ErrorCode::ModelFormat, w); }};
    const Value v = operand(l, 0);
    const int64_t units = c.integer("units");
    if (units < 1) fail(l, ErrorCode::ModelFormat, "units must be positive");
    const Act act = parse_activation(l, c.string("activation", "linear"));
    NodeDef nd;
    nd.inputs = {v.name};
    Shape out;
    if (v.shape.size() == 3) {  // Dense acts on the last axis: a 1x1 convolution
        const int64_t C = v.shape[2];
        const WeightArray& k = weight(l, "kernel", {C, units});
        std::vector<float> w(k.values.size());
        for (int64_t ci = 0; ci < C; ++ci) {
            for (int64_t u = 0; u < units; ++u) w[size_t(u * C + ci)] = k.values[size_t(ci * units + u)];
        }
        nd.op = op_name(OpKind::Conv2d);
        nd.weights["weights"] = add_constant(l.name + "/kernel", {units, C, 1, 1}, std::move(w));
        out = {v.shape[0], v.shape[1], units};
    } else if (v.shape.size() == 1) {
        // [K, units] -> [units, K]; a flattened map arrives in our NCHW order, Keras' kernel rows are NHWC.
        const int64_t K = v.shape[0];
        const WeightArray& k = weight(l, "kernel", {K, units});
        std::vector<int64_t> row(static_cast<size_t>(K));  // our input index -> Keras kernel row
        for (int64_t i = 0; i < K; ++i) row[size_t(i)] = i;
        if (!v.nhwc_flat.empty()) {
            const int64_t H = v.nhwc_flat[0], W = v.nhwc_flat[1], C = v.nhwc_flat[2];
            for (int64_t ci = 0; ci < C; ++ci) {
                for (int64_t p = 0; p < H * W; ++p) row[size_t(ci * H * W + p)] = p * C + ci;
            }
        }
        std::vector<float> w(k.values.size());
        for (int64_t u = 0; u < units; ++u) {
            for (int64_t i = 0; i < K; ++i) w[size_t(u * K + i)] = k.values[size_t(row[size_t(i)] * units + u)];
        }
        nd.op = op_name(OpKind::FullyConnected);
        nd.weights["weights"] = add_constant(l.name + "/kernel", {units, K}, std::move(w));
        out = {units};
    } else {
        fail(l, ErrorCode::Unsupported, "input " + shape_text(v.shape) + " is not a vector or an [H, W, C] map");
    }
    if (c.boolean("use_bias", true)) nd.weights["bias"] = add_constant(l.name + "/bias", {units}, weight(l, "bias", {units}).values);
    int node = emit(std::move(nd), l.name);
    node = activate(l, nodes_[size_t(node)].output, node, act, out, true, l.name + "/activation");
    bind(l.output, node, out, act_nonneg(act));
}

void Translator::batch_norm(const FlatLayer& l) {
    const Config c{*l.config, [&](const std::string& w) { fail(l, ErrorCode::ModelFormat, w); }};
    const int in = l.inputs[0];
    const Value v = operand(l, 0);
    const int64_t rank = int64_t(v.shape.size()) + 1;  // with the batch
    const json axis = (*l.config).contains("axis") ? (*l.config)["axis"] : json(-1);
    const int64_t a = axis.is_array() && axis.size() == 1 ? axis[0].get<int64_t>() : (axis.is_number_integer() ? axis.get<int64_t>() : 0);
    if (!(a == -1 || a == rank - 1) || (rank != 2 && rank != 4)) {
        fail(l, ErrorCode::Unsupported, "normalizes axis " + axis.dump() + " of a rank-" + std::to_string(rank) +
                                            " tensor; mnet folds only the channel (last) axis");
    }
    const int64_t C = v.shape.back();
    const double eps = c.number("epsilon", 1e-3);
    const std::vector<float>& mean = weight(l, "moving_mean", {C}).values;
    const std::vector<float>& var = weight(l, "moving_variance", {C}).values;
    const std::vector<float>* gamma = c.boolean("scale", true) ? &weight(l, "gamma", {C}).values : nullptr;
    const std::vector<float>* beta = c.boolean("center", true) ? &weight(l, "beta", {C}).values : nullptr;
    // y = gamma * (x - mean) / sqrt(var + eps) + beta = x * scale + shift, in double.
    std::vector<double> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
    for (size_t i = 0; i < size_t(C); ++i) {
        if (!(var[i] + eps > 0)) fail(l, ErrorCode::ModelFormat, "moving_variance + epsilon is not positive");
        scale[i] = (gamma ? (*gamma)[i] : 1.0) / std::sqrt(double(var[i]) + eps);
        shift[i] = (beta ? (*beta)[i] : 0.0) - double(mean[i]) * scale[i];
    }
    if (fusable(in)) {
        NodeDef& n = nodes_[size_t(v.producer)];
        auto act = n.attrs.find("activation");
        const bool linear = act == n.attrs.end() || std::get<std::string>(act->second) == mnet::activation_name(Activation::None);
        if ((n.op == op_name(OpKind::Conv2d) || n.op == op_name(OpKind::FullyConnected)) && linear) {
            // Fold: scale each output channel's weights, and shift its bias.
            Constant& w = constant(n.weights.at("weights"));
            const size_t per = w.values.size() / size_t(C);
            for (size_t o = 0; o < size_t(C); ++o) {
                for (size_t k = 0; k < per; ++k) w.values[o * per + k] = float(w.values[o * per + k] * scale[o]);
            }
            std::vector<float> bias(size_t(C), 0.0f);
            if (n.weights.count("bias")) bias = constant(n.weights.at("bias")).values;
            for (size_t o = 0; o < size_t(C); ++o) bias[o] = float(bias[o] * scale[o] + shift[o]);
            if (n.weights.count("bias")) {
                constant(n.weights.at("bias")).values = std::move(bias);
            } else {
                n.weights["bias"] = add_constant(n.name + "/bias", {C}, std::move(bias));
            }
            alias(l.output, in);
            values_[size_t(l.output)].nonneg = false;
            return;
        }
    }
    // Not after a linear convolution: x * scale + shift as two nodes.
    NodeDef mul;
    mul.op = op_name(OpKind::Mul);
    mul.inputs = {v.name};
    mul.weights["b"] = channel_constant(l.name + "/scale", v, std::vector<float>(scale.begin(), scale.end()));
    const int m = emit(std::move(mul), l.name + "/mul");
    NodeDef add;
    add.op = op_name(OpKind::Add);
    add.inputs = {nodes_[size_t(m)].output};
    add.weights["b"] = channel_constant(l.name + "/shift", v, std::vector<float>(shift.begin(), shift.end()));
    bind(l.output, emit(std::move(add), l.name), v.shape, false);
    values_[size_t(l.output)].nhwc_flat = v.nhwc_flat;
}

}  // namespace mnet::importer::keras
