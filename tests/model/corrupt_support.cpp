// SPDX-License-Identifier: Apache-2.0
#include "model/corrupt_support.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <typeinfo>

#include "e2e/shared_models.h"
#include "mnet/engine.h"
#include "graph/loader.h"
#include "model/manifest.h"
#include "model/weight_file.h"
#include "model/writer.h"
#include "runtime/session_factory.h"
#include "support/test_data.h"

namespace fs = std::filesystem;

namespace mnet::test {

namespace {

constexpr const char* kRealModel = "mobilenet_v1_0.75_192_quant";

// Deterministic, non-trivial values: the suite checks structure, not numbers.
std::vector<float> ramp(size_t n, float scale) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.7f * static_cast<float>(i) + 0.3f);
    return v;
}

QuantParams quant(DType dtype, std::vector<double> scale, std::vector<int64_t> zero_point, int64_t axis = -1) {
    QuantParams q;
    q.dtype = dtype;
    q.scale = std::move(scale);
    q.zero_point = std::move(zero_point);
    q.axis = axis;
    return q;
}

NodeDef node(const std::string& name, const std::string& op, std::vector<std::string> inputs,
             std::map<std::string, AttrValue> attrs = {}, std::map<std::string, std::string> weights = {}) {
    NodeDef n;
    n.name = name;
    n.op = op;
    n.inputs = std::move(inputs);
    n.output = name + "_out";
    n.attrs = std::move(attrs);
    n.weights = std::move(weights);
    return n;
}

using Ints = std::vector<int64_t>;

// How many cases the process tried, for the log: the suite's size is part of its evidence.
struct Tally {
    int loaded = 0, rejected = 0;
    ~Tally() {
        // Not when nothing ran: CTest's test discovery reads the listing on stdout.
        if (loaded + rejected == 0) return;
        std::printf("corrupt-model suite: %d loads, %d refused with mnet::Error\n", loaded + rejected, rejected);
    }
};
Tally tally;

template <class F>
Outcome capture(F&& load) {
    Outcome o;
    try {
        o.model = load();
        o.loaded = true;
        ++tally.loaded;
    } catch (const Error& e) {
        ++tally.rejected;
        o.code = e.code();
        o.message = e.what();
    } catch (const std::exception& e) {
        FAIL("threw " << typeid(e).name() << " instead of mnet::Error: " << e.what());
    } catch (...) {
        FAIL("threw something that is not a std::exception");
    }
    return o;
}

}  // namespace

