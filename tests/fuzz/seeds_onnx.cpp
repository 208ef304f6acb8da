// SPDX-License-Identifier: Apache-2.0
// The ONNX target's seeds: the shared float MobileNetV2 ONNX (../shared/peers/models) and the importer's test
// fixtures (tests/data/onnx: torchvision and timm MobileNets, float, QDQ and QOperator), each whole and cut to its
// first nodes (kilobytes instead of megabytes: the same ops, attributes and quantization, a hundred times faster).
#include <algorithm>
#include <set>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "onnx/onnx_pb.h"
#include "seeds_internal.h"

namespace mnet::fuzz {

namespace {

constexpr int kPrefixNodes = 12;

// The first kPrefixNodes nodes of the model and the initializers they read; the last one's output is the graph's.
std::string onnx_prefix(const std::string& bytes) {
    onnx::ModelProto m;
    if (!m.ParseFromString(bytes) || m.graph().node_size() <= kPrefixNodes) return {};
    onnx::GraphProto& g = *m.mutable_graph();
    g.mutable_node()->DeleteSubrange(kPrefixNodes, g.node_size() - kPrefixNodes);
    std::set<std::string> read;
    for (const auto& n : g.node()) read.insert(n.input().begin(), n.input().end());
    onnx::GraphProto kept_inits;
    for (const auto& t : g.initializer()) {
        if (read.count(t.name())) *kept_inits.add_initializer() = t;
    }
    g.mutable_initializer()->Swap(kept_inits.mutable_initializer());
    g.clear_output();
    g.add_output()->set_name(g.node(kPrefixNodes - 1).output(0));
    std::string out;
    m.SerializeToString(&out);
    return out;
}

}  // namespace

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
        std::string prefix = onnx_prefix(seeds.back().bytes);
        if (!prefix.empty()) seeds.push_back({p.stem().string() + ".prefix.onnx", std::move(prefix)});
    }
}

}  // namespace mnet::fuzz
