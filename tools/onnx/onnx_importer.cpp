// SPDX-License-Identifier: Apache-2.0
#include "onnx_importer.h"

#include <cctype>
#include <cmath>
#include <filesystem>

#include "graph/loader.h"
#include "labels.h"
#include "mnet/error.h"
#include "mnet_version.h"
#include "onnx_model.h"
#include "onnx_translator.h"

namespace mnet::importer {

namespace {

namespace fs = std::filesystem;

std::array<float, 3> checked_channels(const std::array<float, 3>& v, const char* flag, bool positive) {
    for (float x : v) {
        if (!std::isfinite(x) || (positive && !(x > 0))) {
            throw Error(ErrorCode::InvalidArgument, std::string(flag) + (positive ? " must be finite and > 0" : " must be finite"));
        }
    }
    return v;
}

}  // namespace

bool is_onnx_model(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return ext == ".onnx";
}

ModelWriter import_onnx(const std::string& path, const OnnxImportOptions& options) {
    const onnx_import::OnnxModel model = onnx_import::read_onnx(path);
    onnx_import::Translator translator(model);
    translator.run();

    ModelDef def;
    def.name = options.name.empty() ? fs::path(path).stem().string() : options.name;
    const Shape in = translator.input_shape();
    Preprocess& pre = def.preprocess;
    pre.height = static_cast<int>(in[2]);
    pre.width = static_cast<int>(in[3]);
    pre.color = ColorOrder::RGB;
    pre.crop = options.crop.value_or(kTorchvisionCrop);
    if (!(pre.crop > 0.0 && pre.crop <= 1.0)) {
        throw Error(ErrorCode::InvalidArgument, "--crop " + std::to_string(pre.crop) + " is outside (0, 1]");
    }
    pre.mean = checked_channels(options.mean.value_or(kTorchvisionMean), "--mean", false);
    pre.std = checked_channels(options.std.value_or(kTorchvisionStd), "--std", true);
    if (in[1] != 3) throw Error(ErrorCode::Unsupported, path + ": input has " + std::to_string(in[1]) + " channels; mnet reads RGB images");

    const int64_t classes = translator.classes();
    if (!options.labels_path.empty()) {
        def.labels = read_labels(options.labels_path);
        if (static_cast<int64_t>(def.labels.size()) != classes) {
            throw Error(ErrorCode::InvalidArgument, options.labels_path + ": " + std::to_string(def.labels.size()) +
                                                        " labels, but the model's output has " +
                                                        std::to_string(classes) + " classes");
        }
    }
    def.background_class = options.background.value_or(!def.labels.empty() && def.labels[0] == "background");
    if (def.background_class && def.labels.empty()) {
        throw Error(ErrorCode::InvalidArgument, "--background-class yes needs labels");
    }
    def.source = "ONNX " + fs::path(path).filename().string() + " (opset " + std::to_string(model.opset) +
                 "), converted by mnet-convert " MNET_VERSION_STRING
                 ": BatchNormalization and zero Pad folded into the convolutions, constant subgraphs folded";
    ModelWriter writer(std::move(def));
    translator.write(writer);
    return writer;
}

ModelDef convert_onnx_file(const std::string& path, const std::string& json_path, const OnnxImportOptions& options) {
    ModelWriter writer = import_onnx(path, options);
    return write_loadable(writer, json_path, path);
}

}  // namespace mnet::importer
