// SPDX-License-Identifier: Apache-2.0
// A TF.js layers model (tfjs-layers model.save / tensorflowjs_converter --output_format tfjs_layers_model, and
// Teachable Machine's export): model.json holds the Keras topology and a weights manifest; each manifest group's
// arrays lie back to back in the concatenation of the group's binary files. Weights are float32, or quantized to
// uint8/uint16 (value = q * scale + min, as tfjs-core's decodeWeights computes it) or float16.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/file_io.h"
#include "keras_source.h"
#include "mnet/error.h"

namespace mnet::importer::keras {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A TF.js model's shards are 4 MiB each by default: 2 GiB of weights (kMaxTotalWeightBytes) is 512 of them. The
// cap makes a manifest that lists one file a million times fail at once, not after reading it a million times.
constexpr size_t kMaxWeightFiles = 4096;

std::string read_file(const fs::path& path, uint64_t max_bytes, const char* kind) {
    return io::read_regular(path.string(), max_bytes, kind, ErrorCode::Unsupported);
}

json parse_json(const fs::path& path, const std::string& text) {
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw Error(ErrorCode::ModelFormat, path.string() + ": not valid JSON: " + e.what());
    }
}

// IEEE 754 binary16 -> float32.
float half_to_float(uint16_t h) {
    const int exponent = (h >> 10) & 0x1F;
    const int mantissa = h & 0x3FF;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);
    if (exponent == 0x1F) return mantissa ? NAN : sign * INFINITY;
    return sign * std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
}

class TfjsReader {
public:
    explicit TfjsReader(const std::string& path) : path_(path), dir_(fs::path(path).parent_path()) {}

    KerasSource read() {
        const json root = parse_json(path_, read_file(path_, io::kMaxJsonBytes, "TF.js model.json"));
        if (!root.is_object()) fail(ErrorCode::ModelFormat, "not a JSON object");
        const std::string format = root.value("format", std::string());
        if (format == "graph-model") {
            fail(ErrorCode::Unsupported, "a TF.js graph model (converted from a TensorFlow graph); mnet converts "
                                         "TF.js layers models, which carry a Keras topology");
        }
        auto topo = root.find("modelTopology");
        if (topo == root.end() || !topo->is_object()) fail(ErrorCode::ModelFormat, "no 'modelTopology' object");
        KerasSource src;
        src.path = path_.string();
        src.format = "TF.js layers";
        src.weights = WeightStore(src.path);
        // Older converters nest the Keras model JSON one level deeper, beside its training_config.
        src.topology = topo->contains("model_config") ? topo->at("model_config") : *topo;
        if (auto v = topo->find("keras_version"); v != topo->end() && v->is_string()) src.keras_version = *v;

        auto manifest = root.find("weightsManifest");
        if (manifest == root.end() || !manifest->is_array()) fail(ErrorCode::ModelFormat, "no 'weightsManifest' array");
        for (size_t g = 0; g < manifest->size(); ++g) read_group((*manifest)[g], g, src.weights);
        src.labels = metadata_labels();
        return src;
    }

private:
    [[noreturn]] void fail(ErrorCode code, const std::string& what) const {
        throw Error(code, path_.string() + ": " + what);
    }

