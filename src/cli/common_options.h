// SPDX-License-Identifier: Apache-2.0
// Flags and helpers shared by the subcommands: model selection, threads, output files.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "mnet/model.h"

namespace mnet::cli {

constexpr const char* kDefaultModelName = "mobilenet_v2_1.0_224_quant";

// The folder model names are looked up in: $MNET_MODEL_DIR, else the project's models/.
std::string model_dir();

// `-m/--model NAME|PATH`.
CLI::Option* add_model_option(CLI::App* sub, std::string& model);
// `-t/--threads N` (0 = all cores).
CLI::Option* add_threads_option(CLI::App* sub, int& threads);

// A manifest path for `name_or_path`: an existing file as given, else <model_dir>/NAME/NAME.json or
// <model_dir>/NAME.json. Empty means the default model. Throws Io naming what was tried.
std::string resolve_model_path(const std::string& name_or_path);
std::shared_ptr<const Model> load_model(const std::string& name_or_path);

// True when `path` is "-" or empty (standard output).
bool is_stdout(const std::string& path);

}  // namespace mnet::cli
