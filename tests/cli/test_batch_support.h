// SPDX-License-Identifier: Apache-2.0
// Running the mnet binary from tests, and the photo fixtures the batch and eval tests share.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mnet::test {

struct RunResult {
    int status = -1;  // exit status, or 128 + signal when killed by one
    std::string out;
    std::string err;
};

// Runs `command` with /bin/sh, capturing stdout and stderr.
RunResult run_shell(const std::string& command);

// ${MNET_BINARY_DIR}/mnet, quoted for the shell.
std::string mnet();
std::string quote(const std::string& s);

// The model the tests use (mobilenet_v1_0.75_192_quant, converted once per process): its manifest path.
const std::string& test_model();

struct ReferenceTop {
    int64_t index = 0;
    std::string label;
};
// stem ("dog") -> the reference top-5 (top5_float) of the test model.
const std::map<std::string, std::vector<ReferenceTop>>& reference_top5();
// stem -> the shared photo's path; file name -> stem ("dog.jpg" -> "dog").
const std::map<std::string, std::string>& shared_photos();

void copy_file(const std::string& from, const std::string& to);  // creates the parent folders

std::string slurp_file(const std::string& path);  // the whole file, "" if it cannot be read

// The non-empty lines of `text`.
std::vector<std::string> lines_of(const std::string& text);

}  // namespace mnet::test
