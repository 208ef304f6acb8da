// SPDX-License-Identifier: Apache-2.0
// Running the mnet binary from the profile/info/bench tests, and the models they run it on.
#pragma once

#include <string>
#include <vector>

namespace mnet::test {

struct CommandResult {
    int status = -1;  // the exit status, or -1 when the process did not exit normally
    std::string out;  // standard output
    std::string err;  // standard error
};

// Runs `<build>/mnet <args>` (args are passed through the shell: quote paths) and captures both streams.
CommandResult run_mnet(const std::string& args);

// The shared MobileNetV2 1.0/224 converted with mnet-convert (once per process): its manifest path.
std::string mobilenet_v2_manifest();

// The smallest depthwise-separable block, written with ModelWriter into a temporary folder: input 1x3x32x32,
// depthwise 3x3 (groups 3, pad 1) -> pointwise 1x1 3 -> 16. Node names differ from their output tensors'
// ("dw" writes "dw_out"), as in converted models. Returns the manifest path.
std::string separable_example_manifest();

// Single-quotes `s` for the shell.
std::string quoted(const std::string& s);

// Splits CSV text into rows of fields (RFC 4180 quoting).
std::vector<std::vector<std::string>> parse_csv(const std::string& text);

// The whole file as text; empty when it cannot be read.
std::string read_text_file(const std::string& path);

// How many times `needle` occurs in `haystack`.
size_t count_of(const std::string& haystack, const std::string& needle);

}  // namespace mnet::test
