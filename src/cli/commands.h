// SPDX-License-Identifier: Apache-2.0
// Each subcommand registers itself on the app; its callback runs it and stores the exit status in `status`.
#pragma once

#include <CLI/CLI.hpp>

namespace mnet::cli {

void setup_classify(CLI::App& app, int& status);
void setup_batch(CLI::App& app, int& status);
void setup_eval(CLI::App& app, int& status);
void setup_profile(CLI::App& app, int& status);
void setup_info(CLI::App& app, int& status);
void setup_bench(CLI::App& app, int& status);
void setup_quantize(CLI::App& app, int& status);
void setup_models(CLI::App& app, int& status);
void setup_merge(CLI::App& app, int& status);

}  // namespace mnet::cli
