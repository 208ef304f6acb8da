// SPDX-License-Identifier: Apache-2.0
// Flags and helpers shared by the subcommands: model selection, threads, output files.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "cli/model_source.h"
#include "mnet/engine.h"
#include "mnet/model.h"

namespace mnet::cli {

constexpr const char* kDefaultModelName = "mobilenet_v2_1.0_224_quant";

// For `mnet --help`: what -m takes and where names are looked up.
extern const char* const kModelHelp;

// `-m/--model NAME|FILE`, and the conversion flags a source model takes (--labels, --mean, --std, --crop,
// --background-class).
CLI::Option* add_model_option(CLI::App* sub, ModelFlags& model);
// `-t/--threads N` (0 = all cores).
CLI::Option* add_threads_option(CLI::App* sub, int& threads);
// `--max-pixels N`: the decompression-bomb limit, ImageLimits::max_pixels (mnet/image.h).
CLI::Option* add_max_pixels_option(CLI::App* sub, int64_t& max_pixels);

// `--precision int8|fp32|bf16`; left empty, the model decides (resolve_precision).
CLI::Option* add_precision_option(CLI::App* sub, std::string& precision);
// The arithmetic to run `model` in: the flag's, else int8 for a model carrying quantization parameters (as
// TFLite runs them) and fp32 otherwise. Throws Unsupported for int8 on a model without them.
Precision resolve_precision(const std::string& flag, const Model& model);
// "int8" or "fp32": what every output says ran.
const char* precision_name(Precision precision);

// Model::load of resolve_model(flags).
std::shared_ptr<const Model> load_model(const ModelFlags& flags);

// Flushes stdout; throws OutputClosed when its reader has gone (EPIPE: the run ends quietly), else
// Error(Io) "<stdout_name()>: cannot write (<reason>)" when that fails (a full disk), so stdio output never
// fails silently.
void flush_stdout();

// True when `path` is "-" or empty (standard output).
bool is_stdout(const std::string& path);

}  // namespace mnet::cli
