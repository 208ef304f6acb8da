// SPDX-License-Identifier: Apache-2.0
// TFLite (schema v3) → mnet model (models/FORMAT.md). NHWC tensors become logical NCHW, quantized constants are
// dequantized to f32 (the source parameters are kept), and each node remembers its output's uint8/int8
// quantization so the engine can apply FORMAT.md's saturation rule.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "model/writer.h"

namespace mnet::importer {

enum class BackgroundClass { Auto, Yes, No };

struct TfliteImportOptions {
    std::string labels_path;                             // one label per line (UTF-8); empty = no labels
    BackgroundClass background = BackgroundClass::Auto;  // Auto: labels[0] == "background" and one label per class
    std::optional<std::array<float, 3>> mean;            // override the input quantization's mean (RGB order)
    std::optional<std::array<float, 3>> std;             // override the input quantization's std
    std::optional<double> crop;                          // central crop in (0, 1]; default 0.875 (TF-slim evaluation)
    std::string name;                                    // model name; default: the input file's stem
};

// Converts the flatbuffer `bytes` read from `path` (used in messages, the default name and `source`).
// Throws mnet::Error: ModelFormat for a corrupt or inconsistent file, Unsupported for ops or layouts mnet cannot
// express (the message names the op, its index and its output tensor), InvalidArgument for bad options, Io when
// the labels file cannot be read. Every message starts with the file it is about.
ModelWriter import_tflite(const std::string& path, std::vector<uint8_t> bytes, const TfliteImportOptions& options);

// Reads `tflite_path`, converts it, and writes `json_path` plus the weights file beside it.
// Returns the model definition that was written (for summaries).
ModelDef convert_tflite_file(const std::string& tflite_path, const std::string& json_path,
                             const TfliteImportOptions& options);

}  // namespace mnet::importer
