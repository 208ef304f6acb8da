// SPDX-License-Identifier: Apache-2.0
// A Keras model topology (model_config / modelTopology JSON), flattened: nested Sequential and Functional models
// are expanded in place, InputLayers of nested models are bound to what feeds them, and every remaining layer call
// becomes one FlatLayer reading and writing numbered tensors, in an order where inputs come first.
// Internal to the Keras importer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mnet::importer::keras {

struct FlatLayer {
    std::string class_name;           // "Conv2D", "BatchNormalization", ...
    std::string name;                 // the Keras layer name (weights are found by it)
    std::string scope;                // the innermost nested model holding the layer, "" at the top level
    const nlohmann::json* config;     // the layer's "config" object, inside the source topology
    std::vector<int> inputs;          // tensor ids
    int output = -1;                  // tensor id
};

struct FlatGraph {
    std::string input_name;           // the top-level InputLayer (or the name Keras gives a Sequential's input)
    std::vector<int64_t> input_shape; // as declared, without the batch: [H, W, C]; -1 where the model says null
    int input = -1;                   // tensor id of the graph input
    int tensor_count = 0;
    std::vector<FlatLayer> layers;
    std::vector<int> outputs;
    // The output of a leading nested model that the top-level Sequential extends with more layers: a pretrained
    // backbone under a new head (Teachable Machine, most transfer learning). Exposed as a "feature" output.
    std::vector<int> features;
};

// `topology` is {"class_name": "Sequential" | "Functional" | "Model", "config": {...}}; it must outlive the result.
// `where` prefixes messages (the file). Throws ModelFormat for malformed JSON structure, Unsupported for models
// with several inputs or layers that produce several tensors.
FlatGraph flatten_topology(const nlohmann::json& topology, const std::string& where);

// Whether `class_name` is a model class (it nests layers rather than computing).
bool is_model_class(const std::string& class_name);

}  // namespace mnet::importer::keras
