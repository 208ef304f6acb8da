// SPDX-License-Identifier: Apache-2.0
// The ONNX target's seeds: the shared float MobileNetV2 ONNX (../shared/peers/models) and the importer's test
// fixtures (tests/data/onnx: torchvision and timm MobileNets, float, QDQ and QOperator).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "seeds_internal.h"

namespace mnet::fuzz {

void add_onnx_seeds(const std::string& shared_dir, std::vector<Seed>& seeds) {
    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    for (const fs::path& dir : {fs::path(shared_dir) / "peers" / "models", fs::path(MNET_ONNX_FIXTURES)}) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            if (entry.path().extension() == ".onnx") files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& p : files) {
        std::ifstream in(p, std::ios::binary);
        std::ostringstream bytes;
        bytes << in.rdbuf();
        seeds.push_back({p.filename().string(), bytes.str()});
    }
}

}  // namespace mnet::fuzz