// Tensors: 0 conv1/weights [8,3,3,3] (per-channel quantization, axis 0), 1 conv1/bias [8], 2 dw/weights [8,1,3,3],
// 3 dw/bias [8], 4 pw/weights [8,8,1,1], 5 pw/bias [8], 6 mul/b [1,8,1,1], 7 fc/weights [5,8], 8 fc/bias [5].
// Nodes: 0 conv1, 1 dw, 2 pw, 3 add, 4 mul, 5 act, 6 ident, 7 maxpool, 8 avgpool, 9 gap, 10 flat, 11 fc, 12 prob;
// node X's output is "X_out".
ModelFiles small_model() {
    ModelDef def;
    def.name = "corrupt_small";
    def.input.name = "input";
    def.input.shape = {1, 3, 8, 8};
    def.input.quant = quant(DType::U8, {1.0 / 128}, {128});
    def.preprocess.height = 8;
    def.preprocess.width = 8;
    def.preprocess.crop = 0.875;
    def.preprocess.mean = {127.5f, 127.5f, 127.5f};
    def.preprocess.std = {127.5f, 127.5f, 127.5f};
    def.labels = {"background", "one", "two", "three", "four"};
    def.background_class = true;
    def.outputs = {OutputDef{"prob_out", OutputKind::Probabilities}};
    ModelWriter w(def);
    w.add_f32("conv1/weights", {8, 3, 3, 3}, ramp(216, 0.3f),
              quant(DType::U8, std::vector<double>(8, 0.01), Ints(8, 128), 0));
    w.add_f32("conv1/bias", {8}, ramp(8, 0.1f));
    w.add_f32("dw/weights", {8, 1, 3, 3}, ramp(72, 0.4f));
    w.add_f32("dw/bias", {8}, ramp(8, 0.1f));
    w.add_f32("pw/weights", {8, 8, 1, 1}, ramp(64, 0.3f));
    w.add_f32("pw/bias", {8}, ramp(8, 0.1f));
    w.add_f32("mul/b", {1, 8, 1, 1}, ramp(8, 1.0f));
    w.add_f32("fc/weights", {5, 8}, ramp(40, 0.5f));
    w.add_f32("fc/bias", {5}, ramp(5, 0.1f));

    auto& nodes = w.def().nodes;
    nodes.push_back(node("conv1", "conv2d", {"input"},
                         {{"stride", Ints{1, 1}}, {"pad", Ints{1, 1, 1, 1}}, {"dilation", Ints{1, 1}},
                          {"groups", int64_t{1}}, {"activation", std::string("relu6")}},
                         {{"weights", "conv1/weights"}, {"bias", "conv1/bias"}}));
    nodes.back().dst_quant = quant(DType::U8, {6.0 / 255}, {0});
    nodes.push_back(node("dw", "conv2d", {"conv1_out"},
                         {{"stride", Ints{2, 2}}, {"pad", Ints{0, 0, 1, 1}}, {"groups", int64_t{8}},
                          {"activation", std::string("relu")}},
                         {{"weights", "dw/weights"}, {"bias", "dw/bias"}}));
    nodes.push_back(node("pw", "conv2d", {"dw_out"}, {}, {{"weights", "pw/weights"}, {"bias", "pw/bias"}}));
    nodes.push_back(node("add", "add", {"dw_out", "pw_out"}, {{"activation", std::string("none")}}));
    nodes.push_back(node("mul", "mul", {"add_out"}, {}, {{"b", "mul/b"}}));
    nodes.push_back(node("act", "activation", {"mul_out"}, {{"kind", std::string("hard_swish")}}));
    nodes.push_back(node("ident", "identity", {"act_out"}));
    nodes.back().dst_quant = quant(DType::S8, {0.05}, {-3});
    nodes.push_back(node("maxpool", "max_pool", {"ident_out"}, {{"kernel", Ints{2, 2}}, {"stride", Ints{1, 1}}}));
    nodes.push_back(node("avgpool", "avg_pool", {"maxpool_out"},
                         {{"kernel", Ints{2, 2}}, {"stride", Ints{1, 1}}, {"pad", Ints{0, 0, 1, 1}}}));
    nodes.push_back(node("gap", "global_avg_pool", {"avgpool_out"}, {{"keepdims", int64_t{1}}}));
    nodes.push_back(node("flat", "reshape", {"gap_out"}, {{"shape", Ints{-1}}}));
    nodes.push_back(node("fc", "fully_connected", {"flat_out"}, {}, {{"weights", "fc/weights"}, {"bias", "fc/bias"}}));
    nodes.push_back(node("prob", "softmax", {"fc_out"}));

    ModelFiles m;
    m.manifest = w.manifest_json("corrupt.bin");
    m.weights = w.weights_bytes();
    return m;
}

std::string real_manifest_path() {
    // The conversion is 10 MB and CTest runs a process per test case: it goes when the process does.
    struct RemoveAtExit {
        std::string dir;
        ~RemoveAtExit() {
            std::error_code ec;
            if (!dir.empty()) fs::remove_all(dir, ec);
        }
    };
    static RemoveAtExit converted;
    static const std::string path = [] {
        for (const SharedModel& m : shared_tflite_models()) {
            if (m.name != kRealModel) continue;
            const std::string manifest = converted_manifest(m);
            converted.dir = fs::path(manifest).parent_path().parent_path().string();  // the per-process folder
            return manifest;
        }
        throw std::runtime_error(std::string("shared model ") + kRealModel + " not found");
    }();
    return path;
}

