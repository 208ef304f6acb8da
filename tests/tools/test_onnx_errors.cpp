// SPDX-License-Identifier: Apache-2.0
// Corrupt and crafted ONNX files: each is refused with one error naming the file (and the node and op where there
// is one), never a crash or a model written. The files are built here with the protobuf classes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

#include "mnet/engine.h"
#include "onnx/onnx_pb.h"
#include "onnx_importer.h"
#include "support/expect_error.h"
#include "support/test_data.h"

using namespace mnet;
using namespace mnet::test;
namespace fs = std::filesystem;

namespace {

void add_init(onnx::GraphProto& g, const std::string& name, std::vector<int64_t> dims, const std::vector<float>& v) {
    onnx::TensorProto* t = g.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
}

onnx::NodeProto* add_node(onnx::GraphProto& g, const std::string& op, std::vector<std::string> in, const std::string& out) {
    onnx::NodeProto* n = g.add_node();
    n->set_op_type(op);
    n->set_name(out + "_node");
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
}

// input [N,3,4,4] -> Conv 3x3 pad 1 (4 channels) -> Relu -> GlobalAveragePool -> Flatten -> output [N,4].
onnx::ModelProto tiny_model() {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    onnx::GraphProto& g = *m.mutable_graph();
    auto* in = g.add_input();
    in->set_name("input");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto_DataType_FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    for (int64_t d : {3, 4, 4}) tt->mutable_shape()->add_dim()->set_dim_value(d);
    std::vector<float> w(4 * 3 * 3 * 3);
    for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 7) - 3) * 0.25f;
    add_init(g, "w", {4, 3, 3, 3}, w);
    add_init(g, "b", {4}, {0.5f, -0.5f, 0.25f, 0.0f});
    onnx::NodeProto* conv = add_node(g, "Conv", {"input", "w", "b"}, "conv");
    auto* pads = conv->add_attribute();
    pads->set_name("pads");
    pads->set_type(onnx::AttributeProto_AttributeType_INTS);
    for (int k = 0; k < 4; ++k) pads->add_ints(1);
    add_node(g, "Relu", {"conv"}, "relu");
    add_node(g, "GlobalAveragePool", {"relu"}, "gap");
    add_node(g, "Flatten", {"gap"}, "output");
    g.add_output()->set_name("output");
    return m;
}

std::string save(const onnx::ModelProto& m, const std::string& path) {
    std::ofstream out(path, std::ios::binary);
    REQUIRE(m.SerializeToOstream(&out));
    return path;
}

struct Dir {
    std::string path = make_temp_dir("onnx-errors");
    ~Dir() { fs::remove_all(path); }
};

void expect_refused(const std::string& file, const std::string& dir, ErrorCode code, std::vector<std::string> parts) {
    parts.push_back(file);
    expect_error([&] { importer::convert_onnx_file(file, dir + "/out.json", {}); }, code, parts);
    CHECK(!fs::exists(dir + "/out.json"));
}

// The tiny model's output for input x, by a naive loop: conv 3x3 pad 1, then `act`, then the mean over H, W.
template <class Act>
std::vector<double> naive_tiny(const std::vector<float>& x, Act act) {
    const onnx::ModelProto m = tiny_model();
    std::vector<float> w(108), b = {0.5f, -0.5f, 0.25f, 0.0f};
    std::memcpy(w.data(), m.graph().initializer(0).raw_data().data(), 108 * sizeof(float));
    std::vector<double> out(4, 0.0);
    for (int oc = 0; oc < 4; ++oc) {
        for (int y = 0; y < 4; ++y) {
            for (int xx = 0; xx < 4; ++xx) {
                double acc = b[size_t(oc)];
                for (int ic = 0; ic < 3; ++ic)
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx) {
                            const int iy = y + ky - 1, ix = xx + kx - 1;
                            if (iy < 0 || iy >= 4 || ix < 0 || ix >= 4) continue;
                            acc += double(w[size_t(((oc * 3 + ic) * 3 + ky) * 3 + kx)]) * x[size_t((ic * 4 + iy) * 4 + ix)];
                        }
                out[size_t(oc)] += act(acc) / 16;
            }
        }
    }
    return out;
}

int converted_count = 0;  // each conversion gets its own file names

template <class Act>
void check_against_naive(const onnx::ModelProto& m, const std::string& dir, Act act) {
    const std::string stem = dir + "/m" + std::to_string(++converted_count);
    importer::convert_onnx_file(save(m, stem + ".onnx"), stem + ".json", {});
    auto model = Model::load(stem + ".json");
    Session session(model, SessionOptions{});
    Tensor x(model->input_shape());
    for (size_t i = 0; i < x.data.size(); ++i) x.data[i] = float(int(i % 5) - 2) * 1.5f;
    session.run(x);
    const std::vector<double> ref = naive_tiny(x.data, act);
    for (size_t oc = 0; oc < 4; ++oc) CHECK(session.output().data[oc] == Approx(ref[oc]).margin(1e-5));
}

