// SPDX-License-Identifier: Apache-2.0
// Converting a source model for `-m FILE.tflite` by running mnet-convert as a child process.
//
// Why a child process and not the importer libraries linked in: the importers (tools/) are not part of the
// engine and `mnet` is a client of the public API only; linking them would put FlatBuffers, HDF5 and every
// importer's internals into the CLI. mnet-convert is built and installed beside `mnet` (build/, <prefix>/bin),
// so the one conversion code path stays the converter's, with its own checks and messages.
#pragma once

#include <string>
#include <vector>

namespace mnet::cli {

// Runs <exe dir>/mnet-convert with `args` (its standard output discarded). Throws mnet::Error when it cannot
// be started or fails: its one-line error as the message, its exit status mapped back to the ErrorCode.
void run_converter(const std::string& source, const std::vector<std::string>& args);

}  // namespace mnet::cli
