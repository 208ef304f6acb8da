// SPDX-License-Identifier: Apache-2.0
#include "fuzz_support.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mnet::fuzz {

namespace fs = std::filesystem;

std::vector<std::string> split_parts(const uint8_t* data, size_t size, size_t count) {
    std::vector<std::string> parts;
    const char* text = reinterpret_cast<const char*>(data);
    size_t start = 0;
    while (parts.size() + 1 < count) {
        size_t end = start;
        while (end < size && data[end] != kPartSeparator) ++end;
        parts.emplace_back(text + start, end - start);
        start = end < size ? end + 1 : size;
    }
    parts.emplace_back(text + start, size - start);
    return parts;
}

std::string join_parts(const std::vector<std::string>& parts) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) out += static_cast<char>(kPartSeparator);
        out += parts[i];
    }
    return out;
}

namespace {

class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (fs::temp_directory_path() / "mnet-fuzz-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("mnet fuzz: mkdtemp");
            std::abort();
        }
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace

const std::string& scratch_dir() {
    static const ScratchDir dir;
    return dir.path();
}

void write_scratch_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
        std::fprintf(stderr, "mnet fuzz: cannot write %s\n", path.c_str());
        std::abort();
    }
}

}  // namespace mnet::fuzz
