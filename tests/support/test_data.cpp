// SPDX-License-Identifier: Apache-2.0
#include "support/test_data.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
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

namespace {

// The folders make_temp_dir made, removed by this object's destructor when the process exits. Tests share some
// of them across test cases (a model converted once per process), so they cannot go at the end of each case.
class TempDirs {
public:
    TempDirs() = default;
    TempDirs(const TempDirs&) = delete;
    TempDirs& operator=(const TempDirs&) = delete;
    ~TempDirs() {
        const char* keep = std::getenv("MNET_KEEP_TEST_DIRS");
        if (keep && *keep && std::strcmp(keep, "0") != 0) return;
        for (const fs::path& dir : dirs_) {
            std::error_code ignored;  // a folder a test made unreadable is left, never an exception at exit
            fs::remove_all(dir, ignored);
        }
    }
    void add(fs::path dir) {
        const std::lock_guard<std::mutex> lock(mutex_);
        dirs_.push_back(std::move(dir));
    }

private:
    std::mutex mutex_;
    std::vector<fs::path> dirs_;
};

TempDirs& temp_dirs() {
    static TempDirs dirs;
    return dirs;
}

}  // namespace

std::string make_temp_dir(const std::string& tag) {
    std::random_device rd;
    TempDirs& dirs = temp_dirs();  // constructed before the first folder, so destroyed after its last user
    for (int attempt = 0; attempt < 100; ++attempt) {
        fs::path p = fs::temp_directory_path() / ("mnet-test-" + tag + "-" + std::to_string(rd()));
        if (fs::create_directory(p)) {
            dirs.add(p);
            return p.string();
        }
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

TempDir::TempDir(const std::string& tag) : path(make_temp_dir(tag)) {}

TempDir::~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

int run_command(const std::string& command, std::string& out) {
    out.clear();
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run: " + command);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string shared_dog() { return shared_dir() + "/testdata/images/dog.jpg"; }

}  // namespace mnet::test
