// SPDX-License-Identifier: Apache-2.0
// A Keras 3 .keras archive (model.save("x.keras")): a zip holding config.json (the model serialized by Keras 3:
// the same topology JSON as an .h5's model_config), metadata.json (the Keras version) and model.weights.h5 (each
// layer's variables by index, in groups named after the layer's class; see keras3_variable_names). The archive
// is read into memory through libzip and nothing is extracted. It is untrusted: the entry count and each entry's
// size are bounded before anything is inflated, an entry is inflated only up to its kind's limit whatever its
// header says (a compression bomb costs at most that), entry names that would leave a folder are refused, and
// libzip refuses an archive that names an entry twice.
#include <zip.h>

#include <map>
#include <memory>

#include "core/file_io.h"
#include "keras_source.h"
#include "keras_topology.h"
#include "mnet/error.h"

namespace mnet::importer::keras {

namespace {

using json = nlohmann::json;

// Keras writes three entries (and assets/ for layers that have files, which MobileNets have not).
constexpr zip_int64_t kMaxEntries = 4096;
constexpr char kConfigEntry[] = "config.json";
constexpr char kMetadataEntry[] = "metadata.json";
constexpr char kWeightsEntry[] = "model.weights.h5";
// Bytes inflated per read call.
constexpr zip_uint64_t kReadChunk = zip_uint64_t{1} << 20;

struct ZipDiscard {
    void operator()(zip_t* za) const { zip_discard(za); }
};
struct ZipFileClose {
    void operator()(zip_file_t* f) const { zip_fclose(f); }
};

// Keras's naming.to_snake_case, which names a layer's group in the weights file after its class:
// "DepthwiseConv2D" -> "depthwise_conv2d", "BatchNormalization" -> "batch_normalization", "ReLU" -> "re_lu".
// Python: re.sub(r"\W+", "", s); re.sub("(.)([A-Z][a-z]+)", r"\1_\2", s); re.sub("([a-z])([A-Z])", r"\1_\2", s);
// lower(). Each substitution is simulated as Python's re.sub scans: left to right, matches not overlapping.
std::string to_snake_case(const std::string& name) {
    auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
    auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
    std::string s;
    for (char c : name) {
        if (lower(c) || upper(c) || (c >= '0' && c <= '9') || c == '_') s += c;
    }
    std::string a;
    for (size_t i = 0; i < s.size();) {
        if (i + 2 < s.size() && upper(s[i + 1]) && lower(s[i + 2])) {
            size_t end = i + 3;
            while (end < s.size() && lower(s[end])) ++end;
            a += s.substr(i, 1) + "_" + s.substr(i + 1, end - i - 1);
            i = end;
        } else {
            a += s[i++];
        }
    }
    std::string b;
    for (size_t i = 0; i < a.size();) {
        if (i + 1 < a.size() && lower(a[i]) && upper(a[i + 1])) {
            b += a.substr(i, 1) + "_" + a.substr(i + 1, 1);
            i += 2;
        } else {
            b += a[i++];
        }
    }
    for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return b;
}

// The names of a layer's variables in the order Keras 3 creates them (its build() calls add_weight in this
// order; save_own_variables writes trainable then non-trainable ones, which keeps it). Empty for a class whose
// variables the translator never reads.
std::vector<std::string> keras3_variable_names(const std::string& cls, const json& config) {
    auto flag = [&](const char* key) { return !config.contains(key) || !config[key].is_boolean() || config[key].get<bool>(); };
    std::vector<std::string> names;
    if (cls == "Conv2D" || cls == "DepthwiseConv2D" || cls == "Dense") {
        names = {"kernel"};
    } else if (cls == "SeparableConv2D") {
        names = {"depthwise_kernel", "pointwise_kernel"};
    } else if (cls == "BatchNormalization") {
        if (flag("scale")) names.push_back("gamma");
        if (flag("center")) names.push_back("beta");
        names.push_back("moving_mean");
        names.push_back("moving_variance");
        return names;
    } else {
        return {};
    }
    if (flag("use_bias")) names.push_back("bias");
    return names;
}

class ArchiveReader {
public:
    explicit ArchiveReader(std::string path) : path_(std::move(path)) {}

