// SPDX-License-Identifier: Apache-2.0
// Keras → mnet model (models/FORMAT.md): a Keras HDF5 file (.h5, model.save in Keras 2), a Keras 3 .keras archive
// or a TF.js layers model (model.json + binary weights, e.g. a Teachable Machine export). All carry the same Keras
// topology JSON, which one translator maps onto our ops; only the weight readers differ.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "model/writer.h"

namespace mnet::importer {

struct KerasImportOptions {
    // One label per line (UTF-8). Default: the "labels" of a Teachable Machine metadata.json beside model.json.
    std::string labels_path;
    std::optional<bool> background;            // labels[0] is not a class; default: labels[0] == "background"
    // Default: Keras MobileNet preprocessing, x / 127.5 - 1 (mean = std = 127.5); mean 0 and std 1 (raw pixels)
    // when the model rescales its input itself with a Rescaling layer.
    std::optional<std::array<float, 3>> mean;  // RGB
    std::optional<std::array<float, 3>> std;
    std::optional<double> crop;                // central crop in (0, 1]; default 1.0 (the whole image)
    std::string name;                          // default: the file's stem (for model.json: its folder's name)
};

// Whether `path` is something this importer reads: an HDF5 file, a Keras 3 .keras archive, a TF.js model.json,
// or a folder holding a model.json. Looks at the name and the first bytes only.
bool is_keras_model(const std::string& path);

// Converts the model at `path` (see is_keras_model). Throws mnet::Error: ModelFormat for a corrupt or inconsistent
// file, Unsupported for layers or settings mnet cannot express (the message names the layer class and the layer),
// InvalidArgument for bad options, Io when a file cannot be read. Every message starts with the file.
ModelWriter import_keras(const std::string& path, const KerasImportOptions& options);

// Converts `path` and writes `json_path` plus the weights file beside it, then loads the result with the engine's
// own validation (removing it if that fails). Returns the model definition that was written.
ModelDef convert_keras_file(const std::string& path, const std::string& json_path, const KerasImportOptions& options);

}  // namespace mnet::importer
