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

// Bounds that no MobileNet comes near; they keep a hostile file from asking for absurd memory.
constexpr int64_t kMaxActivationElements = int64_t{1} << 28;  // 1 GiB of float32 per activation at batch 1

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
            graph_.values[static_cast<size_t>(it->second)].is_output = true;
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

    // What OpDef::infer sees: the node being built, its inputs' shapes and its weights.
    class Context final : public NodeContext {
    public:
        Context(Builder& builder, const NodeDef& nd, Node& n, std::string at)
            : NodeContext(nd, n), builder_(builder), at_(std::move(at)) {}
        const Shape& input_shape(size_t i) const override {
            return builder_.graph_.values[static_cast<size_t>(node.inputs.at(i))].shape;
        }
        const TensorDef* weight(const std::string& role, bool required) override {
            return builder_.weight(def, role, required, at_);
        }
        [[noreturn]] void fail(const std::string& what, ErrorCode code) const override {
            builder_.fail(at_ + ": " + what, code);
        }

    private:
        Builder& builder_;
        std::string at_;
    };

    // The op's row, after checking the node against it: attribute names, weight roles, input count.
    const OpDef& check_against_op(const NodeDef& nd, const std::string& at) {
        const OpDef* op = find_op(nd.op);
        if (!op) fail(at + ": unknown op '" + nd.op + "'", ErrorCode::Unsupported);
        if (!node_names_.insert(nd.name).second) fail(at + ": duplicate node name");
        auto lists = [](const auto& names, const std::string& key) {
            return std::find(names.begin(), names.end(), key) != names.end();
        };
        for (const auto& [key, value] : nd.attrs) {
            if (!lists(op->attrs, key)) fail(at + " (" + nd.op + "): unknown attribute '" + key + "'");
        }
        for (const auto& [role, tensor] : nd.weights) {
            if (!lists(op->weights, role)) fail(at + " (" + nd.op + "): unknown weight role '" + role + "'");
        }
        if (nd.inputs.size() < op->min_inputs || nd.inputs.size() > op->max_inputs) {
            fail(at + ": " + std::to_string(nd.inputs.size()) + " inputs, " + nd.op + " takes " +
                 std::to_string(op->min_inputs) +
                 (op->max_inputs > op->min_inputs ? " or " + std::to_string(op->max_inputs) : ""));
        }
        return *op;
    }

    void add_node(const NodeDef& nd) {
        const std::string at = "node '" + nd.name + "'";
        const OpDef& op = check_against_op(nd, at);
        Node n;
        n.name = nd.name;
        n.op = op.kind;
        for (const std::string& in : nd.inputs) {
            auto it = value_ids_.find(in);
            if (it == value_ids_.end()) fail(at + ": input '" + in + "' is not defined by an earlier node");
            n.inputs.push_back(it->second);
        }
        if (op.fused_activation) {
            const std::string act = attr_string(nd, "activation", std::string("none"));
            if (!find_activation(act, n.activation)) fail(at + ": unknown activation '" + act + "'");
        }
        Context ctx(*this, nd, n, at);
        const Shape out = op.infer(ctx);
        if (nd.dst_quant) n.saturate = saturation_range(*nd.dst_quant, at);

        n.output = static_cast<int>(graph_.values.size());
        add_value(nd.output, out, static_cast<int>(graph_.nodes.size()), at);
        for (int in : n.inputs) graph_.values[in].consumers.push_back(static_cast<int>(graph_.nodes.size()));
        graph_.nodes.push_back(std::move(n));
    }

    std::optional<Range> saturation_range(const QuantParams& q, const std::string& at) const {
        if (q.axis >= 0) fail(at + ": per-channel activation quantization is not supported", ErrorCode::Unsupported);
        const std::optional<QuantRange> range = quant_range(q.dtype);
        if (!range) return std::nullopt;  // 32-bit activations saturate nowhere a float could reach
        const int64_t qmin = range->lo, qmax = range->hi;
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