onnx::TensorProto* const_node(onnx::GraphProto& g, const std::string& out, const std::vector<int64_t>& v) {
    onnx::NodeProto* n = add_node(g, "Constant", {}, out);
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto_AttributeType_TENSOR);
    onnx::TensorProto* t = a->mutable_t();
    t->set_data_type(onnx::TensorProto_DataType_INT64);
    t->add_dims(int64_t(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
    return t;
}

}  // namespace

TEST_CASE("a small ONNX graph converts and computes conv, relu, pool against a naive loop", "[onnx]") {
    Dir dir;
    check_against_naive(tiny_model(), dir.path, [](double v) { return std::max(v, 0.0); });
}

TEST_CASE("ONNX Pad before a Conv is folded into its padding, Clip in attribute form is relu6", "[onnx]") {
    Dir dir;
    onnx::ModelProto m = tiny_model();
    onnx::GraphProto& g = *m.mutable_graph();
    g.mutable_node(0)->mutable_attribute(0)->clear_ints();  // the Conv's own pads: none
    for (int k = 0; k < 4; ++k) g.mutable_node(0)->mutable_attribute(0)->add_ints(0);
    g.mutable_node(0)->set_input(0, "padded");
    const_node(g, "pads", {0, 0, 1, 1, 0, 0, 1, 1});
    add_node(g, "Pad", {"input", "pads"}, "padded");
    check_against_naive(m, dir.path, [](double v) { return std::max(v, 0.0); });

    onnx::ModelProto c = tiny_model();
    c.mutable_opset_import(0)->set_version(10);
    onnx::NodeProto* clip = c.mutable_graph()->mutable_node(1);
    clip->set_op_type("Clip");
    for (const auto& [name, value] : {std::pair<const char*, float>{"min", 0.0f}, {"max", 6.0f}}) {
        auto* a = clip->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto_AttributeType_FLOAT);
        a->set_f(value);
    }
    check_against_naive(c, dir.path, [](double v) { return std::clamp(v, 0.0, 6.0); });
}

TEST_CASE("ONNX graphs mnet cannot express are refused naming the node", "[onnx][corrupt]") {
    Dir dir;
    onnx::ModelProto m = tiny_model();
    m.mutable_graph()->mutable_node(2)->set_op_type("Concat");
    m.mutable_graph()->mutable_node(2)->add_input("relu");
    expect_refused(save(m, dir.path + "/concat.onnx"), dir.path, ErrorCode::Unsupported, {"Concat 'gap_node'", "Concat of activations"});
    m = tiny_model();
    m.mutable_graph()->mutable_node(1)->set_op_type("Clip");
    m.mutable_graph()->mutable_node(1)->add_input("");
    m.mutable_graph()->mutable_node(1)->add_input("w");
    expect_refused(save(m, dir.path + "/clip.onnx"), dir.path, ErrorCode::ModelFormat, {"Clip 'relu_node'", "not a scalar"});

    // A Pad that is not zeros (reflect, edge, a non-zero constant): mnet's pad op fills zeros only.
    for (const char* mode : {"reflect", "edge"}) {
        m = tiny_model();
        m.mutable_graph()->mutable_node(0)->set_input(0, "padded");
        const_node(*m.mutable_graph(), "pads", {0, 0, 1, 1, 0, 0, 1, 1});
        auto* a = add_node(*m.mutable_graph(), "Pad", {"input", "pads"}, "padded")->add_attribute();
        a->set_name("mode");
        a->set_type(onnx::AttributeProto_AttributeType_STRING);
        a->set_s(mode);
        expect_refused(save(m, dir.path + "/pad.onnx"), dir.path, ErrorCode::Unsupported,
                       {"Pad 'padded_node'", std::string("mode '") + mode + "'", "zeros only"});
    }
    m = tiny_model();
    m.mutable_graph()->mutable_node(0)->set_input(0, "padded");
    const_node(*m.mutable_graph(), "pads", {0, 0, 1, 1, 0, 0, 1, 1});
    add_init(*m.mutable_graph(), "fill", {}, {0.5f});
    add_node(*m.mutable_graph(), "Pad", {"input", "pads", "fill"}, "padded");
    expect_refused(save(m, dir.path + "/pad.onnx"), dir.path, ErrorCode::Unsupported, {"Pad 'padded_node'", "constant value 0.5"});
}

TEST_CASE("a truncated ONNX file is refused", "[onnx][corrupt]") {
    Dir dir;
    std::string bytes;
    REQUIRE(tiny_model().SerializeToString(&bytes));
    const std::string file = dir.path + "/truncated.onnx";
    write_file_bytes(file, std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(bytes.size() / 2)));
    expect_refused(file, dir.path, ErrorCode::ModelFormat, {"does not parse"});
    write_file_bytes(file, {});
    expect_refused(file, dir.path, ErrorCode::ModelFormat, {"no graph"});
}

