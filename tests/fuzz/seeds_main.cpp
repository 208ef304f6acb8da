// SPDX-License-Identifier: Apache-2.0
// mnet-fuzz-seeds TARGET OUT_DIR SHARED_DIR: writes TARGET's seed corpus (seeds.h), built from the real files in
// SHARED_DIR, into OUT_DIR, one file per seed. tools/fuzz.sh runs it before each fuzzing run.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>

#include "seeds.h"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: mnet-fuzz-seeds TARGET OUT_DIR SHARED_DIR\n");
        return 2;
    }
    try {
        namespace fs = std::filesystem;
        const fs::path out_dir(argv[2]);
        fs::create_directories(out_dir);
        size_t total = 0;
        const auto seeds = mnet::fuzz::make_seeds(argv[1], argv[3]);
        for (const mnet::fuzz::Seed& seed : seeds) {
            std::ofstream out(out_dir / seed.name, std::ios::binary | std::ios::trunc);
            out.write(seed.bytes.data(), static_cast<std::streamsize>(seed.bytes.size()));
            out.close();
            if (!out) throw std::runtime_error("cannot write " + (out_dir / seed.name).string());
            total += seed.bytes.size();
        }
        std::printf("mnet-fuzz-seeds: %zu seeds for '%s' (%zu bytes) in %s\n", seeds.size(), argv[1], total, argv[2]);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mnet-fuzz-seeds: error: %s\n", e.what());
        return 1;
    }
}
