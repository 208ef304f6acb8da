// SPDX-License-Identifier: Apache-2.0
#include "keras_graph.h"

#include <algorithm>

namespace mnet::importer::keras {

namespace {

constexpr int64_t kRgbChannels = 3;
// Graph limit on explicit padding (src/graph/graph.cpp kMaxPad).
constexpr int64_t kMaxPad = 64;
// Keras 2's hard_sigmoid is clip(0.2x + 0.5, 0, 1) = relu6(1.2x + 3) / 6: our hard_sigmoid of 1.2x.
constexpr float kKerasHardSigmoidScale = 1.2f;

bool is_nonneg(Activation kind) {
    return kind == Activation::Relu || kind == Activation::Relu6 || kind == Activation::Sigmoid ||
           kind == Activation::HardSigmoid;
}


}  // namespace

Translator::Translator(const FlatGraph& graph, const WeightStore& weights, std::string where, bool keras3)
    : graph_(graph), weights_(weights), where_(std::move(where)), keras3_(keras3) {}

void Translator::run() {
    const size_t count = static_cast<size_t>(graph_.tensor_count);
    values_.assign(count, Value{});
    uses_.assign(count, 0);
    for (const FlatLayer& l : graph_.layers) {
        for (int t : l.inputs) ++uses_[t];
    }
    for (int t : graph_.outputs) ++uses_[t];
    for (int t : graph_.features) ++uses_[t];

    const std::vector<int64_t>& s = graph_.input_shape;
    const std::string at = where_ + ": input '" + graph_.input_name + "'";
    if (s.size() != 3) throw Error(ErrorCode::Unsupported, at + " is not an image [H, W, C]");
    if (s[0] < 1 || s[1] < 1) {
        throw Error(ErrorCode::Unsupported, at + " has no fixed height and width (None); mnet needs a fixed size");
    }
    if (s[2] != kRgbChannels) {
        throw Error(ErrorCode::Unsupported, at + " has " + std::to_string(s[2]) + " channels; mnet takes RGB images");
    }
    Value& input = values_[static_cast<size_t>(graph_.input)];
    input.defined = true;
    input.name = graph_.input_name;
    input.shape = s;
    names_.insert(input.name);
    input_rescaled_ = uses_[graph_.input] > 0;
    for (const FlatLayer& l : graph_.layers) {
        if (std::find(l.inputs.begin(), l.inputs.end(), graph_.input) != l.inputs.end() && l.class_name != "Rescaling") {
            input_rescaled_ = false;
        }
    }

    for (const FlatLayer& l : graph_.layers) translate(l);

    for (int t : graph_.outputs) {
        materialize(t);
        const Value& v = values_[t];
        if (!v.nhwc_flat.empty()) {
            throw Error(ErrorCode::Unsupported, where_ + ": output '" + v.name + "' flattens a " +
                                                    shape_text(v.nhwc_flat) +
                                                    " map in Keras' NHWC order, which mnet cannot reproduce at an output");
        }
        outputs_.push_back(OutputDef{v.name, output_kind(v)});
    }
    for (int t : graph_.features) {
        materialize(t);
        const Value& v = values_[t];
        const bool listed = std::any_of(outputs_.begin(), outputs_.end(), [&](const OutputDef& o) { return o.name == v.name; });
        if (v.shape.size() == 1 && v.nhwc_flat.empty() && !listed) outputs_.push_back(OutputDef{v.name, OutputKind::Feature});
    }
}

OutputKind Translator::output_kind(const Value& v) const {
    // The node that computed the output, through the reshapes that only relabel it (Flatten, Reshape).
    int p = v.producer;
    while (p >= 0 && (nodes_[size_t(p)].op == op_name(OpKind::Reshape) || nodes_[size_t(p)].op == op_name(OpKind::Identity)) &&
           !nodes_[size_t(p)].inputs.empty()) {
        const std::string& src = nodes_[size_t(p)].inputs[0];
        const auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const NodeDef& n) { return n.output == src; });
        p = it == nodes_.end() ? -1 : static_cast<int>(it - nodes_.begin());
    }
    if (p < 0) return OutputKind::Feature;
    const std::string& op = nodes_[size_t(p)].op;
    if (op == op_name(OpKind::Softmax)) return OutputKind::Probabilities;
    // A classifier's scores come from a Dense (or a 1x1 convolution, as in MobileNetV3's head); a vector from a
    // pooling layer (include_top=False, pooling="avg") is a feature vector, not class scores.
    const bool scores = op == op_name(OpKind::FullyConnected) || op == op_name(OpKind::Conv2d);
    return scores && v.shape.size() == 1 ? OutputKind::Logits : OutputKind::Feature;
}

void Translator::write(ModelWriter& writer) {
    ModelDef& def = writer.def();
    const std::vector<int64_t> hwc = input_hwc();
    def.input.name = graph_.input_name;
    def.input.shape = {1, hwc[2], hwc[0], hwc[1]};
    def.outputs = outputs_;
    for (const Constant& c : constants_) writer.add_f32(c.name, c.shape, c.values);
    def.nodes = std::move(nodes_);
}

