// SPDX-License-Identifier: Apache-2.0
// Flags and helpers shared by the subcommands: model selection, threads, output files.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "mnet/engine.h"
#include "mnet/model.h"

namespace mnet::cli {

constexpr const char* kDefaultModelName = "mobilenet_v2_1.0_224_quant";

// The folder model names are looked up in: $MNET_MODEL_DIR, else the project's models/.
std::string model_dir();

// `-m/--model NAME|PATH`.
CLI::Option* add_model_option(CLI::App* sub, std::string& model);
// `-t/--threads N` (0 = all cores).
CLI::Option* add_threads_option(CLI::App* sub, int& threads);
// `--max-pixels N`: the decompression-bomb limit, ImageLimits::max_pixels (mnet/image.h).
CLI::Option* add_max_pixels_option(CLI::App* sub, int64_t& max_pixels);

// `--precision int8|fp32`; left empty, the model decides (resolve_precision).
CLI::Option* add_precision_option(CLI::App* sub, std::string& precision);
// The arithmetic to run `model` in: the flag's, else int8 for a model carrying quantization parameters (as
// TFLite runs them) and fp32 otherwise. Throws Unsupported for int8 on a model without them.
Precision resolve_precision(const std::string& flag, const Model& model);
// "int8" or "fp32": what every output says ran.
const char* precision_name(Precision precision);

// A manifest path for `name_or_path`: an existing file as given, else <model_dir>/NAME/NAME.json or
// <model_dir>/NAME.json. Empty means the default model. Throws Io naming what was tried.
std::string resolve_model_path(const std::string& name_or_path);
std::shared_ptr<const Model> load_model(const std::string& name_or_path);

// Flushes stdout; throws Error(Io) "standard output: cannot write (<reason>)" when that fails (a full disk,
// a closed pipe with SIGPIPE ignored), so stdio output never fails silently.
void flush_stdout();

// True when `path` is "-" or empty (standard output).
bool is_stdout(const std::string& path);

}  // namespace mnet::cli
