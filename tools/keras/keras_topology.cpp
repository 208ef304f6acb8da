// SPDX-License-Identifier: Apache-2.0
#include "keras_topology.h"

#include <map>

#include "mnet/error.h"

namespace mnet::importer::keras {

namespace {

using json = nlohmann::json;

// Nested models deeper than this are taken for a hostile file (real models nest two or three levels).
constexpr int kMaxNesting = 32;
constexpr size_t kMaxLayers = 100000;

// One inbound tensor: the output `tensor` of call `node` of layer `layer`.
struct Ref {
    std::string layer;
    int64_t node = 0;
    int64_t tensor = 0;
    std::string key() const { return layer + "\x1f" + std::to_string(node) + "\x1f" + std::to_string(tensor); }
};

class Flattener {
public:
    explicit Flattener(std::string where) : where_(std::move(where)) {}

    FlatGraph run(const json& topology) {
        const std::string cls = class_of(topology, "the model");
        if (!is_model_class(cls)) {
            fail(ErrorCode::Unsupported, "the topology is a '" + cls + "', not a Sequential or Functional model");
        }
        graph_.outputs = expand(topology, {}, "", 0);
        if (graph_.input < 0) fail(ErrorCode::ModelFormat, "the model has no input layer");
        if (graph_.outputs.empty()) fail(ErrorCode::ModelFormat, "the model has no outputs");
        return std::move(graph_);
    }

private:
    [[noreturn]] void fail(ErrorCode code, const std::string& what) const { throw Error(code, where_ + ": " + what); }

    std::string class_of(const json& layer, const std::string& what) const {
        if (!layer.is_object() || !layer.contains("class_name") || !layer["class_name"].is_string()) {
            fail(ErrorCode::ModelFormat, what + " has no class_name");
        }
        if (!layer.contains("config") || !(layer["config"].is_object() || layer["config"].is_array())) {
            fail(ErrorCode::ModelFormat, what + " has no config");
        }
        return layer["class_name"];
    }

    std::string name_of(const json& layer) const {
        if (layer.contains("name") && layer["name"].is_string()) return layer["name"];
        const json& config = layer["config"];
        if (config.is_object() && config.contains("name") && config["name"].is_string()) return config["name"];
        fail(ErrorCode::ModelFormat, "a " + layer["class_name"].get<std::string>() + " layer has no name");
    }

    int new_tensor() { return graph_.tensor_count++; }

    // The graph input, from a batch shape [null, H, W, C].
    int make_input(const std::string& name, const json& config, const std::string& what) {
        if (graph_.input >= 0) {
            fail(ErrorCode::Unsupported, what + " is a second model input; mnet models take one image");
        }
        const json* shape = nullptr;
        for (const char* key : {"batch_input_shape", "batch_shape"}) {
            if (config.is_object() && config.contains(key)) shape = &config[key];
        }
        if (!shape || !shape->is_array() || shape->empty()) {
            fail(ErrorCode::ModelFormat, what + " declares no batch_input_shape");
        }
        for (size_t i = 1; i < shape->size(); ++i) {
            const json& d = (*shape)[i];
            if (d.is_null()) {
                graph_.input_shape.push_back(-1);
            } else if (d.is_number_integer() && d.get<int64_t>() > 0) {
                graph_.input_shape.push_back(d.get<int64_t>());
            } else {
                fail(ErrorCode::ModelFormat, what + ": bad dimension in its batch_input_shape");
            }
        }
        graph_.input_name = name;
        graph_.input = new_tensor();
        return graph_.input;
    }

    std::vector<int> expand(const json& model, const std::vector<int>& bound, const std::string& scope, int depth) {
        if (depth > kMaxNesting) fail(ErrorCode::Unsupported, "models nested more than 32 deep");
        const std::string cls = class_of(model, "a nested model");
        if (cls == "Sequential") return expand_sequential(model["config"], bound, scope, depth);
        return expand_functional(model["config"], bound, scope, depth);
    }