const ModelFiles& real_model() {
    static const ModelFiles files = [] {
        const std::string path = real_manifest_path();
        ModelFiles f;
        const std::vector<uint8_t> text = read_file_bytes(path);
        f.manifest.assign(text.begin(), text.end());
        const std::string weights = json::parse(f.manifest).at("weights").at("file").get<std::string>();
        f.weights = read_file_bytes((fs::path(path).parent_path() / weights).string());
        return f;
    }();
    return files;
}

json parse(const ModelFiles& m) { return json::parse(m.manifest); }

ModelFiles with_manifest(const ModelFiles& m, const json& manifest) {
    return ModelFiles{manifest.dump(1), m.weights};
}

ModelFiles refresh_checksum(ModelFiles m) {
    json j = parse(m);
    j["weights"]["size"] = m.weights.size();
    j["weights"]["crc32c"] = checksum_hex({ChecksumKind::Crc32c, crc32c(m.weights.data(), m.weights.size())});
    m.manifest = j.dump(1);
    return m;
}

Outcome load_outcome(const std::string& manifest, const std::vector<uint8_t>& weights) {
    return capture([&] { return load_model_from_memory(manifest, weights, kWhere); });
}

Outcome load_outcome(const ModelFiles& m) { return load_outcome(m.manifest, m.weights); }

Outcome load_outcome_from_file(const std::string& manifest_path) {
    return capture([&] { return Model::load(manifest_path); });
}

void require_rejected(const Outcome& o, ErrorCode code, const std::string& substring, const std::string& names) {
    if (o.loaded) {
        FAIL_CHECK("accepted; expected " << error_code_name(code) << " containing \"" << substring << "\"");
        return;
    }
    INFO("message: " << o.message);
    CHECK(std::string(error_code_name(o.code)) == error_code_name(code));
    CHECK_THAT(o.message, Catch::Contains(substring));
    CHECK_THAT(o.message, Catch::Contains(names));
}

void require_rejected(const ModelFiles& m, ErrorCode code, const std::string& substring) {
    require_rejected(load_outcome(m), code, substring);
}

void require_rejected(const std::string& manifest, const std::vector<uint8_t>& weights, ErrorCode code,
                      const std::string& substring) {
    require_rejected(load_outcome(manifest, weights), code, substring);
}

void require_rejected(const json& manifest, const std::vector<uint8_t>& weights, ErrorCode code,
                      const std::string& substring) {
    require_rejected(load_outcome(manifest.dump(1), weights), code, substring);
}

namespace {

void run_once(const std::shared_ptr<const Model>& model_ptr) {
    const Model& model = *model_ptr;
    SessionOptions options;
    options.precision = Precision::Fp32;
    options.threads = 1;
    LoweringOptions no_dw;
    no_dw.fuse_dw = false;
    const std::unique_ptr<Session> made = SessionFactory::make(model_ptr, options, no_dw);
    Session& session = *made;
    Tensor input(model.input_shape());
    for (size_t i = 0; i < input.data.size(); ++i) input.data[i] = std::sin(0.01f * static_cast<float>(i));
    session.run(input);
    REQUIRE(session.output_count() == model.outputs().size());
    for (size_t i = 0; i < model.outputs().size(); ++i) {
        CHECK(session.output(i).shape == model.outputs()[i].shape);
        CHECK(session.output(i).data.size() == static_cast<size_t>(shape_numel(model.outputs()[i].shape)));
    }
}

}  // namespace

void require_runs(const std::shared_ptr<const Model>& model) {
    REQUIRE(model);
    try {
        run_once(model);
    } catch (const std::exception& e) {
        FAIL("a model the loader accepted failed to run: " << e.what());
    }
}

}  // namespace mnet::test
