// SPDX-License-Identifier: Apache-2.0
// What a loaded Model holds, for the engine and the tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "mnet/model.h"
#include "model/model_def.h"
#include "model/weight_file.h"

namespace mnet {

struct Model::Impl {
    std::string path;
    ModelDef def;  // Graph nodes point into def.tensors: never moved after the graph is built
    WeightFile weights;
    Graph graph;
    std::vector<OutputInfo> outputs;
    std::vector<LayerInfo> layers;

    Impl(std::string p, ModelDef d, WeightFile w) : path(std::move(p)), def(std::move(d)), weights(std::move(w)) {}
};

// Loads a model from memory: the manifest text and the weights file's bytes. `where` names it in errors.
// The same validation as Model::load, without the file-system checks. For tests and fuzzers.
std::shared_ptr<const Model> load_model_from_memory(const std::string& manifest, std::vector<uint8_t> weights,
                                                    const std::string& where);

}  // namespace mnet
