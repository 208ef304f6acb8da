// SPDX-License-Identifier: Apache-2.0
// Real Keras models cut down to their first layers, for the fuzz seed corpus: a few kilobytes of weights instead of
// megabytes, so libFuzzer's mutations land on the HDF5 structure and the topology JSON rather than on weights.
// The topology is truncated (a Sequential keeps its first layer, a Functional model its first layers, ending at the
// last one kept) and only the kept layers' weights are copied.
#include <hdf5.h>

#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "keras_source.h"
#include "keras_topology.h"
#include "seeds_internal.h"

namespace mnet::fuzz {

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("fuzz seeds: " + what); }

std::string layer_name(const json& layer) {
    if (layer.contains("name") && layer["name"].is_string()) return layer["name"];
    return layer.at("config").at("name");
}

// Truncates `model` ({"class_name", "config"}) in place and collects the names of every layer left in it.
void truncate_model(json& model, size_t max_layers, std::set<std::string>& kept) {
    const std::string cls = model.at("class_name");
    json& config = model.at("config");
    json& layers = config.is_array() ? config : config.at("layers");  // old Sequentials: the bare list
    if (cls == "Sequential") {
        layers.erase(layers.begin() + 1, layers.end());
    } else {
        if (layers.size() > max_layers) layers.erase(layers.begin() + static_cast<std::ptrdiff_t>(max_layers), layers.end());
        config["output_layers"] = json::array({json::array({layer_name(layers.back()), 0, 0})});
    }
    for (json& layer : layers) {
        kept.insert(layer_name(layer));
        if (importer::keras::is_model_class(layer.at("class_name"))) truncate_model(layer, max_layers, kept);
    }
}

// Weights belong to the layer named by the second-to-last part of their path ("conv1/kernel",
// "conv1/conv1/kernel:0"), as the importer's WeightStore finds them.
bool kept_weight(const std::string& path, const std::set<std::string>& kept) {
    const size_t last = path.rfind('/');
    if (last == std::string::npos || last == 0) return false;
    const size_t before = path.rfind('/', last - 1);
    const size_t start = before == std::string::npos ? 0 : before + 1;
    return kept.count(path.substr(start, last - start)) > 0;
}

// Bytes per element of a TF.js weights manifest entry, as tools/keras/keras_tfjs.cpp decodes it.
size_t tfjs_element_bytes(const json& spec) {
    if (!spec.contains("quantization")) return 4;
    const std::string dtype = spec["quantization"].at("dtype");
    return dtype == "uint8" ? 1 : 2;
}

// Owns an HDF5 identifier.
class H5 {
public:
    H5(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
        if (id_ < 0) fail("HDF5: " + what);
    }
    ~H5() { close_(id_); }
    H5(const H5&) = delete;
    H5& operator=(const H5&) = delete;
    hid_t get() const { return id_; }

private:
    hid_t id_;
    herr_t (*close_)(hid_t);
};

void write_string_attribute(hid_t loc, const char* name, const std::string& value) {
    H5 type(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
    H5Tset_size(type.get(), value.size());
    H5 space(H5Screate(H5S_SCALAR), H5Sclose, "scalar space");
    H5 attr(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, name);
    if (H5Awrite(attr.get(), type.get(), value.data()) < 0) fail(std::string("HDF5: write ") + name);
}

}  // namespace

std::string keras_h5_prefix(const std::string& path, size_t max_layers) {
    const importer::keras::KerasSource source = importer::keras::read_keras_h5(path);
    json topology = source.topology;
    std::set<std::string> kept;
    truncate_model(topology, max_layers, kept);

    // An in-memory file (core driver, no backing store) whose image is the seed.
    H5 fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "file access list");
    constexpr size_t kGrowBytes = size_t{1} << 20;
    H5Pset_fapl_core(fapl.get(), kGrowBytes, 0);
    H5 src(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "open " + path);
    H5 dst(H5Fcreate("seed.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose, "create seed.h5 in memory");
    write_string_attribute(dst.get(), "model_config", topology.dump());
    if (!source.keras_version.empty()) write_string_attribute(dst.get(), "keras_version", source.keras_version);
    H5 src_weights(H5Gopen2(src.get(), "model_weights", H5P_DEFAULT), H5Gclose, path + ": model_weights");
    H5 dst_weights(H5Gcreate2(dst.get(), "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                   "create model_weights");
    // Keras 2 keeps layer L's weights under model_weights/L/L/<weight>:0.
    for (const std::string& layer : kept) {
        if (H5Lexists(src_weights.get(), layer.c_str(), H5P_DEFAULT) <= 0) continue;
        if (H5Ocopy(src_weights.get(), layer.c_str(), dst_weights.get(), layer.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0) {
            fail("HDF5: copy model_weights/" + layer + " of " + path);
        }
    }
    H5Fflush(dst.get(), H5F_SCOPE_GLOBAL);
    const ssize_t size = H5Fget_file_image(dst.get(), nullptr, 0);
    if (size <= 0) fail("HDF5: file image size");
    std::string image(static_cast<size_t>(size), '\0');
    if (H5Fget_file_image(dst.get(), image.data(), image.size()) != size) fail("HDF5: file image");
    return image;
}

TfjsFolder tfjs_prefix(const TfjsFolder& folder, size_t max_layers, const std::string& what) {
    json root = json::parse(folder.model_json);
    json& topology_holder = root.at("modelTopology");
    json& topology = topology_holder.contains("model_config") ? topology_holder["model_config"] : topology_holder;
    std::set<std::string> kept;
    truncate_model(topology, max_layers, kept);

    json weights = json::array();
    std::string bytes;
    size_t offset = 0;
    for (const json& group : root.at("weightsManifest")) {
        for (const json& spec : group.at("weights")) {
            size_t numel = 1;
            for (const json& d : spec.at("shape")) numel *= d.get<size_t>();
            const size_t size = numel * tfjs_element_bytes(spec);
            if (offset + size > folder.weights.size()) fail(what + ": the weights manifest exceeds weights.bin");
            if (kept_weight(spec.at("name"), kept)) {
                weights.push_back(spec);
                bytes.append(folder.weights, offset, size);
            }
            offset += size;
        }
    }
    root["weightsManifest"] = json::array({json{{"paths", json::array({"weights.bin"})}, {"weights", weights}}});
    // No metadata.json: its labels name the whole model's classes, which the cut-down model no longer has.
    return TfjsFolder{root.dump(), "", bytes};
}

}  // namespace mnet::fuzz
