// SPDX-License-Identifier: Apache-2.0
// A Keras HDF5 model file (model.save("x.h5"), Keras 2): the root attribute model_config holds the topology JSON,
// the group model_weights/<layer>/ the weights as datasets named in each layer group's weight_names. Also the
// weights file of a Keras 3 .keras archive (model.weights.h5, read from memory): a group <path>/vars per layer
// holding its variables as datasets "0", "1", ... The files are untrusted: only hard links inside the file are
// followed, datasets must be plain float arrays stored in the file itself (no external or virtual storage, no
// filter plugins), and every shape and size is checked before reading.
#include <hdf5.h>
#include <H5PLpublic.h>

#include <cstring>
#include <optional>

#include "core/file_io.h"
#include "keras_source.h"
#include "mnet/error.h"

namespace mnet::importer::keras {

namespace {

// A generous bound for the JSON text of a model's topology (MobileNets need well under 1 MB).
constexpr hsize_t kMaxConfigBytes = hsize_t{64} << 20;
// Far more objects than any model's weights group holds (a MobileNet has a few hundred).
constexpr size_t kMaxLinks = 1000000;
// How much the core (in-memory) driver grows a file image by; a read-only image never grows.
constexpr size_t kCoreIncrement = size_t{1} << 20;
constexpr char kKeras3VarsGroup[] = "vars";
constexpr size_t kMaxIndexDigits = 6;  // a variable's index within its layer ("0", "1", ...)

// Owns an HDF5 identifier and closes it with the matching H5*close.
class Handle {
public:
    Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
    ~Handle() {
        if (id_ >= 0) close_(id_);
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }

private:
    hid_t id_;
    herr_t (*close_)(hid_t);
};

// Silences HDF5's own error printing (a library never prints) and keeps its plugin loading off while a file is
// read: a dataset naming an unknown filter must not make HDF5 load code from HDF5_PLUGIN_PATH.
class QuietHdf5 {
public:
    QuietHdf5() {
        H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        H5PLget_loading_state(&plugins_);
        H5PLset_loading_state(0);
    }
    ~QuietHdf5() {
        H5PLset_loading_state(plugins_);
        H5Eset_auto2(H5E_DEFAULT, func_, data_);
    }
    QuietHdf5(const QuietHdf5&) = delete;
    QuietHdf5& operator=(const QuietHdf5&) = delete;

private:
    H5E_auto2_t func_ = nullptr;
    void* data_ = nullptr;
    unsigned plugins_ = 0;
};

// The innermost message on HDF5's error stack, e.g. "unable to read attribute" (empty when there is none).
std::string hdf5_message() {
    std::string text;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
            auto* s = static_cast<std::string*>(out);
            if (s->empty() && e->desc) *s = e->desc;
            return 0;
        },
        &text);
    H5Eclear2(H5E_DEFAULT);
    return text;
}

class H5Reader {
public:
    // `path`: the file, or for a file image what messages name it by.
    explicit H5Reader(std::string path) : path_(std::move(path)) {}