TEST_CASE("an initializer whose bytes do not match its shape is refused", "[onnx][corrupt]") {
    Dir dir;
    onnx::ModelProto m = tiny_model();
    m.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(10);
    expect_refused(save(m, dir.path + "/short.onnx"), dir.path, ErrorCode::ModelFormat, {"'w'", "raw_data holds 10 bytes", "432"});
    m = tiny_model();
    m.mutable_graph()->mutable_initializer(1)->clear_raw_data();
    m.mutable_graph()->mutable_initializer(1)->add_float_data(1.0f);
    expect_refused(save(m, dir.path + "/typed.onnx"), dir.path, ErrorCode::ModelFormat, {"'b'", "1 values for 4 elements"});
    m = tiny_model();
    m.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 40);
    expect_refused(save(m, dir.path + "/huge.onnx"), dir.path, ErrorCode::ModelFormat, {"'w'", "too large"});
}

TEST_CASE("external data outside the model's folder is refused", "[onnx][corrupt]") {
    Dir dir;
    fs::create_directories(dir.path + "/model");
    write_file_bytes(dir.path + "/secret.bin", std::vector<uint8_t>(432, 0));
    fs::create_symlink(dir.path + "/secret.bin", dir.path + "/model/link.bin");
    for (const std::string& location : std::vector<std::string>{"../secret.bin", dir.path + "/secret.bin", "link.bin"}) {
        CAPTURE(location);
        onnx::ModelProto m = tiny_model();
        onnx::TensorProto* t = m.mutable_graph()->mutable_initializer(0);
        t->clear_raw_data();
        t->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
        auto* kv = t->add_external_data();
        kv->set_key("location");
        kv->set_value(location);
        const bool absolute = location[0] == '/';
        expect_refused(save(m, dir.path + "/model/ext.onnx"), dir.path, absolute ? ErrorCode::ModelFormat : ErrorCode::Unsupported,
                       {"'w'", absolute ? "not a relative file name" : "outside the model's folder"});
    }
    // Inside the folder but too short for the tensor.
    write_file_bytes(dir.path + "/model/w.bin", std::vector<uint8_t>(100, 0));
    onnx::ModelProto m = tiny_model();
    onnx::TensorProto* t = m.mutable_graph()->mutable_initializer(0);
    t->clear_raw_data();
    t->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value("w.bin");
    expect_refused(save(m, dir.path + "/model/ext.onnx"), dir.path, ErrorCode::ModelFormat, {"'w'", "does not hold the 432 bytes"});
}

TEST_CASE("cyclic and inconsistent ONNX graphs are refused", "[onnx][corrupt]") {
    Dir dir;
    onnx::ModelProto m = tiny_model();
    m.mutable_graph()->mutable_node(1)->set_input(0, "gap");  // Relu reads the pool, which reads the Relu
    expect_refused(save(m, dir.path + "/cycle.onnx"), dir.path, ErrorCode::ModelFormat, {"cycle"});
    m = tiny_model();
    m.mutable_graph()->mutable_node(2)->set_input(0, "nowhere");
    expect_refused(save(m, dir.path + "/undefined.onnx"), dir.path, ErrorCode::ModelFormat, {"GlobalAveragePool", "'nowhere'", "nothing defines"});
    m = tiny_model();
    m.mutable_graph()->mutable_node(2)->set_output(0, "relu");
    expect_refused(save(m, dir.path + "/twice.onnx"), dir.path, ErrorCode::ModelFormat, {"'relu'", "defined twice"});
    m = tiny_model();
    m.mutable_graph()->mutable_output(0)->set_name("missing");
    expect_refused(save(m, dir.path + "/output.onnx"), dir.path, ErrorCode::ModelFormat, {"graph output 'missing'"});
    m = tiny_model();
    m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(2)->set_dim_param("H");
    expect_refused(save(m, dir.path + "/shape.onnx"), dir.path, ErrorCode::Unsupported, {"input 'input'", "[?,3,?,4]"});
}

TEST_CASE("an unknown ONNX op is refused naming the node, the op and what is supported", "[onnx][corrupt]") {
    Dir dir;
    onnx::ModelProto m = tiny_model();
    m.mutable_graph()->mutable_node(1)->set_op_type("LSTM");
    const std::string file = save(m, dir.path + "/unknown_op.onnx");
    expect_refused(file, dir.path, ErrorCode::Unsupported, {"LSTM 'relu_node'", "not supported", "Conv, "});
    // The same through mnet-convert: one line on stderr, exit status 4 (a model mnet cannot take).
    const std::string cmd = std::string(MNET_CONVERT_EXE) + " '" + file + "' -o '" + dir.path + "/x.json' 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    REQUIRE(pipe);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    const int status = pclose(pipe);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 4);
    CHECK(out.find("unknown_op.onnx") != std::string::npos);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK(!fs::exists(dir.path + "/x.json"));
}
