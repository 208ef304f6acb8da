// SPDX-License-Identifier: Apache-2.0
#include "support/test_data.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mnet::test {

std::string shared_dir() {
    const char* env = std::getenv("MNET_TEST_DATA");
    std::string dir = (env && *env) ? env : MNET_DEFAULT_TEST_DATA;
    if (!fs::is_directory(fs::path(dir) / "testdata") || !fs::is_directory(fs::path(dir) / "models")) {
        throw std::runtime_error("shared test data not found at '" + dir +
                                 "' (set MNET_TEST_DATA to the folder holding models/ and testdata/)");
    }
    return dir;
}

std::string make_temp_dir(const std::string& tag) {
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
        fs::path p = fs::temp_directory_path() / ("mnet-test-" + tag + "-" + std::to_string(rd()));
        if (fs::create_directory(p)) return p.string();
    }
    throw std::runtime_error("cannot create a temporary folder for " + tag);
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::vector<float> read_f32_file(const std::string& path) {
    std::vector<uint8_t> bytes = read_file_bytes(path);
    if (bytes.size() % sizeof(float) != 0) throw std::runtime_error(path + ": size is not a multiple of 4");
    std::vector<float> values(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
}

void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

void write_text_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace mnet::test