    std::vector<int> expand_sequential(const json& config, const std::vector<int>& bound, const std::string& scope,
                                       int depth) {
        // Keras 2.2+ writes {"name", "layers": [...]}; older versions the bare list.
        // (FlatLayer::config points into the topology, so no copies here.)
        const json* list = config.is_array() ? &config : nullptr;
        if (config.is_object() && config.contains("layers")) list = &config["layers"];
        const std::string what = scope.empty() ? std::string("the Sequential model") : "Sequential '" + scope + "'";
        if (!list || !list->is_array() || list->empty()) fail(ErrorCode::ModelFormat, what + " has no layers");
        const json& layers = *list;
        if (bound.size() > 1) fail(ErrorCode::ModelFormat, what + " is called on several tensors");
        std::vector<int> current = bound;
        bool first = true;
        for (size_t i = 0; i < layers.size(); ++i) {
            const json& layer = layers[i];
            const std::string cls = class_of(layer, what + " layer " + std::to_string(i));
            const std::string name = name_of(layer);
            if (cls == "InputLayer") {
                if (current.empty()) current = {make_input(name, layer["config"], "InputLayer '" + name + "'")};
                continue;
            }
            // Without an InputLayer the first layer carries the input shape; a nested model carries its own.
            if (current.empty() && !is_model_class(cls)) {
                current = {make_input(name + "_input", layer["config"], "layer '" + name + "' (" + cls + ")")};
            }
            current = call(layer, cls, name, current, scope, depth);
            if (current.size() != 1) fail(ErrorCode::Unsupported, what + ": layer '" + name + "' has several outputs");
            if (depth == 0 && first && is_model_class(cls) && i + 1 < layers.size()) graph_.features = current;
            first = false;
        }
        if (current.empty() || current == bound) fail(ErrorCode::ModelFormat, what + " has no computing layers");
        return current;
    }

    std::vector<Ref> parse_refs(const json& list, const std::string& what) const {
        std::vector<Ref> refs;
        if (!list.is_array()) fail(ErrorCode::ModelFormat, what + ": expected a list of [layer, node, tensor]");
        if (list.size() >= 3 && list[0].is_string()) return {parse_ref(list, what)};  // one bare triple
        for (const json& r : list) refs.push_back(parse_ref(r, what));
        return refs;
    }

    Ref parse_ref(const json& r, const std::string& what) const {
        if (!r.is_array() || r.size() < 3 || !r[0].is_string() || !r[1].is_number_integer() ||
            !r[2].is_number_integer()) {
            fail(ErrorCode::ModelFormat, what + ": expected [layer, node, tensor]");
        }
        return Ref{r[0], r[1], r[2]};
    }

    // One entry of a layer's inbound_nodes: Keras 2's [[layer, node, tensor, kwargs], ...], or Keras 3's
    // {"args": [...], "kwargs": {...}} where each tensor is {"class_name": "__keras_tensor__", "config":
    // {"keras_history": [layer, node, tensor]}}.
    std::vector<Ref> parse_node(const json& node, const std::string& what) const {
        std::vector<Ref> refs;
        if (node.is_array()) {
            for (const json& r : node) refs.push_back(parse_ref(r, what));
        } else if (node.is_object() && node.contains("args")) {
            collect_history(node["args"], what, refs);
        } else {
            fail(ErrorCode::ModelFormat, what + ": unknown inbound_nodes format");
        }
        if (refs.empty()) fail(ErrorCode::ModelFormat, what + ": a call without input tensors");
        return refs;
    }

    void collect_history(const json& j, const std::string& what, std::vector<Ref>& refs) const {
        if (j.is_array()) {
            for (const json& e : j) collect_history(e, what, refs);
        } else if (j.is_object()) {
            if (j.contains("config") && j["config"].is_object() && j["config"].contains("keras_history")) {
                refs.push_back(parse_ref(j["config"]["keras_history"], what));
            }
        }
    }

