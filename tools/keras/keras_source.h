// SPDX-License-Identifier: Apache-2.0
// What the two Keras readers (HDF5 .h5 and TF.js layers) hand to the topology translator: the model's Keras JSON
// and its weight arrays by name, already checked and converted to float32. Internal to the Keras importer.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mnet::importer::keras {

// The HDF5 superblock signature, at offset 0 of the files Keras writes (a user block would move it).
constexpr char kHdf5Signature[] = "\x89HDF\r\n\x1a\n";

// Hostile-file bounds, far above any MobileNet: one weight array, and all of them together.
constexpr int64_t kMaxWeightElements = int64_t{1} << 28;
constexpr int64_t kMaxTotalWeightBytes = int64_t{1} << 31;
constexpr size_t kMaxWeightRank = 4;

// A weight array in the source's own layout (channels_last kernels: Conv2D [KH, KW, IC, OC]).
struct WeightArray {
    std::vector<int64_t> shape;
    std::vector<float> values;  // row-major over shape
};

// Weight arrays keyed by their path in the source with any ":0" suffix removed: "conv1/kernel" (TF.js) or
// "conv1/conv1/kernel" (HDF5 model_weights/<layer>/<layer>/kernel:0). Layers find theirs by the last two parts.
class WeightStore {
public:
    explicit WeightStore(std::string source = {}) : source_(std::move(source)) {}

    // Throws ModelFormat on a duplicate key.
    void add(std::string key, WeightArray array);
    // Layer `layer`'s weight `weight` ("kernel", "moving_mean", ...): the key `layer/weight`, or the one key ending
    // in `/layer/weight`, preferring a key that contains `scope` (the enclosing model) when several do. nullptr if
    // none; throws ModelFormat when the choice is ambiguous.
    const WeightArray* find(const std::string& layer, const std::string& weight, const std::string& scope) const;

    size_t size() const { return arrays_.size(); }
    const std::string& source() const { return source_; }

private:
    std::string source_;  // the file, for messages
    std::map<std::string, WeightArray> arrays_;
    std::map<std::string, std::vector<std::string>> by_suffix_;  // "layer/weight" -> keys
};

struct KerasSource {
    std::string path;           // the file the user named, for messages
    std::string format;         // "Keras HDF5" or "TF.js layers"
    std::string keras_version;  // e.g. "2.8.0", "tfjs-layers 1.3.1"; may be empty
    nlohmann::json topology;    // {"class_name": ..., "config": ...}
    WeightStore weights;
    std::vector<std::string> labels;  // Teachable Machine metadata.json labels, when found beside the model
};

// "[3,3,8,1]", for messages.
std::string shape_text(const std::vector<int64_t>& shape);
// Element count of `shape`; throws ModelFormat naming `what` for negative dims or more than kMaxWeightElements.
int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what);

// The variables of one layer in a Keras 3 weights file: the datasets of its group "<path>/vars" by index.
struct Keras3Vars {
    std::string layer_name;  // the group's "name" attribute (Keras 3.x writes the layer's name); may be empty
    std::map<size_t, WeightArray> arrays;
};

// Readers. Throw mnet::Error: Io when a file cannot be read, ModelFormat for a malformed or inconsistent file,
// Unsupported for valid content the importer does not handle. Messages start with the file they are about.
KerasSource read_keras_h5(const std::string& path);
KerasSource read_tfjs_layers(const std::string& model_json_path);
// A Keras 3 .keras archive (zip: config.json, metadata.json, model.weights.h5), read into memory; nothing is
// extracted to disk.
KerasSource read_keras_archive(const std::string& path);
// The "vars" groups of the Keras 3 weights file `image` (in memory), keyed by layer path ("layers/conv2d",
// "layers/functional/layers/dense"; "" for the model's own). `where` starts messages; `open_name` is the name
// HDF5 is given, which must be a path below a regular file (see the reader).
std::map<std::string, Keras3Vars> read_keras3_weights(const std::string& image, const std::string& where,
                                                      const std::string& open_name);

}  // namespace mnet::importer::keras
