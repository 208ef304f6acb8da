// SPDX-License-Identifier: Apache-2.0
// Where the tests find ../shared (real models, photos, reference outputs), and small file helpers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mnet::test {

// The shared data folder: $MNET_TEST_DATA, else the build's default (<repo>/../shared). Throws std::runtime_error
// (failing the test, never skipping it) when the folder or its testdata/ is missing.
std::string shared_dir();

// A fresh empty temporary folder, removed by nobody: tests keep it for inspection.
std::string make_temp_dir(const std::string& tag);

std::vector<uint8_t> read_file_bytes(const std::string& path);
std::vector<float> read_f32_file(const std::string& path);
void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes);
void write_text_file(const std::string& path, const std::string& text);

}  // namespace mnet::test
