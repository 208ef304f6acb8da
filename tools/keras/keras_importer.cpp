// SPDX-License-Identifier: Apache-2.0
#include "keras_importer.h"
#include "labels.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/file_io.h"
#include "keras_graph.h"
#include "keras_source.h"
#include "keras_topology.h"
#include "graph/loader.h"
#include "mnet/model.h"
#include "mnet_version.h"

namespace mnet::importer {

namespace {

namespace fs = std::filesystem;
using namespace keras;

// A zip's local file header, which is what a Keras 3 .keras archive starts with.
constexpr char kZipSignature[] = "PK\x03\x04";
constexpr size_t kSignatureBytes = 8;
// keras.applications MobileNet preprocessing: x / 127.5 - 1.
constexpr float kKerasPixelMean = 127.5f;
constexpr float kKerasPixelStd = 127.5f;

// The first bytes of a regular file; empty for anything else (which the reader then refuses by name).
std::string first_bytes(const std::string& path) {
    try {
        const io::ReadableFile file = io::open_regular(path, "model file");
        char buf[kSignatureBytes] = {};
        const ssize_t got = ::read(file.fd.get(), buf, sizeof buf);
        return std::string(buf, got > 0 ? static_cast<size_t>(got) : 0);
    } catch (const Error&) {
        return {};
    }
}

std::string extension(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return ext;
}

std::array<float, 3> checked_channels(const std::array<float, 3>& v, const char* flag, bool positive) {
    for (float x : v) {
        if (!std::isfinite(x) || (positive && !(x > 0))) {
            throw Error(ErrorCode::InvalidArgument, std::string(flag) + (positive ? " must be finite and > 0" : " must be finite"));
        }
    }
    return v;
}

}  // namespace

bool is_keras_model(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return fs::is_regular_file(fs::path(path) / "model.json", ec);
    const std::string ext = extension(path);
    if (ext == ".h5" || ext == ".hdf5" || ext == ".keras" || ext == ".json") return true;
    const std::string head = first_bytes(path);
    return head.rfind(std::string(kHdf5Signature, kSignatureBytes), 0) == 0 || (!head.empty() && head[0] == '{');
}

ModelWriter import_keras(const std::string& given_path, const KerasImportOptions& options) {
    std::error_code ec;
    const std::string path =
        fs::is_directory(given_path, ec) ? (fs::path(given_path) / "model.json").string() : given_path;
    io::check_regular(path, io::kMaxModelBytes, "Keras model", ErrorCode::Unsupported);
    const std::string head = first_bytes(path);
    const bool archive = head.rfind(kZipSignature, 0) == 0 || extension(path) == ".keras";
    const bool hdf5 = head.rfind(std::string(kHdf5Signature, kSignatureBytes), 0) == 0 || extension(path) == ".h5" ||
                      extension(path) == ".hdf5";
    const KerasSource src = archive ? read_keras_archive(path) : hdf5 ? read_keras_h5(path) : read_tfjs_layers(path);

    const FlatGraph graph = flatten_topology(src.topology, path);
    const bool keras3 = src.keras_version.rfind("3.", 0) == 0;
    Translator translator(graph, src.weights, path, keras3);
    translator.run();

    ModelDef def;
    const fs::path p(path);
    def.name = options.name;
    if (def.name.empty()) {
        def.name = p.stem().string();
        if (def.name == "model" && p.has_parent_path()) def.name = fs::absolute(p).parent_path().filename().string();
    }
    const std::vector<int64_t> hwc = translator.input_hwc();
    Preprocess& pre = def.preprocess;
    pre.height = static_cast<int>(hwc[0]);
    pre.width = static_cast<int>(hwc[1]);
    pre.color = ColorOrder::RGB;
    pre.crop = options.crop.value_or(1.0);
    if (!(pre.crop > 0.0 && pre.crop <= 1.0)) {
        throw Error(ErrorCode::InvalidArgument, "--crop " + std::to_string(pre.crop) + " is outside (0, 1]");
    }
    const bool raw_pixels = translator.input_feeds_rescaling();
    const float mean = raw_pixels ? 0.0f : kKerasPixelMean, std_dev = raw_pixels ? 1.0f : kKerasPixelStd;
    pre.mean = checked_channels(options.mean.value_or(std::array<float, 3>{mean, mean, mean}), "--mean", false);
    pre.std = checked_channels(options.std.value_or(std::array<float, 3>{std_dev, std_dev, std_dev}), "--std", true);

    const int64_t classes = translator.classes();
    if (!options.labels_path.empty()) {
        def.labels = read_labels(options.labels_path);
        if (static_cast<int64_t>(def.labels.size()) != classes) {
            throw Error(ErrorCode::InvalidArgument, options.labels_path + ": " + std::to_string(def.labels.size()) +
                                                        " labels, but the model's output has " +
                                                        std::to_string(classes) + " classes");
        }
    } else if (!src.labels.empty()) {
        def.labels = src.labels;
        if (static_cast<int64_t>(def.labels.size()) != classes) {
            throw Error(ErrorCode::ModelFormat, (p.parent_path() / "metadata.json").string() + ": " +
                                                    std::to_string(def.labels.size()) + " labels, but the model's output has " +
                                                    std::to_string(classes) + " classes");
        }
        for (const std::string& label : def.labels) {
            if (!valid_label_text(label)) throw Error(ErrorCode::ModelFormat, path + ": metadata.json: a label holds control characters");
        }
    }
    def.background_class = options.background.value_or(!def.labels.empty() && def.labels[0] == "background");
    if (def.background_class && def.labels.empty()) {
        throw Error(ErrorCode::InvalidArgument, "--background-class yes needs labels");
    }

    def.source = src.format + " " + p.filename().string() +
                 (src.keras_version.empty() ? "" : " (" + src.keras_version + ")") +
                 ", converted by mnet-convert " MNET_VERSION_STRING
                 ": NHWC to NCHW, BatchNormalization folded, ZeroPadding2D folded into the next window";
    ModelWriter writer(std::move(def));
    translator.write(writer);
    return writer;
}

ModelDef convert_keras_file(const std::string& path, const std::string& json_path, const KerasImportOptions& options) {
    ModelWriter writer = import_keras(path, options);
    write_loadable(writer, json_path, path);
    return writer.def();
}

}  // namespace mnet::importer
