// SPDX-License-Identifier: Apache-2.0
// What a loaded Model holds, for the engine and the tests: the internal accessor of mnet/model.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "mnet/model.h"
#include "model/model_def.h"
#include "model/writer.h"
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

// The engine's and the tests' view of a loaded model (the public header keeps Model::Impl opaque).
const Model::Impl& model_impl(const Model& model);

// Loads a model from memory: the manifest text and the weights file's bytes. `where` names it in errors.
// The same validation as Model::load, without the file-system checks. For tests and fuzzers.
std::shared_ptr<const Model> load_model_from_memory(const std::string& manifest, std::vector<uint8_t> weights,
                                                    const std::string& where);

// writer.write(json_path), then Model::load of what was written, so that a model an importer converts also
// loads: one that does not is removed rather than left behind, and the load error is rethrown as "<source>: the
// converted model does not load: ...". Returns the written definition (an importer's convert_*_file result).
const ModelDef& write_loadable(ModelWriter& writer, const std::string& json_path, const std::string& source);

}  // namespace mnet
