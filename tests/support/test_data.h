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

// A fresh empty temporary folder, $TMPDIR/mnet-test-<tag>-<random>. It lives as long as the test process: every
// folder made here is removed, with its contents, when the process exits normally (Catch2's main returns after a
// failed test too). MNET_KEEP_TEST_DIRS=1 keeps them for inspection.
std::string make_temp_dir(const std::string& tag);

// A folder of make_temp_dir(tag) removed, with its contents, when this object goes (not only at the process's
// end): for a test that makes many files.
struct TempDir {
    explicit TempDir(const std::string& tag);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string path;
};

// `s` quoted for /bin/sh ('...', an inner quote as '\'').
std::string shell_quote(const std::string& s);

// Runs `command` with /bin/sh: its exit status (-1 when it did not exit), its standard output in `out`; standard
// error passes through.
int run_command(const std::string& command, std::string& out);

// The photo ../shared/testdata/images/dog.jpg (a malamute), the input most command-line tests classify.
std::string shared_dog();

std::vector<uint8_t> read_file_bytes(const std::string& path);
std::vector<float> read_f32_file(const std::string& path);
void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes);
void write_text_file(const std::string& path, const std::string& text);

}  // namespace mnet::test