    // A Keras 3 weights file held in memory. `open_name` is what HDF5 is given as the file's name: with a file
    // image the core driver still calls open() on that name (and refuses it if it exists), so the caller passes a
    // name below a regular file ("<archive>/model.weights.h5"), whose open always fails with ENOTDIR: nothing on
    // disk is read, created or written.
    std::map<std::string, Keras3Vars> read_keras3_image(const std::string& image, const std::string& open_name) {
        constexpr size_t kSignatureBytes = sizeof kHdf5Signature - 1;
        if (image.size() < kSignatureBytes || image.compare(0, kSignatureBytes, kHdf5Signature) != 0) {
            fail(ErrorCode::ModelFormat, "not an HDF5 file");
        }
        Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
        // H5Pset_file_image copies the bytes; the driver reads only that copy (backing store off).
        if (!fapl.valid() || H5Pset_fapl_core(fapl.get(), kCoreIncrement, 0) < 0 ||
            H5Pset_file_image(fapl.get(), const_cast<char*>(image.data()), image.size()) < 0) {
            fail(ErrorCode::Internal, "cannot set up HDF5's in-memory driver");
        }
        Handle file(H5Fopen(open_name.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
        if (!file.valid()) fail(ErrorCode::ModelFormat, "cannot open as HDF5");

        std::map<std::string, Keras3Vars> groups;
        int64_t total_bytes = 0;
        for (const std::string& name : hard_links(file.get(), "the weights file")) {
            Handle obj(H5Oopen(file.get(), name.c_str(), H5P_DEFAULT), H5Oclose);
            if (!obj.valid()) fail(ErrorCode::ModelFormat, "cannot open " + name);
            if (H5Iget_type(obj.get()) != H5I_DATASET) {
                // A layer's group: its "name" attribute (written by recent Keras 3) names the layer.
                if (const std::optional<std::string> owner = vars_owner(name)) {
                    groups[*owner].layer_name = string_attribute(obj.get(), "name").value_or("");
                }
                continue;
            }
            const size_t slash = name.rfind('/');
            const std::optional<std::string> owner = vars_owner(slash == std::string::npos ? "" : name.substr(0, slash));
            if (!owner) continue;  // not a variable (Keras writes none outside "vars" groups)
            const std::string index = name.substr(slash + 1);
            if (index.empty() || index.size() > kMaxIndexDigits || index.find_first_not_of("0123456789") != std::string::npos) {
                fail(ErrorCode::ModelFormat, name + ": a variable that is not named by its index");
            }
            WeightArray array = read_dataset(obj.get(), name);
            total_bytes += static_cast<int64_t>(array.values.size() * sizeof(float));
            if (total_bytes > kMaxTotalWeightBytes) fail(ErrorCode::Unsupported, "more than 2 GiB of weights");
            groups[*owner].arrays[std::stoul(index)] = std::move(array);
        }
        return groups;
    }

    KerasSource read() {
        // HDF5 opens by name: the file is checked first, so a FIFO or a device never reaches it.
        io::check_regular(path_, io::kMaxModelBytes, "Keras HDF5 model", ErrorCode::Unsupported);
        const htri_t is_hdf5 = H5Fis_hdf5(path_.c_str());
        if (is_hdf5 < 0) fail(ErrorCode::Io, "cannot open");
        if (is_hdf5 == 0) fail(ErrorCode::ModelFormat, "not an HDF5 file");
        Handle file(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
        if (!file.valid()) fail(ErrorCode::ModelFormat, "cannot open as HDF5");

        KerasSource src;
        src.path = path_;
        src.format = "Keras HDF5";
        src.weights = WeightStore(path_);
        const std::optional<std::string> config = string_attribute(file.get(), "model_config");
        if (!config) {
            fail(ErrorCode::Unsupported, "no 'model_config' attribute: this is a weights-only file "
                                         "(model.save_weights); mnet needs the whole model, saved with model.save()");
        }
        try {
            src.topology = nlohmann::json::parse(*config);
        } catch (const nlohmann::json::exception& e) {
            fail(ErrorCode::ModelFormat, std::string("attribute 'model_config' is not valid JSON: ") + e.what());
        }
        src.keras_version = string_attribute(file.get(), "keras_version").value_or("");

        if (link_type(file.get(), "model_weights") != H5L_TYPE_HARD) {
            fail(ErrorCode::ModelFormat, "no 'model_weights' group");
        }
        Handle weights(H5Gopen2(file.get(), "model_weights", H5P_DEFAULT), H5Gclose);
        if (!weights.valid()) fail(ErrorCode::ModelFormat, "'model_weights' is not a group");
        read_weights(weights.get(), src.weights);
        return src;
    }

private:
    [[noreturn]] void fail(ErrorCode code, const std::string& what) const {
        const std::string detail = hdf5_message();
        throw Error(code, path_ + ": " + what + (detail.empty() ? "" : " (HDF5: " + detail + ")"));
    }

    // H5L_TYPE_ERROR when `name` does not exist in `loc`.
    static H5L_type_t link_type(hid_t loc, const char* name) {
        if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return H5L_TYPE_ERROR;
        H5L_info_t info;
        if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return H5L_TYPE_ERROR;
        return info.type;
    }

    // A scalar (or one-element) string attribute, fixed-length or variable-length, ASCII or UTF-8.
    std::optional<std::string> string_attribute(hid_t loc, const char* name) const {
        if (H5Aexists(loc, name) <= 0) return std::nullopt;
        const std::string what = std::string("attribute '") + name + "'";
        Handle attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
        Handle type(attr.valid() ? H5Aget_type(attr.get()) : -1, H5Tclose);
        Handle space(attr.valid() ? H5Aget_space(attr.get()) : -1, H5Sclose);
        if (!type.valid() || !space.valid()) fail(ErrorCode::ModelFormat, "cannot open " + what);
        if (H5Tget_class(type.get()) != H5T_STRING) fail(ErrorCode::ModelFormat, what + " is not a string");
        if (H5Sget_simple_extent_npoints(space.get()) != 1) fail(ErrorCode::ModelFormat, what + " is not one string");
        // Read through a memory type copied from the file's, so the character set matches and no conversion runs.
        Handle mem(H5Tcopy(type.get()), H5Tclose);
        if (H5Tis_variable_str(type.get()) > 0) {
            char* text = nullptr;
            if (H5Aread(attr.get(), mem.get(), &text) < 0 || !text) fail(ErrorCode::ModelFormat, "cannot read " + what);
            std::string out(text, strnlen(text, kMaxConfigBytes + 1));
            H5free_memory(text);
            if (out.size() > kMaxConfigBytes) fail(ErrorCode::Unsupported, what + " is larger than 64 MiB");
            return out;
        }
        const size_t size = H5Tget_size(type.get());
        if (size == 0 || size > kMaxConfigBytes) fail(ErrorCode::Unsupported, what + " has an unusable size");
        std::string out(size, '\0');
        if (H5Aread(attr.get(), mem.get(), out.data()) < 0) fail(ErrorCode::ModelFormat, "cannot read " + what);
        out.resize(strnlen(out.data(), size));  // fixed-length strings are NUL- or space-padded
        while (!out.empty() && out.back() == ' ') out.pop_back();
        return out;
    }

    void read_weights(hid_t group, WeightStore& store) {
        int64_t total_bytes = 0;
        for (const std::string& name : hard_links(group, "'model_weights'")) {
            const std::string where = "model_weights/" + name;
            Handle obj(H5Oopen(group, name.c_str(), H5P_DEFAULT), H5Oclose);
            if (!obj.valid()) fail(ErrorCode::ModelFormat, "cannot open " + where);
            if (H5Iget_type(obj.get()) != H5I_DATASET) continue;  // a group
            WeightArray array = read_dataset(obj.get(), where);
            total_bytes += static_cast<int64_t>(array.values.size() * sizeof(float));
            if (total_bytes > kMaxTotalWeightBytes) fail(ErrorCode::Unsupported, "more than 2 GiB of weights");
            store.add(name, std::move(array));
        }
    }

    // Every object below `group`, by path, in name order. Throws for a soft or external link (mnet reads only data
    // inside the file) and for more than kMaxLinks objects. `what` names the group in messages.
    std::vector<std::string> hard_links(hid_t group, const std::string& what) const {
        // Collect every link first: the visit callback must not throw through HDF5's C frames.
        std::vector<std::pair<std::string, H5L_type_t>> links;
        auto collect = [](hid_t, const char* name, const H5L_info_t* info, void* out) -> herr_t {
            auto* list = static_cast<std::vector<std::pair<std::string, H5L_type_t>>*>(out);
            if (list->size() >= kMaxLinks) return 1;  // stop: reported below
            list->emplace_back(name, info->type);
            return 0;
        };
        if (H5Lvisit(group, H5_INDEX_NAME, H5_ITER_INC, collect, &links) < 0) fail(ErrorCode::ModelFormat, "cannot list " + what);
        if (links.size() >= kMaxLinks) fail(ErrorCode::Unsupported, what + " holds over a million objects");
        std::vector<std::string> names;
        for (const auto& [name, type] : links) {
            if (type != H5L_TYPE_HARD) {
                fail(ErrorCode::Unsupported, name + " is a soft or external link; mnet reads only data inside the file");
            }
            names.push_back(name);
        }
        return names;
    }

    // Keras 3 keeps a layer's variables in the group "<layer path>/vars" ("vars" for the model's own): the layer
    // path of such a group, nullopt for any other path.
    static std::optional<std::string> vars_owner(const std::string& path) {
        const std::string suffix = std::string("/") + kKeras3VarsGroup;
        if (path == kKeras3VarsGroup) return std::string();
        if (path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
            return path.substr(0, path.size() - suffix.size());
        }
        return std::nullopt;
    }

    WeightArray read_dataset(hid_t dataset, const std::string& where) {
        Handle type(H5Dget_type(dataset), H5Tclose);
        Handle space(H5Dget_space(dataset), H5Sclose);
        Handle dcpl(H5Dget_create_plist(dataset), H5Pclose);
        if (!type.valid() || !space.valid() || !dcpl.valid()) fail(ErrorCode::ModelFormat, "cannot inspect " + where);
        const H5T_class_t cls = H5Tget_class(type.get());
        const size_t type_size = H5Tget_size(type.get());
        if (cls != H5T_FLOAT || (type_size != 2 && type_size != 4 && type_size != 8)) {
            fail(ErrorCode::Unsupported, where + ": weights must be 16, 32 or 64-bit floats (HDF5 type class " +
                                             std::to_string(static_cast<int>(cls)) + ", " + std::to_string(type_size) +
                                             " bytes)");
        }
        const H5D_layout_t layout = H5Pget_layout(dcpl.get());
        if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED && layout != H5D_COMPACT) {
            fail(ErrorCode::Unsupported, where + ": virtual or unknown dataset layout");
        }
        if (H5Pget_external_count(dcpl.get()) != 0) {
            fail(ErrorCode::Unsupported, where + ": data stored in external files");
        }
        const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
        if (space_class != H5S_SIMPLE && space_class != H5S_SCALAR) {
            fail(ErrorCode::ModelFormat, where + ": empty dataspace");
        }
        const int rank = H5Sget_simple_extent_ndims(space.get());
        if (rank < 0 || static_cast<size_t>(rank) > kMaxWeightRank) {
            fail(ErrorCode::Unsupported, where + ": rank " + std::to_string(rank) + ", mnet reads weights of rank <= 4");
        }
        hsize_t dims[kMaxWeightRank] = {};
        H5Sget_simple_extent_dims(space.get(), dims, nullptr);
        WeightArray out;
        for (int i = 0; i < rank; ++i) {
            if (dims[i] > static_cast<hsize_t>(kMaxWeightElements)) {
                fail(ErrorCode::Unsupported, where + ": dimension " + std::to_string(dims[i]) + " is too large");
            }
            out.shape.push_back(static_cast<int64_t>(dims[i]));
        }
        const int64_t numel = checked_numel(out.shape, path_ + ": " + where);
        if (H5Sget_simple_extent_npoints(space.get()) != numel) {
            fail(ErrorCode::ModelFormat, where + ": dataspace size disagrees with its dimensions");
        }
        out.values.resize(static_cast<size_t>(numel));
        // The memory space is the file space and the buffer holds exactly its elements, converted to float.
        if (numel > 0 &&
            H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0) {
            fail(ErrorCode::ModelFormat, where + ": cannot read the data (truncated or corrupt file?)");
        }
        return out;
    }

    std::string path_;
};

}  // namespace

KerasSource read_keras_h5(const std::string& path) {
    // On its first use HDF5 registers an atexit handler that shuts the library down. libhdf5 1.10 leaks a block on
    // some error paths inside H5Fopen for corrupt files (found by fuzzing, docs/fuzzing.md), and the handler then
    // prints "HDF5: infinite loop closing library" and a line of module names to stderr as the process exits,
    // after our one-line error. The reader closes everything it opens, so the handler has nothing to flush.
    // This only takes effect before the library's first use in the process; later calls change nothing.
    H5dont_atexit();
    QuietHdf5 quiet;
    return H5Reader(path).read();
}

std::map<std::string, Keras3Vars> read_keras3_weights(const std::string& image, const std::string& where,
                                                      const std::string& open_name) {
    H5dont_atexit();  // as in read_keras_h5
    QuietHdf5 quiet;
    return H5Reader(where).read_keras3_image(image, open_name);
}

}  // namespace mnet::importer::keras