    void read_group(const json& group, size_t index, WeightStore& store) {
        const std::string where = "weightsManifest[" + std::to_string(index) + "]";
        if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
            !group.contains("weights") || !group["weights"].is_array()) {
            fail(ErrorCode::ModelFormat, where + ": expected {\"paths\": [...], \"weights\": [...]}");
        }
        // The group's bytes: its files, concatenated in order.
        std::string bytes;
        for (const json& p : group["paths"]) {
            if (!p.is_string()) fail(ErrorCode::ModelFormat, where + ": a path is not a string");
            const std::string name = p;
            // Plain names in model.json's own folder only: a hostile manifest must not reach other files.
            if (name.empty() || name == "." || name == ".." || name.find_first_of("/\\") != std::string::npos ||
                name.find('\0') != std::string::npos) {
                fail(ErrorCode::ModelFormat, where + ": weights path '" + name + "' is not a plain file name");
            }
            // tfjs writes each shard once; a name listed again would only make us read it again.
            if (!seen_.insert(name).second) {
                fail(ErrorCode::ModelFormat, where + ": weights path '" + name + "' is listed twice");
            }
            if (++files_ > kMaxWeightFiles) {
                fail(ErrorCode::ModelFormat, where + ": more than " + std::to_string(kMaxWeightFiles) +
                                                 " weights files listed");
            }
            // Symbolic links are followed only inside the model's folder, as the model loader does.
            const std::optional<std::string> resolved = io::resolve_inside(dir_.string(), name);
            if (!resolved) {
                fail(ErrorCode::ModelFormat, where + ": weights path '" + name + "' resolves outside the model's folder");
            }
            const std::string part = read_file(*resolved, static_cast<uint64_t>(kMaxTotalWeightBytes) - total_,
                                               "TF.js weights file");
            total_ += part.size();
            bytes += part;
        }
        size_t offset = 0;
        for (const json& spec : group["weights"]) offset = read_weight(spec, bytes, offset, where, store);
        if (offset != bytes.size()) {
            fail(ErrorCode::ModelFormat, where + ": the weights take " + std::to_string(offset) + " bytes, its files hold " +
                                             std::to_string(bytes.size()));
        }
    }

    // Decodes one weight spec at `offset` of the group's bytes; returns the offset after it.
    size_t read_weight(const json& spec, const std::string& bytes, size_t offset, const std::string& group,
                       WeightStore& store) {
        if (!spec.is_object() || !spec.contains("name") || !spec["name"].is_string()) {
            fail(ErrorCode::ModelFormat, group + ": a weight entry without a name");
        }
        const std::string name = spec["name"];
        const std::string where = group + " weight '" + name + "'";
        WeightArray array;
        if (!spec.contains("shape") || !spec["shape"].is_array()) fail(ErrorCode::ModelFormat, where + ": no shape");
        for (const json& d : spec["shape"]) {
            if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(ErrorCode::ModelFormat, where + ": bad shape");
            array.shape.push_back(d.get<int64_t>());
        }
        if (array.shape.size() > kMaxWeightRank) {
            fail(ErrorCode::Unsupported, where + ": rank " + std::to_string(array.shape.size()) + ", at most 4");
        }
        const size_t numel = static_cast<size_t>(checked_numel(array.shape, path_.string() + ": " + where));
        const std::string dtype = spec.value("dtype", std::string("float32"));
        if (dtype != "float32") {
            fail(ErrorCode::Unsupported, where + ": dtype '" + dtype + "'; mnet reads float32 weights");
        }
        std::string stored = "float32";
        double scale = 1, min = 0;
        if (auto q = spec.find("quantization"); q != spec.end()) {
            if (!q->is_object() || !q->contains("dtype") || !(*q)["dtype"].is_string()) {
                fail(ErrorCode::ModelFormat, where + ": quantization without a dtype");
            }
            stored = (*q)["dtype"];
            if (stored == "uint8" || stored == "uint16") {
                if (!q->contains("scale") || !(*q)["scale"].is_number()) {
                    fail(ErrorCode::ModelFormat, where + ": " + stored + " quantization without a scale");
                }
                scale = (*q)["scale"];
                // Affine quantization stores min; the scale-only form (symmetric around zero at q = 0) omits it.
                if (q->contains("min")) {
                    if (!(*q)["min"].is_number()) fail(ErrorCode::ModelFormat, where + ": quantization min is not a number");
                    min = (*q)["min"];
                }
                if (!std::isfinite(scale) || !std::isfinite(min)) {
                    fail(ErrorCode::ModelFormat, where + ": quantization scale and min must be finite");
                }
            } else if (stored != "float16") {
                fail(ErrorCode::Unsupported, where + ": quantization dtype '" + stored + "'");
            }
        }
        const size_t element = stored == "uint8" ? 1 : (stored == "float32" ? 4 : 2);
        if (offset > bytes.size() || numel > (bytes.size() - offset) / element) {
            fail(ErrorCode::ModelFormat, where + ": needs " + std::to_string(numel * element) + " bytes at offset " +
                                             std::to_string(offset) + ", the group's files hold " +
                                             std::to_string(bytes.size()));
        }
        const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
        array.values.resize(numel);
        for (size_t i = 0; i < numel; ++i) {
            if (stored == "float32") {
                std::memcpy(&array.values[i], p + 4 * i, 4);
            } else if (stored == "uint8") {
                array.values[i] = static_cast<float>(p[i] * scale + min);
            } else {
                const uint16_t q = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
                array.values[i] = stored == "uint16" ? static_cast<float>(q * scale + min) : half_to_float(q);
            }
        }
        store.add(name, std::move(array));
        return offset + numel * element;
    }

    // Teachable Machine writes metadata.json beside model.json; its "labels" name the output classes.
    std::vector<std::string> metadata_labels() const {
        const fs::path meta = dir_ / "metadata.json";
        std::error_code ec;
        // Absent is fine; present but unreadable (a FIFO, a device, a dangling link) is an error like malformed.
        if (!fs::exists(fs::symlink_status(meta, ec))) return {};
        const json root = parse_json(meta, read_file(meta, io::kMaxJsonBytes, "TF.js metadata.json"));
        if (!root.is_object() || !root.contains("labels")) return {};
        std::vector<std::string> labels;
        const json& list = root["labels"];
        if (!list.is_array()) throw Error(ErrorCode::ModelFormat, meta.string() + ": 'labels' is not an array");
        for (const json& l : list) {
            if (!l.is_string()) throw Error(ErrorCode::ModelFormat, meta.string() + ": a label is not a string");
            labels.push_back(l);  // nlohmann has already checked the UTF-8
        }
        return labels;
    }

    fs::path path_;
    fs::path dir_;
    uint64_t total_ = 0;
    size_t files_ = 0;
    std::set<std::string> seen_;  // weights file names already read
};

}  // namespace

KerasSource read_tfjs_layers(const std::string& model_json_path) { return TfjsReader(model_json_path).read(); }

}  // namespace mnet::importer::keras
