// SPDX-License-Identifier: Apache-2.0
#include "tflite_importer.h"
#include "labels.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <type_traits>

#include "core/file_io.h"
#include "graph/loader.h"
#include "mnet/model.h"
#include "mnet_version.h"
#include "tflite_file.h"
#include "tflite_graph.h"

namespace mnet::importer {

namespace {

namespace fs = std::filesystem;

// TF-slim's evaluation crop (central 87.5%), used by the Google-hosted quantized MobileNets.
constexpr double kDefaultCrop = 0.875;
// An int8 input takes pixel - 128 (the uint8 pixel shifted into int8's range).
constexpr float kInt8PixelShift = 128.0f;
constexpr int64_t kRgbChannels = 3;

std::vector<uint8_t> read_all(const std::string& path) {
    return io::read_regular_bytes(path, io::kMaxModelBytes, "TFLite model", ErrorCode::Unsupported);
}

std::optional<QuantParams> per_tensor(const std::optional<QuantParams>& q) {
    if (!q || q->scale.size() != 1 || !(q->scale[0] > 0)) return std::nullopt;
    QuantParams out = *q;
    out.axis = -1;
    return out;
}

// The single image input, NHWC [1, H, W, 3]; returns its tensor index.
int32_t image_input(const TfliteFile& file) {
    if (file.graph_inputs().size() != 1) {
        file.fail(ErrorCode::Unsupported,
                  std::to_string(file.graph_inputs().size()) + " graph inputs; mnet needs one image input");
    }
    const int32_t input_index = file.graph_inputs()[0];
    const TfliteTensor& input = file.tensor(input_index);
    if (input.is_constant()) file.fail(ErrorCode::ModelFormat, "graph input '" + input.name + "' is a constant");
    const auto& s = input.shape;
    if (s.size() != 4 || s[0] != 1 || s[3] != kRgbChannels || s[1] < 1 || s[2] < 1) {
        file.fail(ErrorCode::Unsupported,
                  "input '" + input.name + "' is " + shape_text(s) + "; mnet needs one RGB image, [1, H, W, 3]");
    }
    const bool is_u8 = input.type == ::tflite::TensorType_UINT8, is_s8 = input.type == ::tflite::TensorType_INT8;
    if (!is_u8 && !is_s8 && input.type != ::tflite::TensorType_FLOAT32) {
        file.fail(ErrorCode::Unsupported,
                  std::string("input type ") + tensor_type_name(input.type) + "; supported: UINT8, INT8, FLOAT32");
    }
    return input_index;
}

// Preprocessing: the input quantization says how pixels become the integers the model was trained on.
Preprocess preprocess_for(const TfliteFile& file, const TfliteTensor& input, const std::optional<QuantParams>& quant,
                          const TfliteImportOptions& options) {
    const bool is_s8 = input.type == ::tflite::TensorType_INT8;
    Preprocess pre;
    pre.height = static_cast<int>(input.shape[1]);
    pre.width = static_cast<int>(input.shape[2]);
    pre.color = ColorOrder::RGB;
    pre.crop = options.crop.value_or(kDefaultCrop);
    if (!(pre.crop > 0.0 && pre.crop <= 1.0)) {
        throw Error(ErrorCode::InvalidArgument, "--crop " + std::to_string(pre.crop) + " is outside (0, 1]");
    }
    if (quant) {
        // reference README: mean = zero_point, std = 1.0f / scale in float32 (divide, never multiply by scale).
        const float scale = static_cast<float>(quant->scale[0]);
        const float mean = static_cast<float>(quant->zero_point[0]) + (is_s8 ? kInt8PixelShift : 0.0f);
        pre.mean = {mean, mean, mean};
        const float std_dev = 1.0f / scale;
        pre.std = {std_dev, std_dev, std_dev};
    } else if (!options.mean || !options.std) {
        file.fail(ErrorCode::InvalidArgument, "input '" + input.name + "' is " + tensor_type_name(input.type) +
                                                  " without quantization; give --mean and --std");
    }
    if (options.mean) pre.mean = *options.mean;
    if (options.std) pre.std = *options.std;
    for (float v : pre.std) {
        if (!(v > 0.0f) || !std::isfinite(v)) throw Error(ErrorCode::InvalidArgument, "--std must be finite and > 0");
    }
    for (float v : pre.mean) {
        if (!std::isfinite(v)) throw Error(ErrorCode::InvalidArgument, "--mean must be finite");
    }
    return pre;
}

// Labels from --labels (checked against the class count) and the background-class choice.
void set_labels(const TfliteImportOptions& options, int64_t classes, ModelDef& out) {
    if (!options.labels_path.empty()) {
        out.labels = read_labels(options.labels_path);
        if (static_cast<int64_t>(out.labels.size()) != classes) {
            throw Error(ErrorCode::InvalidArgument, options.labels_path + ": " + std::to_string(out.labels.size()) +
                                                        " labels, but the model's output has " +
                                                        std::to_string(classes) + " classes");
        }
    }
    switch (options.background) {
        case BackgroundClass::Auto: out.background_class = !out.labels.empty() && out.labels[0] == "background"; break;
        case BackgroundClass::Yes:
            if (out.labels.empty()) throw Error(ErrorCode::InvalidArgument, "--background-class yes needs --labels");
            out.background_class = true;
            break;
        case BackgroundClass::No: out.background_class = false; break;
    }
}

std::string source_text(const TfliteFile& file, const std::string& path) {
    std::string description = file.description();
    return "TFLite " + fs::path(path).filename().string() + " (schema v" + std::to_string(file.schema_version()) +
           (description.empty() ? "" : ", \"" + description + "\"") +
           "), converted by mnet-convert " MNET_VERSION_STRING
           ": NHWC to NCHW, quantized constants dequantized to f32, output ranges kept for saturation";
}

}  // namespace

ModelWriter import_tflite(const std::string& path, std::vector<uint8_t> bytes, const TfliteImportOptions& options) {
    const TfliteFile file(path, std::move(bytes));
    const int32_t input_index = image_input(file);
    const TfliteTensor& input = file.tensor(input_index);
    const bool quantized = input.type == ::tflite::TensorType_UINT8 || input.type == ::tflite::TensorType_INT8;

    ModelDef def;
    def.name = options.name.empty() ? fs::path(path).stem().string() : options.name;
    def.input.name = input.name;
    def.input.shape = {1, kRgbChannels, input.shape[1], input.shape[2]};
    def.input.quant = quantized ? per_tensor(input.quant) : std::nullopt;
    def.preprocess = preprocess_for(file, input, def.input.quant, options);

    ModelWriter writer(std::move(def));
    GraphBuilder graph(file, writer);
    graph.add_input(input_index, input.name);
    for (size_t i = 0; i < file.operator_count(); ++i) graph.add_operator(i);

    ModelDef& out = writer.def();
    if (file.graph_outputs().empty()) file.fail(ErrorCode::ModelFormat, "the subgraph has no outputs");
    for (int32_t t : file.graph_outputs()) {
        out.outputs.push_back(OutputDef{graph.output_name(t), graph.output_kind(t)});
    }
    set_labels(options, graph.features(file.graph_outputs()[0]), out);
    out.source = source_text(file, path);
    return writer;
}

ModelDef convert_tflite_file(const std::string& tflite_path, const std::string& json_path,
                             const TfliteImportOptions& options) {
    ModelWriter writer = import_tflite(tflite_path, read_all(tflite_path), options);
    write_loadable(writer, json_path, tflite_path);
    return writer.def();
}

}  // namespace mnet::importer
