// SPDX-License-Identifier: Apache-2.0
// Reading and checking an ONNX ModelProto (onnx_model.h).
#include "onnx_model.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "mnet/error.h"
#include "onnx/onnx_pb.h"

namespace mnet::importer::onnx_import {

namespace {

namespace fs = std::filesystem;

std::string read_bounded(const std::string& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error(ErrorCode::Io, path + ": cannot open (not a regular file)");
    const uint64_t size = fs::file_size(path, ec);
    if (ec) throw Error(ErrorCode::Io, path + ": cannot read its size");
    if (size > kMaxModelBytes) {
        throw Error(ErrorCode::ModelFormat, path + ": " + std::to_string(size) + " bytes, over the ONNX importer's limit of " +
                                                std::to_string(kMaxModelBytes));
    }
    std::ifstream in(path, std::ios::binary);
    std::string bytes(size, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (!in || in.gcount() != static_cast<std::streamsize>(size)) throw Error(ErrorCode::Io, path + ": read failed");
    return bytes;
}

bool is_standard_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

// The one graph input that is not an initializer: a float tensor [N, C, H, W] with C, H, W fixed.
void find_input(OnnxModel& m, const std::set<std::string>& initializers) {
    const onnx::GraphProto& g = graph(m);
    for (const auto& in : g.input()) {
        if (initializers.count(in.name())) continue;
        if (!m.input.empty()) {
            throw Error(ErrorCode::Unsupported, m.path + ": the graph has several inputs ('" + m.input + "', '" +
                                                    in.name() + "'); mnet takes one image input");
        }
        m.input = in.name();
        if (!in.type().has_tensor_type() || in.type().tensor_type().elem_type() != kFloat) {
            throw Error(ErrorCode::Unsupported, m.path + ": input '" + in.name() + "' is not a float tensor");
        }
        for (const auto& d : in.type().tensor_type().shape().dim()) {
            m.input_dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
        }
    }
    if (m.input.empty()) throw Error(ErrorCode::ModelFormat, m.path + ": the graph has no input");
    const auto& d = m.input_dims;
    if (d.size() != 4 || d[1] < 1 || d[2] < 1 || d[3] < 1 || d[1] > 65536 || d[2] > 65536 || d[3] > 65536 ||
        (d[0] != -1 && d[0] != 1)) {
        std::string dims;
        for (int64_t v : d) dims += (dims.empty() ? "" : ",") + (v < 0 ? std::string("?") : std::to_string(v));
        throw Error(ErrorCode::Unsupported, m.path + ": input '" + m.input + "' has shape [" + dims +
                                                "]; mnet needs [N, C, H, W] with the batch 1 or symbolic");
    }
}

// Kahn's algorithm over value names: a node is ready when all its inputs are defined (a value read twice by one
// node counts twice, and is released twice). Nodes left over read a
// value no node defines (ModelFormat) or sit on a cycle.
void order_nodes(OnnxModel& m, std::set<std::string> defined) {
    const onnx::GraphProto& g = graph(m);
    std::set<std::string> produced;
    for (int i = 0; i < g.node_size(); ++i) {
        for (const std::string& out : g.node(i).output()) {
            if (out.empty()) continue;
            if (defined.count(out) || !produced.insert(out).second) {
                throw Error(ErrorCode::ModelFormat, m.path + ": " + node_label(g.node(i), static_cast<size_t>(i)) +
                                                        ": value '" + out + "' is defined twice");
            }
        }
    }
    // waiting[i]: inputs of node i not yet defined; readers: value -> the nodes waiting for it.
    std::vector<size_t> waiting(static_cast<size_t>(g.node_size()), 0);
    std::map<std::string, std::vector<int>> readers;
    std::vector<int> ready;
    for (int i = 0; i < g.node_size(); ++i) {
        for (const std::string& in : g.node(i).input()) {
            if (in.empty() || defined.count(in)) continue;
            ++waiting[static_cast<size_t>(i)];
            readers[in].push_back(i);
        }
        if (waiting[static_cast<size_t>(i)] == 0) ready.push_back(i);
    }
    std::vector<bool> done(static_cast<size_t>(g.node_size()), false);
    while (!ready.empty()) {
        const int i = ready.back();
        ready.pop_back();
        done[static_cast<size_t>(i)] = true;
        m.order.push_back(&g.node(i));
        for (const std::string& out : g.node(i).output()) {
            if (out.empty() || !defined.insert(out).second) continue;
            for (int r : readers[out]) {
                if (--waiting[static_cast<size_t>(r)] == 0) ready.push_back(r);
            }
        }
    }
    for (int i = 0; i < g.node_size(); ++i) {
        if (done[static_cast<size_t>(i)]) continue;
        const onnx::NodeProto& n = g.node(i);
        for (const std::string& in : n.input()) {
            if (!in.empty() && !defined.count(in) && !produced.count(in)) {
                throw Error(ErrorCode::ModelFormat, m.path + ": " + node_label(n, static_cast<size_t>(i)) +
                                                        " reads '" + in + "', which nothing defines");
            }
        }
        throw Error(ErrorCode::ModelFormat,
                    m.path + ": " + node_label(n, static_cast<size_t>(i)) + " is on a cycle in the graph");
    }
    for (const auto& out : g.output()) {
        if (!defined.count(out.name())) {
            throw Error(ErrorCode::ModelFormat, m.path + ": graph output '" + out.name() + "' is not defined");
        }
        m.outputs.push_back(out.name());
        ++m.uses[out.name()];
    }
    if (m.outputs.empty()) throw Error(ErrorCode::ModelFormat, m.path + ": the graph has no output");
    for (const onnx::NodeProto* n : m.order) {
        for (const std::string& in : n->input()) ++m.uses[in];
    }
}

}  // namespace

std::string dims_text(const std::vector<int64_t>& dims) {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
    return s + "]";
}

const onnx::GraphProto& graph(const OnnxModel& m) { return m.proto->graph(); }

std::string node_label(const onnx::NodeProto& n, size_t index) {
    return n.op_type() + (n.name().empty() ? " #" + std::to_string(index) : " '" + n.name() + "'");
}

OnnxModel read_onnx(const std::string& path) {
    OnnxModel m;
    m.path = path;
    const std::string bytes = read_bounded(path);
    m.proto = std::make_shared<onnx::ModelProto>();
    if (!m.proto->ParseFromString(bytes)) {
        throw Error(ErrorCode::ModelFormat, path + ": not a valid ONNX model (the protobuf does not parse; "
                                                   "truncated or not ONNX)");
    }
    if (!m.proto->has_graph() || m.proto->graph().node_size() == 0) {
        throw Error(ErrorCode::ModelFormat, path + ": not an ONNX model (no graph)");
    }
    for (const auto& op : m.proto->opset_import()) {
        if (is_standard_domain(op.domain())) m.opset = op.version();
    }
    if (m.opset < 7 || m.opset > 23) {
        throw Error(ErrorCode::Unsupported,
                    path + ": ONNX opset " + std::to_string(m.opset) + "; the importer reads opsets 7 to 23");
    }
    std::set<std::string> defined;
    std::set<std::string> initializers;
    for (const auto& t : graph(m).initializer()) {
        if (t.name().empty() || !initializers.insert(t.name()).second) {
            throw Error(ErrorCode::ModelFormat, path + ": initializer '" + t.name() + "' is unnamed or defined twice");
        }
    }
    find_input(m, initializers);
    defined = initializers;
    defined.insert(m.input);
    order_nodes(m, defined);
    return m;
}

}  // namespace mnet::importer::onnx_import
