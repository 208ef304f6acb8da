// SPDX-License-Identifier: Apache-2.0
// mnet-convert: a TensorFlow Lite model (.tflite, schema v3), an ONNX model (.onnx) or a Keras model (.h5, TF.js layers model.json)
// -> an mnet model (NAME.json + NAME.bin).
// Errors are one line on stderr, `mnet-convert: error: <file>: <what>`; exit statuses as `mnet` (src/common/exit_codes.h).
#include <CLI/CLI.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "common/exit_codes.h"  // the same statuses as `mnet`
#include "common/usage.h"  // the same help formatting and one-line parse errors
#include "core/file_io.h"
#include "core/option_checks.h"
#include "mnet/error.h"
#include "mnet_version.h"
#include "tflite_importer.h"
#ifdef MNET_HAVE_KERAS
#include "keras_importer.h"
#endif
#ifdef MNET_HAVE_ONNX
#include "onnx_importer.h"
#endif

namespace {

constexpr const char* kProgram = "mnet-convert";

// "128" (all channels) or "123.7,116.3,103.5" (R,G,B).
std::array<float, 3> parse_channels(const std::string& flag, const std::string& text) {
    std::vector<float> values;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        size_t used = 0;
        float v = 0;
        try {
            v = std::stof(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size()) {
            throw mnet::Error(mnet::ErrorCode::InvalidArgument, flag + ": '" + text + "' is not a number or R,G,B");
        }
        values.push_back(v);
    }
    if (values.size() == 1) return {values[0], values[0], values[0]};
    if (values.size() == 3) return {values[0], values[1], values[2]};
    throw mnet::Error(mnet::ErrorCode::InvalidArgument, flag + ": give one value or three (R,G,B), not '" + text + "'");
}

const char* kind_name(mnet::OutputKind kind) {
    switch (kind) {
        case mnet::OutputKind::Probabilities: return "probabilities";
        case mnet::OutputKind::Logits: return "logits";
        case mnet::OutputKind::Feature: return "feature";
    }
    return "?";
}

// The options the ONNX and Keras importers share with the TFLite one the command line fills; their background
// flag is unset (decided from the labels) unless given.
template <typename ImportOptions>
ImportOptions shared_options(const mnet::importer::TfliteImportOptions& options) {
    ImportOptions out;
    out.labels_path = options.labels_path;
    if (options.background != mnet::importer::BackgroundClass::Auto) {
        out.background = options.background == mnet::importer::BackgroundClass::Yes;
    }
    out.mean = options.mean;
    out.std = options.std;
    out.crop = options.crop;
    out.name = options.name;
    return out;
}

// Picks the importer by file type: ONNX (.onnx), Keras (.h5, .keras, a TF.js model.json or its folder), else TFLite.
mnet::ModelDef convert(const std::string& input, const std::string& output,
                       const mnet::importer::TfliteImportOptions& options) {
#ifdef MNET_HAVE_ONNX
    if (mnet::importer::is_onnx_model(input)) {
        return mnet::importer::convert_onnx_file(input, output,
                                                 shared_options<mnet::importer::OnnxImportOptions>(options));
    }
#endif
#ifdef MNET_HAVE_KERAS
    if (mnet::importer::is_keras_model(input)) {
        return mnet::importer::convert_keras_file(input, output,
                                                  shared_options<mnet::importer::KerasImportOptions>(options));
    }
#endif
    return mnet::importer::convert_tflite_file(input, output, options);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Converts a TensorFlow Lite (.tflite), ONNX (.onnx) or Keras (.h5, .keras, TF.js layers model.json) model to the mnet "
                 "model format (models/FORMAT.md).", kProgram};
    std::string input, output, labels, background = "auto", mean, std_dev, name;
    double crop = 0;
    app.add_option("input", input, "the .tflite file, .onnx file, Keras .h5 file or .keras archive, or TF.js model.json (or its folder)")->required();
    app.add_option("-o,--output", output, "the manifest to write, NAME.json; NAME.bin is written beside it")
        ->option_text("FILE")
        ->required();
    app.add_option("--labels", labels, "label file, one class name per line (UTF-8)")->option_text("FILE");
    app.add_option("--background-class", background,
                   "whether label 0 is TF-slim's 'background' (auto: when labels[0] is \"background\")")
        ->option_text("auto|yes|no")
        ->check(mnet::cli::one_of({"auto", "yes", "no"}));
    app.add_option("--mean", mean, "pixel mean, one value or R,G,B (default: the input's zero point; Keras: 127.5)")
        ->option_text("X|R,G,B");
    app.add_option("--std", std_dev, "pixel std, one value or R,G,B (default: 1 / the input's scale; Keras: 127.5)")
        ->option_text("X|R,G,B");
    auto* crop_opt =
        app.add_option("--crop", crop, "central crop fraction in (0, 1] (default 0.875; Keras: 1)")->option_text("X");
    app.add_option("--name", name, "model name (default: the input file's stem)")->option_text("NAME");
    std::string preset;
    app.add_option("--preset", preset,
                   "preprocessing preset; torchvision: ImageNet mean/std, resize 256 + centre crop 224 (crop 0.875) "
                   "- the default for ONNX; --mean/--std/--crop override it")
        ->option_text("torchvision")
        ->check(mnet::cli::one_of({"torchvision"}));
    app.set_version_flag("--version", MNET_VERSION_STRING);
    mnet::refuse_empty_values(app);
    app.formatter(mnet::cli::make_help_formatter());
    app.footer(std::string("Examples:\n"
                           "  mnet-convert model.tflite --labels labels.txt -o models/mine/mine.json\n"
                           "  mnet-convert keras_model.h5 --mean 127.5 --std 127.5 -o keras.json\n"
                           "  mnet-convert model.onnx -o resnet.json          (torchvision preprocessing by default)\n"
                           "  mnet-convert tm_export/ -o tm.json        (a TF.js model.json folder, e.g. Teachable "
                           "Machine)\n"
                           "Then: mnet classify -m models/mine/mine.json photo.jpg (or give mnet -m the source file "
                           "itself: it converts once and caches).\n\n") +
               mnet::cli::kExitStatusHelp);
    std::signal(SIGXFSZ, SIG_IGN);  // a file size limit is a write error (EFBIG) with the output cleaned up
    const std::vector<std::string> args(argv, argv + argc);
    if (const int parsed = mnet::cli::parse_args(app, args); parsed >= 0) {
        return parsed == 0 ? 0 : mnet::cli::kExitUsage;
    }