std::vector<int64_t> Translator::input_hwc() const { return graph_.input_shape; }

int64_t Translator::classes() const {
    const Value& v = values_.at(static_cast<size_t>(graph_.outputs.at(0)));
    int64_t n = 1;
    for (int64_t d : v.shape) n *= d;
    return n;
}

void Translator::fail(const FlatLayer& l, ErrorCode code, const std::string& what) const {
    throw Error(code, where_ + ": layer '" + l.name + "' (" + l.class_name + ")" +
                          (l.scope.empty() ? "" : " in model '" + l.scope + "'") + ": " + what);
}

const WeightArray& Translator::weight(const FlatLayer& l, const std::string& name, const Shape& expected) const {
    const WeightArray* w = weights_.find(l.name, name, l.scope);
    if (!w) fail(l, ErrorCode::ModelFormat, "weight '" + name + "' is missing from the file");
    if (w->shape != expected) {
        fail(l, ErrorCode::ModelFormat, "weight '" + name + "' has shape " + shape_text(w->shape) +
                                            ", the layer's config needs " + shape_text(expected));
    }
    return *w;
}

Translator::Act Translator::parse_activation(const FlatLayer& l, const std::string& name) const {
    // Every Keras activation name the importer reads (Keras 2 and 3, tfjs-layers), and what it becomes.
    // hard_sigmoid changed meaning in Keras 3 (see below).
    struct KerasActivation {
        const char* name;
        ActForm form;
        Activation kind;
    };
    static constexpr KerasActivation kKerasActivations[] = {
        {"linear", ActForm::None, Activation::None},
        {"relu", ActForm::Kind, Activation::Relu},
        {"relu6", ActForm::Kind, Activation::Relu6},
        {"sigmoid", ActForm::Kind, Activation::Sigmoid},
        {"hard_sigmoid", ActForm::Kind, Activation::HardSigmoid},
        {"hard_swish", ActForm::Kind, Activation::HardSwish},
        {"hard_silu", ActForm::Kind, Activation::HardSwish},  // Keras 3's name for hard_swish
        {"swish", ActForm::Swish, Activation::None},
        {"silu", ActForm::Swish, Activation::None},
        {"softmax", ActForm::Softmax, Activation::None},
    };
    if (name.empty()) return {ActForm::None, Activation::None};
    // Keras 2's hard_sigmoid is another function (kKerasHardSigmoidScale).
    if (name == "hard_sigmoid" && !keras3_) return {ActForm::KerasHardSigmoid, Activation::None};
    std::string known;
    for (const KerasActivation& a : kKerasActivations) {
        if (name == a.name) return {a.form, a.kind};
        known += (known.empty() ? "" : ", ") + std::string(a.name);
    }
    fail(l, ErrorCode::Unsupported, "activation '" + name + "' is not supported (mnet has " + known + ")");
}

const Translator::Value& Translator::raw_operand(const FlatLayer& l, size_t i) const {
    if (i >= l.inputs.size()) fail(l, ErrorCode::ModelFormat, "missing input " + std::to_string(i));
    const Value& v = values_[static_cast<size_t>(l.inputs[i])];
    if (!v.defined) fail(l, ErrorCode::ModelFormat, "reads a tensor no layer defined");
    return v;
}

const Translator::Value& Translator::operand(const FlatLayer& l, size_t i) {
    raw_operand(l, i);
    materialize(l.inputs[i]);
    return values_[static_cast<size_t>(l.inputs[i])];
}

// A ZeroPadding2D that no convolution or pooling absorbed: a 1x1 depthwise convolution with weight 1 and the
// padding as its own, which copies the map into a zero border exactly.
void Translator::materialize(int tensor) {
    Value& v = values_[static_cast<size_t>(tensor)];
    if (!v.padded) return;
    for (int64_t p : v.pad) {
        if (p > kMaxPad) {
            throw Error(ErrorCode::Unsupported, where_ + ": layer '" + v.pad_layer + "' (ZeroPadding2D) pads by " +
                                                    std::to_string(p) + ", mnet pads by at most 64");
        }
    }
    const int64_t C = v.src_shape[2];
    NodeDef nd;
    nd.op = op_name(OpKind::Conv2d);
    nd.inputs = {v.name};
    nd.attrs["groups"] = C;
    nd.attrs["pad"] = std::vector<int64_t>(v.pad.begin(), v.pad.end());
    nd.weights["weights"] = add_constant(v.pad_layer + "/ones", {C, 1, 1, 1}, std::vector<float>(size_t(C), 1.0f));
    const int node = emit(std::move(nd), v.pad_layer);
    v.name = nodes_[node].output;
    v.producer = node;
    v.exclusive = false;
    v.padded = false;
}

bool Translator::fusable(int tensor) const {
    const Value& v = values_[static_cast<size_t>(tensor)];
    return v.exclusive && !v.padded && v.producer >= 0 && uses_[tensor] == 1;
}

