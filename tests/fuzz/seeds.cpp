// SPDX-License-Identifier: Apache-2.0
// Every photo is a seed, and so are small copies of the first one in every format OpenCV writes (seeds_image.cpp).
// Each real model gives two seeds: the whole file, and a cut-down copy holding its first layers only. The whole
// files are what users feed mnet, but at megabytes each libFuzzer runs them a few times a second and nearly every
// mutation lands in the weights; the cut-down copies are kilobytes of the same structures (the same ops, options,
// quantization and header fields) and run hundreds of times faster.
#include "seeds.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "keras_importer.h"
#include "seeds_internal.h"
#include "tflite_importer.h"

namespace mnet::fuzz {

namespace {

namespace fs = std::filesystem;

// How much of a real model the cut-down seeds keep: enough to reach each model's characteristic blocks (a residual
// add in MobileNetV2, squeeze-and-excitation with hard-swish in V3, ZeroPadding2D before a strided depthwise
// convolution in Keras) while the weights stay a few kilobytes. Keras counts BatchNormalization and activation
// layers separately, hence more layers than operators.
constexpr size_t kPrefixOperators = 12;
constexpr size_t kPrefixNodes = 12;
constexpr size_t kPrefixKerasLayers = 30;

// The one weights file name fuzz_keras.cpp writes a packed TF.js folder's binary part to.
constexpr const char* kTfjsWeightsFile = "weights.bin";

std::string read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("fuzz seeds: cannot read " + path.string());
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<fs::path> sorted_entries(const fs::path& dir) {
    if (!fs::is_directory(dir)) throw std::runtime_error("fuzz seeds: no folder " + dir.string());
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

// The folder's label file (imagenet_labels*.txt), as the model zoo converts with it; empty if there is none.
std::string labels_in(const fs::path& dir) {
    for (const fs::path& p : sorted_entries(dir)) {
        if (p.extension() == ".txt" && p.filename().string().rfind("imagenet_labels", 0) == 0) return p.string();
    }
    return {};
}

std::string model_seed(ModelWriter& writer) {
    const std::string manifest = writer.manifest_json("fuzz.bin");
    const std::vector<uint8_t> weights = writer.weights_bytes();
    return join_parts({manifest, std::string(weights.begin(), weights.end())});
}

// The first kPrefixNodes nodes of a converted model and the tensors they use; the last node's output becomes the
// only output, a feature (the labels name classes the cut-down model no longer has).
std::string model_prefix_seed(ModelWriter& full) {
    const ModelDef& def = full.def();
    const std::vector<uint8_t> weights = full.weights_bytes();
    ModelDef cut = def;
    cut.tensors.clear();
    cut.nodes.resize(std::min(kPrefixNodes, def.nodes.size()));
    cut.labels.clear();
    cut.background_class = false;
    cut.outputs = {OutputDef{cut.nodes.back().output, OutputKind::Feature}};
    std::set<std::string> used;
    for (const NodeDef& n : cut.nodes) {
        for (const auto& [role, tensor] : n.weights) used.insert(tensor);
    }
    ModelWriter writer(cut);
    for (const TensorDef& t : def.tensors) {
        if (used.count(t.name)) writer.add_tensor(t.name, t.dtype, t.shape, weights.data() + t.offset, t.nbytes, t.quant);
    }
    return model_seed(writer);
}

// A TF.js folder whose weights all sit in weights.bin, as the shared export does; another layout would need its
// paths rewritten, so it is refused here rather than silently mis-packed.
TfjsFolder read_tfjs(const fs::path& dir) {
    TfjsFolder folder{read_bytes(dir / "model.json"), "", read_bytes(dir / kTfjsWeightsFile)};
    const nlohmann::json root = nlohmann::json::parse(folder.model_json);
    const nlohmann::json& groups = root.at("weightsManifest");
    if (groups.size() != 1 || groups[0].at("paths") != nlohmann::json::array({kTfjsWeightsFile})) {
        throw std::runtime_error("fuzz seeds: " + (dir / "model.json").string() +
                                 ": expected one weights group stored in weights.bin");
    }
    if (fs::exists(dir / "metadata.json")) folder.metadata_json = read_bytes(dir / "metadata.json");
    return folder;
}

std::string packed(const TfjsFolder& f) { return join_parts({f.model_json, f.metadata_json, f.weights}); }

void add_model_folder(const std::string& target, const fs::path& dir, std::vector<Seed>& seeds) {
    const std::string name = dir.filename().string();
    for (const fs::path& p : sorted_entries(dir)) {
        if (p.extension() == ".tflite") {
            const std::string bytes = read_bytes(p);
            if (target == "tflite") {
                seeds.push_back({name + ".tflite", bytes});
                seeds.push_back({name + ".prefix.tflite", tflite_prefix(bytes, kPrefixOperators, p.string())});
            } else if (target == "model") {
                importer::TfliteImportOptions options;
                options.labels_path = labels_in(dir);
                ModelWriter writer =
                    importer::import_tflite(p.string(), std::vector<uint8_t>(bytes.begin(), bytes.end()), options);
                seeds.push_back({name + ".model", model_seed(writer)});
                seeds.push_back({name + ".prefix.model", model_prefix_seed(writer)});
            }
        } else if (p.extension() == ".h5" || p.filename() == "model.json") {
            const bool h5 = p.extension() == ".h5";
            if (target == "keras" && h5) {
                seeds.push_back({name + ".h5", read_bytes(p)});
                seeds.push_back({name + ".prefix.h5", keras_h5_prefix(p.string(), kPrefixKerasLayers)});
            } else if (target == "keras") {
                const TfjsFolder folder = read_tfjs(dir);
                seeds.push_back({name + ".tfjs", packed(folder)});
                seeds.push_back({name + ".prefix.tfjs", packed(tfjs_prefix(folder, kPrefixKerasLayers, p.string()))});
            } else if (target == "model") {
                importer::KerasImportOptions options;
                options.labels_path = labels_in(dir);
                ModelWriter writer = importer::import_keras(p.string(), options);
                seeds.push_back({name + ".model", model_seed(writer)});
                seeds.push_back({name + ".prefix.model", model_prefix_seed(writer)});
            }
        }
    }
}

}  // namespace

const std::vector<std::string>& target_names() {
    static const std::vector<std::string> names = {"model", "tflite", "keras", "image", "onnx"};
    return names;
}

std::vector<Seed> make_seeds(const std::string& target, const std::string& shared_dir) {
    const auto& names = target_names();
    if (std::find(names.begin(), names.end(), target) == names.end()) {
        throw std::runtime_error("fuzz seeds: unknown target '" + target + "'");
    }
    std::vector<Seed> seeds;
    const fs::path root(shared_dir);
    if (target == "image") {
        for (const fs::path& p : sorted_entries(root / "testdata" / "images")) {
            if (fs::is_regular_file(p)) seeds.push_back({p.filename().string(), read_bytes(p)});
        }
        // Small copies of the first photo in every format: see seeds_image.cpp.
        if (!seeds.empty()) {
            for (auto& [suffix, bytes] : image_variants(seeds.front().bytes, seeds.front().name)) {
                seeds.push_back({fs::path(seeds.front().name).stem().string() + ".small" + suffix, std::move(bytes)});
            }
        }
    } else if (target == "onnx") {
        add_onnx_seeds(shared_dir, seeds);
    } else {
        for (const fs::path& dir : sorted_entries(root / "models")) {
            if (fs::is_directory(dir)) add_model_folder(target, dir, seeds);
        }
    }
    // The shared models hold no Keras 3 archive; the model zoo's fixtures are real ones, written by Keras.
    if (target == "keras") {
        for (const fs::path& p : sorted_entries(MNET_ZOO_FIXTURES)) {
            if (p.extension() == ".keras") seeds.push_back({p.filename().string(), read_bytes(p)});
        }
    }
    if (seeds.empty()) throw std::runtime_error("fuzz seeds: no seeds for '" + target + "' in " + shared_dir);
    return seeds;
}

}  // namespace mnet::fuzz