    std::vector<int> expand_functional(const json& config, const std::vector<int>& bound, const std::string& scope,
                                       int depth) {
        const std::string what = scope.empty() ? std::string("the model") : "model '" + scope + "'";
        if (!config.is_object() || !config.contains("layers") || !config["layers"].is_array()) {
            fail(ErrorCode::ModelFormat, what + " has no layers");
        }
        const json& layers = config["layers"];
        std::map<std::string, const json*> by_name;
        for (const json& layer : layers) {
            class_of(layer, what + " layer");
            if (!by_name.emplace(name_of(layer), &layer).second) {
                fail(ErrorCode::ModelFormat, what + ": two layers named '" + name_of(layer) + "'");
            }
        }
        std::map<std::string, int> tensors;  // Ref::key() -> tensor id
        const std::vector<Ref> inputs = parse_refs(config.value("input_layers", json::array()), what + " input_layers");
        if (!bound.empty() && bound.size() != inputs.size()) {
            fail(ErrorCode::ModelFormat, what + " has " + std::to_string(inputs.size()) + " inputs but is called on " +
                                             std::to_string(bound.size()) + " tensors");
        }
        for (size_t i = 0; i < inputs.size(); ++i) {
            auto it = by_name.find(inputs[i].layer);
            if (it == by_name.end()) fail(ErrorCode::ModelFormat, what + ": unknown input layer '" + inputs[i].layer + "'");
            tensors[inputs[i].key()] =
                bound.empty() ? make_input(inputs[i].layer, (*it->second)["config"], "input '" + inputs[i].layer + "'")
                              : bound[i];
        }

        struct Call {
            const json* layer;
            std::string cls, name;
            int64_t node;
            std::vector<Ref> refs;
        };
        std::vector<Call> pending;
        for (const json& layer : layers) {
            const std::string cls = layer["class_name"], name = name_of(layer);
            if (cls == "InputLayer") continue;
            const json inbound = layer.value("inbound_nodes", json::array());
            if (!inbound.is_array()) fail(ErrorCode::ModelFormat, what + ": layer '" + name + "' inbound_nodes");
            for (size_t k = 0; k < inbound.size(); ++k) {
                pending.push_back(Call{&layer, cls, name, static_cast<int64_t>(k),
                                       parse_node(inbound[k], "layer '" + name + "' inbound node " + std::to_string(k))});
            }
        }
        // Layers are listed in call order in practice; repeating the sweep handles any other order.
        while (!pending.empty()) {
            bool progress = false;
            for (size_t i = 0; i < pending.size();) {
                const Call& c = pending[i];
                std::vector<int> args;
                for (const Ref& r : c.refs) {
                    auto it = tensors.find(r.key());
                    if (it == tensors.end()) break;
                    args.push_back(it->second);
                }
                if (args.size() != c.refs.size()) {
                    ++i;
                    continue;
                }
                const std::vector<int> outs = call(*c.layer, c.cls, c.name, args, scope, depth);
                for (size_t t = 0; t < outs.size(); ++t) tensors[Ref{c.name, c.node, int64_t(t)}.key()] = outs[t];
                pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
                progress = true;
            }
            if (!progress) {
                const Call& c = pending.front();
                for (const Ref& r : c.refs) {
                    if (!tensors.count(r.key())) {
                        fail(ErrorCode::ModelFormat, what + ": layer '" + c.name + "' reads output " +
                                                         std::to_string(r.tensor) + " of call " + std::to_string(r.node) +
                                                         " of '" + r.layer + "', which nothing produces");
                    }
                }
            }
        }
        std::vector<int> outputs;
        for (const Ref& r : parse_refs(config.value("output_layers", json::array()), what + " output_layers")) {
            auto it = tensors.find(r.key());
            if (it == tensors.end()) fail(ErrorCode::ModelFormat, what + ": output '" + r.layer + "' is never computed");
            outputs.push_back(it->second);
        }
        return outputs;
    }

    std::vector<int> call(const json& layer, const std::string& cls, const std::string& name,
                          const std::vector<int>& inputs, const std::string& scope, int depth) {
        if (is_model_class(cls)) return expand(layer, inputs, name, depth + 1);
        if (graph_.layers.size() >= kMaxLayers) fail(ErrorCode::Unsupported, "more than 100000 layer calls");
        if (!layer["config"].is_object()) fail(ErrorCode::ModelFormat, "layer '" + name + "' config is not an object");
        FlatLayer flat{cls, name, scope, &layer["config"], inputs, new_tensor()};
        graph_.layers.push_back(flat);
        return {flat.output};
    }

    std::string where_;
    FlatGraph graph_;
};

}  // namespace

bool is_model_class(const std::string& class_name) {
    return class_name == "Sequential" || class_name == "Functional" || class_name == "Model";
}

FlatGraph flatten_topology(const nlohmann::json& topology, const std::string& where) {
    return Flattener(where).run(topology);
}

}  // namespace mnet::importer::keras
