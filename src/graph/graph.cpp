// SPDX-License-Identifier: Apache-2.0
// Load-time validation of a model (FORMAT.md "What a reader checks", steps 3 and 4) and shape inference.
#include "graph/graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "core/checked.h"
#include "model/format.h"
#include "mnet/error.h"

namespace mnet {

namespace {

// Bounds that no MobileNet comes near; they keep a hostile file from asking for absurd memory or compute.
constexpr int64_t kMaxActivationElements = int64_t{1} << 28;  // 1 GiB of float32 per activation at batch 1
constexpr int64_t kMaxKernel = 64;
constexpr int64_t kMaxStride = 64;
constexpr int64_t kMaxPad = 64;

// The op table: FORMAT.md's op names mapped in exactly one place.
struct OpSpec {
    const char* name;
    OpKind kind;
    std::set<std::string> attrs;
    std::set<std::string> weights;
    size_t min_inputs, max_inputs;
};

const std::vector<OpSpec>& op_specs() {
    static const std::vector<OpSpec> specs = {
        {"conv2d", OpKind::Conv2d, {"stride", "dilation", "pad", "groups", "activation"}, {"weights", "bias"}, 1, 1},
        {"fully_connected", OpKind::FullyConnected, {"activation"}, {"weights", "bias"}, 1, 1},
        {"add", OpKind::Add, {"activation"}, {"b"}, 1, 2},
        {"mul", OpKind::Mul, {"activation"}, {"b"}, 1, 2},
        {"activation", OpKind::Activation, {"kind"}, {}, 1, 1},
        {"identity", OpKind::Identity, {}, {}, 1, 1},
        {"avg_pool", OpKind::AvgPool, {"kernel", "stride", "pad"}, {}, 1, 1},
        {"max_pool", OpKind::MaxPool, {"kernel", "stride", "pad"}, {}, 1, 1},
        {"global_avg_pool", OpKind::GlobalAvgPool, {"keepdims"}, {}, 1, 1},
        {"reshape", OpKind::Reshape, {"shape"}, {}, 1, 1},
        {"softmax", OpKind::Softmax, {}, {}, 1, 1},
    };
    return specs;
}

const std::vector<std::pair<const char*, Activation>>& activation_names() {
    static const std::vector<std::pair<const char*, Activation>> names = {
        {"none", Activation::None},           {"relu", Activation::Relu},
        {"relu6", Activation::Relu6},         {"relu_n1_to_1", Activation::ReluN1To1},
        {"hard_swish", Activation::HardSwish}, {"hard_sigmoid", Activation::HardSigmoid},
        {"sigmoid", Activation::Sigmoid},
    };
    return names;
}

std::string shape_str(const Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

class Builder {
public:
    Builder(const ModelDef& def, const WeightFile& weights, std::string where)
        : def_(def), file_(weights), where_(std::move(where)) {}

    Graph build() {
        check_tensors();
        add_input();
        for (const NodeDef& nd : def_.nodes) add_node(nd);
        if (def_.outputs.empty()) fail("outputs: the model declares no output");
        std::set<int> listed;  // a set, not a search of graph_.outputs: a hostile list may be long
        for (const OutputDef& o : def_.outputs) {
            auto it = value_ids_.find(o.name);
            if (it == value_ids_.end()) fail("output '" + o.name + "' is not produced by any node");
            if (it->second == graph_.input) {
                fail("output '" + o.name + "' is the graph input, not produced by any node");
            }
            if (!listed.insert(it->second).second) fail("output '" + o.name + "' is listed twice");
            graph_.outputs.push_back(it->second);
        }
        return std::move(graph_);
    }

private:
    [[noreturn]] void fail(const std::string& what, ErrorCode code = ErrorCode::ModelFormat) const {
        throw Error(code, where_ + ": " + what);
    }

    void check_tensors() {
        if (def_.alignment < format::kMinAlignment || (def_.alignment & (def_.alignment - 1)) != 0) {
            fail("alignment " + std::to_string(def_.alignment) + " is not a power of two >= 16");
        }
        std::vector<const TensorDef*> by_offset;
        for (const TensorDef& t : def_.tensors) {
            const std::string at = "tensor '" + t.name + "'";
            if (!tensors_.emplace(t.name, &t).second) fail(at + ": duplicate tensor name");
            if (t.shape.empty() || t.shape.size() > format::kMaxRank) {
                fail(at + ": rank " + std::to_string(t.shape.size()) + ", expected 1 to 4");
            }
            uint64_t numel = 1;
            for (int64_t d : t.shape) {
                if (d < 1) fail(at + ": dimension " + std::to_string(d) + " in shape " + shape_str(t.shape));
                auto n = checked_mul(numel, static_cast<uint64_t>(d));
                if (!n) fail(at + ": shape " + shape_str(t.shape) + " overflows");
                numel = *n;
            }
            auto bytes = checked_mul(numel, static_cast<uint64_t>(dtype_size(t.dtype)));
            if (!bytes || *bytes != t.nbytes) {
                fail(at + ": nbytes " + std::to_string(t.nbytes) + " does not match shape " + shape_str(t.shape) +
                     " of " + dtype_name(t.dtype));
            }
            if (t.offset % def_.alignment != 0) {
                fail(at + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                     std::to_string(def_.alignment));
            }
            auto end = checked_add(t.offset, t.nbytes);
            if (t.offset < format::kHeaderSize || !end || *end > file_.size()) {
                fail(at + ": bytes [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
                     ") lie outside the weights data [64, " + std::to_string(file_.size()) + ")");
            }
            if (t.quant) check_quant(*t.quant, t.shape, at);
            by_offset.push_back(&t);
        }
        std::sort(by_offset.begin(), by_offset.end(),
                  [](const TensorDef* a, const TensorDef* b) { return a->offset < b->offset; });
        for (size_t i = 1; i < by_offset.size(); ++i) {
            if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset) {
                fail("tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
            }
        }
    }

    void check_quant(const QuantParams& q, const Shape& shape, const std::string& at) const {
        if (q.axis >= 0) {
            if (static_cast<size_t>(q.axis) >= shape.size() || static_cast<int64_t>(q.scale.size()) != shape[q.axis]) {
                fail(at + ": per-channel quantization along axis " + std::to_string(q.axis) + " has " +
                     std::to_string(q.scale.size()) + " scales for shape " + shape_str(shape));
            }
        }
    }

    void add_value(const std::string& name, Shape shape, int producer, const std::string& at) {
        if (tensors_.count(name)) fail(at + ": activation '" + name + "' has the name of a constant tensor");
        if (!value_ids_.emplace(name, static_cast<int>(graph_.values.size())).second) {
            fail(at + ": activation '" + name + "' is defined twice");
        }
        if (shape.empty() || shape[0] != 1) fail(at + ": output shape " + shape_str(shape) + " is not batch 1");
        int64_t numel = 1;
        for (int64_t d : shape) {
            if (d < 1) fail(at + ": output shape " + shape_str(shape) + " is empty");
            auto n = checked_mul(numel, d);
            if (!n || *n > kMaxActivationElements) fail(at + ": output shape " + shape_str(shape) + " is too large");
            numel = *n;
        }
        graph_.values.push_back(Value{name, std::move(shape), producer, {}});
    }

    void add_input() {
        const Shape& s = def_.input.shape;
        if (s.size() != 4 || s[0] != 1 || s[1] != 3) {
            fail("input: shape " + shape_str(s) + ", expected [1, 3, H, W]");
        }
        if (s[2] != def_.preprocess.height || s[3] != def_.preprocess.width) {
            fail("preprocess: size " + std::to_string(def_.preprocess.height) + "x" +
                 std::to_string(def_.preprocess.width) + " does not match the input shape " + shape_str(s));
        }
        if (def_.input.quant) check_quant(*def_.input.quant, s, "input");
        add_value(def_.input.name, s, -1, "input");
        graph_.input = 0;
    }

    const TensorDef* weight(const NodeDef& nd, const std::string& role, bool required, const std::string& at) {
        auto it = nd.weights.find(role);
        if (it == nd.weights.end()) {
            if (required) fail(at + ": missing weight '" + role + "'");
            return nullptr;
        }
        auto t = tensors_.find(it->second);
        if (t == tensors_.end()) fail(at + ": weight '" + role + "' names unknown tensor '" + it->second + "'");
        if (t->second->dtype != DType::F32) {
            fail(at + ": weight '" + role + "' is " + dtype_name(t->second->dtype) + ", version 1 executes f32",
                 ErrorCode::Unsupported);
        }
        return t->second;
    }

    Activation parse_activation(const std::string& s, const std::string& at) const {
        for (const auto& [name, act] : activation_names()) {
            if (s == name) return act;
        }
        fail(at + ": unknown activation '" + s + "'");
    }

    Window parse_window(const NodeDef& nd, bool has_kernel_attr, const std::string& at) const {
        Window w;
        if (has_kernel_attr) {
            auto k = attr_ints(nd, "kernel", 2);
            w.kernel_h = k[0];
            w.kernel_w = k[1];
        }
        auto s = attr_ints(nd, "stride", 2, std::vector<int64_t>{1, 1});
        w.stride_h = s[0];
        w.stride_w = s[1];
        if (nd.attrs.count("dilation")) {
            auto d = attr_ints(nd, "dilation", 2);
            w.dilation_h = d[0];
            w.dilation_w = d[1];
        }
        auto p = attr_ints(nd, "pad", 4, std::vector<int64_t>{0, 0, 0, 0});
        w.pad_t = p[0];
        w.pad_l = p[1];
        w.pad_b = p[2];
        w.pad_r = p[3];
        for (int64_t v : {w.stride_h, w.stride_w, w.dilation_h, w.dilation_w}) {
            if (v < 1 || v > kMaxStride) fail(at + ": stride and dilation must be in [1, 64]");
        }
        for (int64_t v : {w.pad_t, w.pad_l, w.pad_b, w.pad_r}) {
            if (v < 0 || v > kMaxPad) fail(at + ": padding must be in [0, 64]");
        }
        return w;
    }

    // Output size of a window over `in` pixels; fails when the window does not fit.
    int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1, const std::string& at) const {
        if (k < 1 || k > kMaxKernel) fail(at + ": kernel size " + std::to_string(k) + " outside [1, 64]");
        const int64_t extent = (k - 1) * d + 1;
        const int64_t span = in + p0 + p1 - extent;
        if (span < 0) {
            fail(at + ": kernel extent " + std::to_string(extent) + " exceeds the padded input " +
                 std::to_string(in + p0 + p1));
        }
        return span / s + 1;
    }

    const Shape& input_shape(const Node& n, size_t i) const { return graph_.values[n.inputs[i]].shape; }

    void add_node(const NodeDef& nd) {
        const std::string at = "node '" + nd.name + "'";
        auto spec = std::find_if(op_specs().begin(), op_specs().end(),
                                 [&](const OpSpec& s) { return nd.op == s.name; });
        if (spec == op_specs().end()) fail(at + ": unknown op '" + nd.op + "'", ErrorCode::Unsupported);
        if (!node_names_.insert(nd.name).second) fail(at + ": duplicate node name");
        for (const auto& [key, value] : nd.attrs) {
            if (!spec->attrs.count(key)) fail(at + " (" + nd.op + "): unknown attribute '" + key + "'");
        }
        for (const auto& [role, tensor] : nd.weights) {
            if (!spec->weights.count(role)) fail(at + " (" + nd.op + "): unknown weight role '" + role + "'");
        }
        if (nd.inputs.size() < spec->min_inputs || nd.inputs.size() > spec->max_inputs) {
            fail(at + ": " + std::to_string(nd.inputs.size()) + " inputs, " + nd.op + " takes " +
                 std::to_string(spec->min_inputs) + (spec->max_inputs > spec->min_inputs ? " or " + std::to_string(spec->max_inputs) : ""));
        }

        Node n;
        n.name = nd.name;
        n.op = spec->kind;
        for (const std::string& in : nd.inputs) {
            auto it = value_ids_.find(in);
            if (it == value_ids_.end()) fail(at + ": input '" + in + "' is not defined by an earlier node");
            n.inputs.push_back(it->second);
        }
        if (spec->attrs.count("activation")) {
            n.activation = parse_activation(attr_string(nd, "activation", std::string("none")), at);
        }

        Shape out;
        const Shape& x = input_shape(n, 0);
        switch (n.op) {
            case OpKind::Conv2d: out = infer_conv(nd, n, x, at); break;
            case OpKind::FullyConnected: out = infer_fc(nd, n, x, at); break;
            case OpKind::Add:
            case OpKind::Mul: out = infer_binary(nd, n, at); break;
            case OpKind::Activation:
                n.activation = parse_activation(attr_string(nd, "kind"), at);
                if (n.activation == Activation::None) fail(at + ": activation kind 'none'; use identity");
                out = x;
                break;
            case OpKind::Identity: out = x; break;
            case OpKind::AvgPool:
            case OpKind::MaxPool: {
                if (x.size() != 4) fail(at + ": input shape " + shape_str(x) + " is not [N,C,H,W]");
                n.window = parse_window(nd, true, at);
                const Window& w = n.window;
                out = {1, x[1], out_size(x[2], w.kernel_h, w.stride_h, 1, w.pad_t, w.pad_b, at),
                       out_size(x[3], w.kernel_w, w.stride_w, 1, w.pad_l, w.pad_r, at)};
                // Padding no smaller than the window would leave output pixels that see only padding.
                if (w.pad_t >= w.kernel_h || w.pad_b >= w.kernel_h || w.pad_l >= w.kernel_w || w.pad_r >= w.kernel_w) {
                    fail(at + ": pooling padding must be smaller than the kernel");
                }
                break;
            }
            case OpKind::GlobalAvgPool: {
                if (x.size() != 4) fail(at + ": input shape " + shape_str(x) + " is not [N,C,H,W]");
                int64_t keep = attr_int(nd, "keepdims", 1);
                if (keep != 0 && keep != 1) fail(at + ": keepdims must be 0 or 1");
                n.keepdims = keep == 1;
                out = n.keepdims ? Shape{1, x[1], 1, 1} : Shape{1, x[1]};
                break;
            }
            case OpKind::Reshape: out = infer_reshape(nd, x, at); break;
            case OpKind::Softmax:
                if (!(x.size() == 2 || (x.size() == 4 && x[2] == 1 && x[3] == 1))) {
                    fail(at + ": softmax input " + shape_str(x) + " must be [N,C] or [N,C,1,1]");
                }
                out = x;
                break;
        }
        if (nd.dst_quant) n.saturate = saturation_range(*nd.dst_quant, at);

        n.output = static_cast<int>(graph_.values.size());
        add_value(nd.output, out, static_cast<int>(graph_.nodes.size()), at);
        for (int in : n.inputs) graph_.values[in].consumers.push_back(static_cast<int>(graph_.nodes.size()));
        graph_.nodes.push_back(std::move(n));
    }

    Shape infer_conv(const NodeDef& nd, Node& n, const Shape& x, const std::string& at) {
        if (x.size() != 4) fail(at + ": input shape " + shape_str(x) + " is not [N,C,H,W]");
        n.weights = weight(nd, "weights", true, at);
        n.bias = weight(nd, "bias", false, at);
        const Shape& ws = n.weights->shape;
        if (ws.size() != 4) fail(at + ": weights shape " + shape_str(ws) + " is not [OC, C/groups, KH, KW]");
        n.groups = attr_int(nd, "groups", 1);
        const int64_t C = x[1], OC = ws[0], G = n.groups;
        if (G < 1 || C % G != 0 || OC % G != 0) {
            fail(at + ": groups " + std::to_string(G) + " must divide the input channels " + std::to_string(C) +
                 " and output channels " + std::to_string(OC));
        }
        if (ws[1] != C / G) {
            fail(at + ": weights shape " + shape_str(ws) + " expects " + std::to_string(ws[1] * G) +
                 " input channels, the input has " + std::to_string(C));
        }
        if (n.bias && n.bias->shape != Shape{OC}) {
            fail(at + ": bias shape " + shape_str(n.bias->shape) + ", expected [" + std::to_string(OC) + "]");
        }
        n.window = parse_window(nd, false, at);
        n.window.kernel_h = ws[2];
        n.window.kernel_w = ws[3];
        const Window& w = n.window;
        Shape out = {1, OC, out_size(x[2], w.kernel_h, w.stride_h, w.dilation_h, w.pad_t, w.pad_b, at),
                     out_size(x[3], w.kernel_w, w.stride_w, w.dilation_w, w.pad_l, w.pad_r, at)};
        n.macs = OC * out[2] * out[3] * (C / G) * w.kernel_h * w.kernel_w;
        n.params = shape_numel(ws) + (n.bias ? OC : 0);
        return out;
    }

    Shape infer_fc(const NodeDef& nd, Node& n, const Shape& x, const std::string& at) {
        n.weights = weight(nd, "weights", true, at);
        n.bias = weight(nd, "bias", false, at);
        const Shape& ws = n.weights->shape;
        const int64_t K = shape_numel(x);
        if (ws.size() != 2 || ws[1] != K) {
            fail(at + ": weights shape " + shape_str(ws) + ", expected [OC, " + std::to_string(K) + "]");
        }
        if (n.bias && n.bias->shape != Shape{ws[0]}) {
            fail(at + ": bias shape " + shape_str(n.bias->shape) + ", expected [" + std::to_string(ws[0]) + "]");
        }
        n.macs = ws[0] * K;
        n.params = ws[0] * K + (n.bias ? ws[0] : 0);
        return {1, ws[0]};
    }

    Shape infer_binary(const NodeDef& nd, Node& n, const std::string& at) {
        n.constant = weight(nd, "b", false, at);
        if ((n.inputs.size() == 2) == (n.constant != nullptr)) {
            fail(at + ": the second operand must be either a second input or the weight 'b', exactly one of them");
        }
        const Shape& a = input_shape(n, 0);
        const Shape& b = n.constant ? n.constant->shape : input_shape(n, 1);
        const size_t rank = std::max(a.size(), b.size());
        auto padded = [rank](const Shape& s) {
            Shape p(rank - s.size(), 1);
            p.insert(p.end(), s.begin(), s.end());
            return p;
        };
        const Shape pa = padded(a), pb = padded(b);
        Shape out(rank);
        for (size_t i = 0; i < rank; ++i) {
            if (pa[i] != pb[i] && pa[i] != 1 && pb[i] != 1) {
                fail(at + ": operand shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
            }
            out[i] = std::max(pa[i], pb[i]);
        }
        if (pa != out && pb != out) {
            fail(at + ": neither operand " + shape_str(a) + " nor " + shape_str(b) + " has the output shape",
                 ErrorCode::Unsupported);
        }
        if (n.constant) n.params = shape_numel(b);
        return out;
    }

    Shape infer_reshape(const NodeDef& nd, const Shape& x, const std::string& at) {
        auto dims = attr_ints(nd, "shape", 0);
        if (dims.empty() || dims.size() > format::kMaxRank - 1) fail(at + ": shape must have 1 to 3 dims");
        Shape out = {1};
        int64_t known = 1;
        int inferred = -1;
        for (size_t i = 0; i < dims.size(); ++i) {
            if (dims[i] == -1 && inferred < 0) {
                inferred = static_cast<int>(i);
                out.push_back(1);
                continue;
            }
            if (dims[i] < 1) fail(at + ": shape " + shape_str(dims) + " has an invalid dimension");
            auto k = checked_mul(known, dims[i]);
            if (!k) fail(at + ": shape " + shape_str(dims) + " overflows");
            known = *k;
            out.push_back(dims[i]);
        }
        const int64_t numel = shape_numel(x);
        if (inferred >= 0) {
            if (numel % known != 0) fail(at + ": cannot reshape " + shape_str(x) + " to " + shape_str(dims));
            out[static_cast<size_t>(inferred) + 1] = numel / known;
        } else if (known != numel) {
            fail(at + ": cannot reshape " + shape_str(x) + " (" + std::to_string(numel) + " elements) to " + shape_str(dims));
        }
        return out;
    }

    std::optional<Range> saturation_range(const QuantParams& q, const std::string& at) const {
        if (q.axis >= 0) fail(at + ": per-channel activation quantization is not supported", ErrorCode::Unsupported);
        int64_t qmin = 0, qmax = 0;
        switch (q.dtype) {
            case DType::U8: qmin = 0; qmax = 255; break;
            case DType::S8: qmin = -128; qmax = 127; break;
            default: return std::nullopt;  // 32-bit activations saturate nowhere a float could reach
        }
        const double s = q.scale[0];
        const int64_t zero_point = q.zero_point[0];
        if (zero_point < qmin || zero_point > qmax) fail(at + ": zero point " + std::to_string(q.zero_point[0]) + " outside the dtype's range");
        // A bound beyond float's range saturates nothing; converting it unclamped would be undefined behaviour.
        auto bound = [](double v) {
            constexpr double kMax = std::numeric_limits<float>::max();
            return v > kMax ? std::numeric_limits<float>::infinity()
                            : v < -kMax ? -std::numeric_limits<float>::infinity() : static_cast<float>(v);
        };
        return Range{bound(static_cast<double>(qmin - zero_point) * s),
                     bound(static_cast<double>(qmax - zero_point) * s)};
    }

    const ModelDef& def_;
    const WeightFile& file_;
    std::string where_;
    Graph graph_;
    std::map<std::string, const TensorDef*> tensors_;
    std::map<std::string, int> value_ids_;
    std::set<std::string> node_names_;
};

}  // namespace

const char* op_name(OpKind op) {
    for (const OpSpec& s : op_specs()) {
        if (s.kind == op) return s.name;
    }
    return "?";
}

const char* activation_name(Activation act) {
    for (const auto& [name, a] : activation_names()) {
        if (a == act) return name;
    }
    return "?";
}

Graph build_graph(const ModelDef& def, const WeightFile& weights, const std::string& where) {
    try {
        return Builder(def, weights, where).build();
    } catch (const Error& e) {
        // The attribute accessors (model_def.cpp) name the node but cannot know the file; every error must.
        const std::string what = e.what();
        if (what.compare(0, where.size() + 2, where + ": ") == 0) throw;
        throw Error(e.code(), where + ": " + what);
    }
}

std::vector<float> tensor_values(const WeightFile& weights, const TensorDef& tensor) {
    std::vector<float> values(tensor.nbytes / sizeof(float));
    std::memcpy(values.data(), weights.data() + tensor.offset, values.size() * sizeof(float));
    return values;
}

}  // namespace mnet