    KerasSource read() {
        // Read whole (bounded like any model file): no second open by name, and libzip reads only this memory.
        bytes_ = io::read_regular(path_, io::kMaxModelBytes, "Keras archive", ErrorCode::Unsupported);
        zip_error_t error;
        zip_error_init(&error);
        zip_source_t* source = zip_source_buffer_create(bytes_.data(), bytes_.size(), 0, &error);
        if (!source) fail(ErrorCode::Internal, std::string("libzip: ") + zip_error_strerror(&error));
        // ZIP_CHECKCONS: each local header must agree with the central directory.
        zip_.reset(zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
        if (!zip_) {
            zip_source_free(source);
            const std::string why = zip_error_strerror(&error);
            zip_error_fini(&error);
            fail(ErrorCode::ModelFormat, "not a readable zip archive (" + why + ")");
        }
        zip_error_fini(&error);
        index_entries();

        KerasSource src;
        src.path = path_;
        src.format = "Keras archive";
        src.weights = WeightStore(path_);
        const json metadata = parse(kMetadataEntry, read_entry(kMetadataEntry, io::kMaxJsonBytes));
        if (!metadata.is_object() || !metadata.contains("keras_version") || !metadata["keras_version"].is_string()) {
            fail_entry(kMetadataEntry, ErrorCode::ModelFormat, "no \"keras_version\" string");
        }
        src.keras_version = metadata["keras_version"];
        // Keras 2.13-2.15 wrote .keras archives too, with another weights layout.
        if (src.keras_version.rfind("3.", 0) != 0) {
            fail_entry(kMetadataEntry, ErrorCode::Unsupported, "written by Keras " + src.keras_version +
                                                                   "; mnet reads the .keras archives of Keras 3 (save "
                                                                   "older models as .h5)");
        }
        src.topology = parse(kConfigEntry, read_entry(kConfigEntry, io::kMaxJsonBytes));
        const std::string image = read_entry(kWeightsEntry, io::kMaxModelBytes);
        const std::string where = path_ + ": " + kWeightsEntry;
        groups_ = read_keras3_weights(image, where, path_ + "/" + kWeightsEntry);
        if (!src.topology.is_object() || !src.topology.contains("config") || !src.topology["config"].is_object()) {
            fail_entry(kConfigEntry, ErrorCode::ModelFormat, "not a serialized Keras model");
        }
        assign_weights(src.topology["config"], "layers", "", src.weights);
        return src;
    }

private:
    [[noreturn]] void fail(ErrorCode code, const std::string& what) const { throw Error(code, path_ + ": " + what); }
    [[noreturn]] void fail_entry(const std::string& entry, ErrorCode code, const std::string& what) const {
        fail(code, io::printable(entry) + ": " + what);
    }

    // Checks every entry's name and records where each one the importer needs is.
    void index_entries() {
        const zip_int64_t count = zip_get_num_entries(zip_.get(), 0);
        if (count < 0 || count > kMaxEntries) {
            fail(ErrorCode::Unsupported, std::to_string(count) + " entries; a Keras archive has a handful (at most " +
                                             std::to_string(kMaxEntries) + " are read)");
        }
        for (zip_int64_t i = 0; i < count; ++i) {
            const char* raw = zip_get_name(zip_.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
            if (!raw) fail(ErrorCode::ModelFormat, "entry " + std::to_string(i) + " has no name");
            const std::string name = raw;
            // Nothing is extracted, but a name that climbs out of its folder marks a hostile archive.
            if (name.empty() || name[0] == '/' || name.find('\\') != std::string::npos || name == ".." ||
                name.rfind("../", 0) == 0 || name.find("/../") != std::string::npos ||
                (name.size() >= 3 && name.compare(name.size() - 3, 3, "/..") == 0)) {
                fail_entry(name, ErrorCode::ModelFormat, "an entry name outside the archive's folder");
            }
            entries_.emplace(name, static_cast<zip_uint64_t>(i));
        }
    }

    // The inflated bytes of entry `name`, at most `limit` of them.
    std::string read_entry(const std::string& name, uint64_t limit) {
        const auto it = entries_.find(name);
        if (it == entries_.end()) {
            fail_entry(name, ErrorCode::ModelFormat, std::string("missing: a Keras 3 archive holds ") + kConfigEntry +
                                                         ", " + kMetadataEntry + " and " + kWeightsEntry);
        }
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(zip_.get(), it->second, 0, &st) < 0) {
            fail_entry(name, ErrorCode::ModelFormat, std::string("cannot read its header (") + zip_strerror(zip_.get()) + ")");
        }
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
            fail_entry(name, ErrorCode::Unsupported, "encrypted");
        }
        if ((st.valid & ZIP_STAT_COMP_METHOD) && !zip_compression_method_supported(st.comp_method, 0)) {
            fail_entry(name, ErrorCode::Unsupported, "compression method " + std::to_string(st.comp_method));
        }
        if (!(st.valid & ZIP_STAT_SIZE) || st.size > limit) {
            fail_entry(name, ErrorCode::Unsupported, "declares " + std::to_string(st.size) + " bytes, the limit is " +
                                                         std::to_string(limit));
        }
        std::unique_ptr<zip_file_t, ZipFileClose> file(zip_fopen_index(zip_.get(), it->second, 0));
        if (!file) fail_entry(name, ErrorCode::ModelFormat, std::string("cannot open (") + zip_strerror(zip_.get()) + ")");
        // Grown as data arrives, never past the declared size plus one byte: a header that lies costs nothing.
        std::string out;
        for (;;) {
            const zip_uint64_t want = std::min<zip_uint64_t>(kReadChunk, st.size + 1 - out.size());
            const size_t old = out.size();
            out.resize(old + want);
            const zip_int64_t got = zip_fread(file.get(), out.data() + old, want);
            if (got < 0) {
                fail_entry(name, ErrorCode::ModelFormat, std::string("corrupt data (") + zip_file_strerror(file.get()) + ")");
            }
            out.resize(old + static_cast<size_t>(got));
            if (got == 0 || out.size() > st.size) break;
        }
        if (out.size() != st.size) {
            const std::string held = out.size() > st.size ? "more than " + std::to_string(st.size) : std::to_string(out.size());
            fail_entry(name, ErrorCode::ModelFormat, "holds " + held + " bytes, its header says " + std::to_string(st.size));
        }
        return out;
    }

