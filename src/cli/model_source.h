// SPDX-License-Identifier: Apache-2.0
// What `-m` names: a model in the model folders (by name), an mnet manifest, or a source model (.tflite, Keras
// .h5/.keras, a TF.js model.json or its folder) converted on first use into a cache and reused after.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mnet::cli {

// `-m` and the conversion flags that go with a source model (the same as mnet-convert's).
struct ModelFlags {
    std::string name;  // -m as given; empty: the default model
    std::string labels, mean, std, crop, background;
};

// The folders model names are looked up in, in order: $MNET_MODEL_DIR alone when set; else
// ${XDG_DATA_HOME:-~/.local/share}/mnet/models, then <exe dir>/../models (the build tree: build/mnet ->
// models/, where scripts/fetch_models.sh writes) and <exe dir>/../share/mnet/models (an installed prefix).
std::vector<std::filesystem::path> model_dirs();

// The folder of the running executable (/proc/self/exe), where mnet-convert is looked for.
std::filesystem::path exe_dir();

// A model of the model folders or of models/zoo.json.
struct KnownModel {
    std::string name;
    std::string description;  // from zoo.json, else ""
    std::string manifest;     // the installed manifest, "" when not fetched
};
// Every installed model (first folder wins) and every zoo.json entry, sorted by name.
std::vector<KnownModel> known_models();
// The command that fetches a zoo model, e.g. "scripts/fetch_models.sh NAME" (relative to the current folder
// when the script is below it).
std::string fetch_command(const std::string& name);

// The manifest to load for `flags`: see the header comment. Throws Error(Io) for a name that is not installed
// (with a "did you mean" or the fetch command), Error(InvalidArgument) for a path that is not a model (a photo,
// a folder without one), and the converter's error for a source model that does not convert.
std::string resolve_model(const ModelFlags& flags);

}  // namespace mnet::cli