int Translator::emit(NodeDef nd, const std::string& name) {
    nd.name = nd.output = unique(name);
    nodes_.push_back(std::move(nd));
    return static_cast<int>(nodes_.size()) - 1;
}

int Translator::activate(const FlatLayer& l, const std::string& src_name, int src, const Act& act, const Shape& shape,
                         bool can_fuse, const std::string& name) {
    switch (act.form) {
        case ActForm::None: return src;
        case ActForm::Kind: {
            if (can_fuse && src >= 0) {
                NodeDef& n = nodes_[static_cast<size_t>(src)];
                const bool takes_attr = find_op(n.op)->fused_activation;
                auto it = n.attrs.find("activation");
                const bool linear =
                    it == n.attrs.end() || std::get<std::string>(it->second) == mnet::activation_name(Activation::None);
                if (takes_attr && linear) {
                    n.attrs["activation"] = std::string(mnet::activation_name(act.kind));
                    return src;
                }
            }
            NodeDef nd;
            nd.op = op_name(OpKind::Activation);
            nd.inputs = {src_name};
            nd.attrs["kind"] = std::string(mnet::activation_name(act.kind));
            return emit(std::move(nd), name);
        }
        case ActForm::Softmax: {
            const bool vector = shape.size() == 1 || (shape.size() == 3 && shape[0] == 1 && shape[1] == 1);
            if (!vector) {
                fail(l, ErrorCode::Unsupported, "softmax over a " + shape_text(shape) + " map; mnet's softmax takes a vector");
            }
            NodeDef nd;
            nd.op = op_name(OpKind::Softmax);
            nd.inputs = {src_name};
            return emit(std::move(nd), name);
        }
        case ActForm::KerasHardSigmoid: {
            NodeDef nd;
            nd.op = op_name(OpKind::Mul);
            nd.inputs = {src_name};
            nd.weights["b"] = add_constant(name + "/scale", {1}, {kKerasHardSigmoidScale});
            nd.attrs["activation"] = std::string(mnet::activation_name(Activation::HardSigmoid));
            return emit(std::move(nd), name);
        }
        case ActForm::Swish: {  // x * sigmoid(x)
            NodeDef sig;
            sig.op = op_name(OpKind::Activation);
            sig.inputs = {src_name};
            sig.attrs["kind"] = std::string(mnet::activation_name(Activation::Sigmoid));
            const int s = emit(std::move(sig), name + "/sigmoid");
            NodeDef nd;
            nd.op = op_name(OpKind::Mul);
            nd.inputs = {src_name, nodes_[static_cast<size_t>(s)].output};
            return emit(std::move(nd), name);
        }
    }
    return src;
}

bool Translator::act_nonneg(const Act& act) {
    return (act.form == ActForm::Kind && is_nonneg(act.kind)) || act.form == ActForm::Softmax ||
           act.form == ActForm::KerasHardSigmoid;
}

void Translator::bind(int tensor, int node, Shape shape, bool nonneg) {
    Value& v = values_[static_cast<size_t>(tensor)];
    v = Value{};
    v.defined = true;
    v.name = nodes_[node].output;
    v.shape = std::move(shape);
    v.producer = node;
    v.exclusive = true;
    v.nonneg = nonneg;
}

void Translator::alias(int tensor, int src) {
    Value v = values_[static_cast<size_t>(src)];
    v.exclusive = v.exclusive && uses_[src] == 1;
    values_[static_cast<size_t>(tensor)] = std::move(v);
}

std::string Translator::add_constant(const std::string& base, Shape shape, std::vector<float> values) {
    const std::string name = unique(base);
    constant_index_[name] = constants_.size();
    constants_.push_back(Constant{name, std::move(shape), std::move(values)});
    return name;
}

Translator::Constant& Translator::constant(const std::string& name) { return constants_.at(constant_index_.at(name)); }

std::string Translator::channel_constant(const std::string& base, const Value& v, std::vector<float> values) {
    if (v.shape.size() == 3) return add_constant(base, {1, v.shape[2], 1, 1}, std::move(values));
    if (!v.nhwc_flat.empty()) {  // per Keras flat index (NHWC) -> ours (NCHW)
        const int64_t H = v.nhwc_flat[0], W = v.nhwc_flat[1], C = v.nhwc_flat[2];
        std::vector<float> ours(values.size());
        for (int64_t c = 0; c < C; ++c) {
            for (int64_t p = 0; p < H * W; ++p) ours[size_t(c * H * W + p)] = values[size_t(p * C + c)];
        }
        values = std::move(ours);
    }
    const int64_t K = int64_t(values.size());
    return add_constant(base, {1, K}, std::move(values));
}

std::string Translator::unique(const std::string& base) {
    std::string name = base;
    for (int i = 2; names_.count(name); ++i) name = base + "_" + std::to_string(i);
    names_.insert(name);
    return name;
}

}  // namespace mnet::importer::keras