    try {
        mnet::io::InputScope inputs;  // one conversion: what it reads (source, weights, labels) is no output
        mnet::importer::TfliteImportOptions options;
        options.labels_path = labels;
        options.background = background == "yes"  ? mnet::importer::BackgroundClass::Yes
                             : background == "no" ? mnet::importer::BackgroundClass::No
                                                  : mnet::importer::BackgroundClass::Auto;
#ifdef MNET_HAVE_ONNX
        if (preset == "torchvision") {
            options.mean = mnet::importer::kTorchvisionMean;
            options.std = mnet::importer::kTorchvisionStd;
            options.crop = mnet::importer::kTorchvisionCrop;
        }
#endif
        if (!mean.empty()) options.mean = parse_channels("--mean", mean);
        if (!std_dev.empty()) options.std = parse_channels("--std", std_dev);
        if (crop_opt->count() > 0) options.crop = crop;
        options.name = name;

        const auto start = std::chrono::steady_clock::now();
        const mnet::ModelDef def = convert(input, output, options);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

        int64_t params = 0;
        for (const auto& t : def.tensors) params += static_cast<int64_t>(t.nbytes / sizeof(float));
        const auto& s = def.input.shape;
        std::printf(
            "%s: wrote %s (%s): %zu nodes, %zu tensors, %lld parameters, input [%lld,%lld,%lld,%lld], "
            "output '%s' (%s), %zu labels, in %.2f s\n",
            kProgram, output.c_str(), def.weights_file.c_str(), def.nodes.size(), def.tensors.size(),
            static_cast<long long>(params), static_cast<long long>(s[0]), static_cast<long long>(s[1]),
            static_cast<long long>(s[2]), static_cast<long long>(s[3]), def.outputs[0].name.c_str(),
            kind_name(def.outputs[0].kind), def.labels.size(), seconds);
        return 0;
    } catch (const mnet::Error& e) {
        std::cerr << kProgram << ": error: " << mnet::io::printable(e.what()) << "\n";
        return mnet::cli::exit_code_for(e.code());
    } catch (const std::exception& e) {
        std::cerr << kProgram << ": error: " << mnet::io::printable(input + ": " + e.what()) << "\n";
        return mnet::cli::kExitBackend;
    }
}