    json parse(const std::string& entry, const std::string& text) const {
        try {
            return json::parse(text);
        } catch (const json::exception& e) {
            fail_entry(entry, ErrorCode::ModelFormat, std::string("not valid JSON: ") + e.what());
        }
    }

    // Finds each layer's group as Keras 3's saving_lib names it: a model's layers are the container "layers",
    // where each layer gets its class name in snake case, numbered from the second of a class on ("conv2d",
    // "conv2d_1", ...), in the order of the model's layer list; a nested model's layers lie below its own group.
    // The variables then take their names from the layer's class. Keys are "<nested model>/.../<layer>/<name>",
    // so a layer's weights are found as the other readers' are (WeightStore::find).
    void assign_weights(const json& model_config, const std::string& container, const std::string& scope,
                        WeightStore& store) {
        if (!model_config.contains("layers") || !model_config["layers"].is_array()) return;  // the flattener says why
        std::map<std::string, int> used;
        for (const json& layer : model_config["layers"]) {
            if (!layer.is_object() || !layer.contains("class_name") || !layer["class_name"].is_string() ||
                !layer.contains("config") || !layer["config"].is_object()) {
                continue;  // reported by the flattener
            }
            const std::string cls = layer["class_name"];
            if (cls == "InputLayer") continue;  // not in a model's layer list, and has no variables
            const json& config = layer["config"];
            const std::string name = config.contains("name") && config["name"].is_string() ? config["name"].get<std::string>()
                                                                                         : std::string();
            std::string group = to_snake_case(cls);
            const int n = used[group]++;
            if (n > 0) group += "_" + std::to_string(n);
            const std::string path = container + "/" + group;
            if (is_model_class(cls)) {
                assign_weights(config, path + "/layers", scope + name + "/", store);
                continue;
            }
            const auto it = groups_.find(path);
            if (it == groups_.end()) continue;  // no variables; a layer that needs some is reported by the translator
            Keras3Vars& vars = it->second;
            const std::string where = path + "/vars";
            if (!vars.layer_name.empty() && vars.layer_name != name) {
                fail_entry(kWeightsEntry, ErrorCode::ModelFormat, where + " holds layer '" + vars.layer_name +
                                                                      "', but config.json puts layer '" + name + "' there");
            }
            const std::vector<std::string> names = keras3_variable_names(cls, config);
            if (names.empty()) continue;  // variables of a layer the translator does not read
            if (vars.arrays.size() != names.size() || vars.arrays.rbegin()->first != names.size() - 1) {
                std::string expected;
                for (const std::string& v : names) expected += (expected.empty() ? "" : ", ") + v;
                fail_entry(kWeightsEntry, ErrorCode::Unsupported,
                           where + ": layer '" + name + "' (" + cls + ") has " + std::to_string(vars.arrays.size()) +
                               " variables; mnet reads " + std::to_string(names.size()) + " (" + expected +
                               "), as Keras 3 writes them for a float layer");
            }
            for (auto& [index, array] : vars.arrays) store.add(scope + name + "/" + names[index], std::move(array));
        }
    }

    std::string path_;
    std::string bytes_;  // the archive; libzip reads it in place
    std::unique_ptr<zip_t, ZipDiscard> zip_;
    std::map<std::string, zip_uint64_t> entries_;  // name -> index
    std::map<std::string, Keras3Vars> groups_;
};

}  // namespace

KerasSource read_keras_archive(const std::string& path) { return ArchiveReader(path).read(); }

}  // namespace mnet::importer::keras
