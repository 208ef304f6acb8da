// SPDX-License-Identifier: Apache-2.0
// ONNX → mnet model (models/FORMAT.md): the MobileNets PyTorch (torchvision, timm) exports, in float and in
// ONNX Runtime's static quantization (QDQ and QOperator forms). An ONNX file holds no preprocessing, so it comes
// from the options; the default is torchvision's ImageNet recipe (kTorchvision*).
#pragma once

#include <array>
#include <optional>
#include <string>

#include "model/writer.h"

namespace mnet::importer {

// torchvision's documented ImageNet preprocessing, in pixel units: resize 256, centre-crop 224 (crop 0.875),
// mean (0.485, 0.456, 0.406) * 255, std (0.229, 0.224, 0.225) * 255, RGB.
constexpr std::array<float, 3> kTorchvisionMean = {123.675f, 116.28f, 103.53f};
constexpr std::array<float, 3> kTorchvisionStd = {58.395f, 57.12f, 57.375f};
constexpr double kTorchvisionCrop = 0.875;

struct OnnxImportOptions {
    std::string labels_path;                   // one label per line (UTF-8)
    std::optional<bool> background;            // labels[0] is not a class; default: labels[0] == "background"
    std::optional<std::array<float, 3>> mean;  // RGB; default kTorchvisionMean
    std::optional<std::array<float, 3>> std;   // default kTorchvisionStd
    std::optional<double> crop;                // central crop in (0, 1]; default kTorchvisionCrop
    std::string name;                          // default: the file's stem
};

// Whether `path` is an ONNX file: by its .onnx extension (the protobuf has no magic number).
bool is_onnx_model(const std::string& path);

// Converts `path`. Throws mnet::Error: ModelFormat for a corrupt or inconsistent file, Unsupported for ops or
// settings mnet cannot express (naming the node and op), InvalidArgument for bad options, Io when a file cannot
// be read. Every message starts with the file.
ModelWriter import_onnx(const std::string& path, const OnnxImportOptions& options);

// Converts `path` and writes `json_path` plus the weights file beside it, then loads the result with the engine's
// own validation (removing it if that fails). Returns the model definition that was written.
ModelDef convert_onnx_file(const std::string& path, const std::string& json_path, const OnnxImportOptions& options);

}  // namespace mnet::importer
