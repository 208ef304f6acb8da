// SPDX-License-Identifier: Apache-2.0
// PLACEHOLDER (development only): replaced by the real command before landing.
#include "cli/commands.h"
namespace mnet::cli {
void setup_batch(CLI::App&, int&) {}
}  // namespace mnet::cli
