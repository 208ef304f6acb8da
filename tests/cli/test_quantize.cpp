// SPDX-License-Identifier: Apache-2.0
// `mnet quantize` as a user runs it: the Keras MobileNet V1 0.25 (float) converted with mnet-convert, calibrated on
// the shared photos, then classified in int8 against the float reference's top-1.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "../e2e/shared_models.h"
#include "support/test_data.h"
#include "test_batch_support.h"

using namespace mnet::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kKerasModel = "mobilenet_v1_0.25_224_keras";

json read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    return json::parse(in);
}

// The Keras model converted into a fresh folder; returns its manifest.
std::string converted_keras(const std::string& dir) {
    const fs::path src = fs::path(shared_dir()) / "models" / kKerasModel;
    const std::string out = dir + "/keras.json";
    const RunResult r = run_shell(quote(MNET_CONVERT_PATH) + " " + quote((src / "mobilenet_v1_0.25_224.h5").string()) +
                                  " -o " + quote(out) + " --labels " + quote((src / "imagenet_labels_1000.txt").string()));
    INFO(r.err);
    REQUIRE(r.status == 0);
    return out;
}

// Classifies the reference photos with `quantized` (int8, its default) against the float reference's top 5.
// Calibration on five photos is coarse: chelsea's float top-1 (Egyptian cat 0.35, lynx 0.21) flips to lynx once
// the int8 convolutions use the weights' full 8 bits (VNNI, no pair-limit requantization; both the LiteRT and ONNX
// Runtime parity tests agree that is the model's own int8 arithmetic), under every calibration method (measured:
// docs/int8.md). So: the float top-1 on at least four of the five, and always one of the float top 3.
void check_float_top1(const std::string& quantized) {
    const std::string photos = shared_dir() + "/testdata/images";
    const json ref = read_json(shared_dir() + "/testdata/reference/" + kKerasModel + "/reference.json");
    std::string args;
    for (const json& img : ref.at("images")) args += " " + quote(photos + "/" + fs::path(img.at("file").get<std::string>()).filename().string());
    const RunResult c = run_shell(mnet::test::mnet() + " classify --json -k 1 -m " + quote(quantized) + args);
    INFO(c.err);
    REQUIRE(c.status == 0);
    const auto lines = lines_of(c.out);
    REQUIRE(lines.size() == ref.at("images").size());
    size_t equal = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
        const json got = json::parse(lines[i]);
        const json& top5 = ref.at("images").at(i).at("top5_float");
        CAPTURE(lines[i], top5.dump());
        CHECK(got.at("precision") == "int8");
        const auto index = got.at("predictions").at(0).at("index");
        equal += index == top5.at(0).at("index");
        CHECK((index == top5.at(0).at("index") || index == top5.at(1).at("index") || index == top5.at(2).at("index")));
    }
    CHECK(equal >= lines.size() - 1);
}

// The rows of --ranges: min, max, range.lo, range.hi ("float" for an output that stays float), activation.
struct RangeRow {
    double min, max;
    std::string lo, hi, name;
};

std::vector<RangeRow> range_rows(const std::string& out) {
    std::vector<RangeRow> rows;
    for (const std::string& line : lines_of(out)) {
        std::istringstream in(line);
        RangeRow r;
        if (in >> r.min >> r.max >> r.lo >> r.hi >> r.name) rows.push_back(r);
    }
    return rows;
}

}  // namespace

TEST_CASE("quantize: the calibrated Keras V1 0.25 runs in int8 with the float top-1 on four of five reference photos",
          "[cli][quantize][int8]") {
    const std::string dir = make_temp_dir("quantize");
    const std::string float_model = converted_keras(dir);
    const std::string photos = shared_dir() + "/testdata/images";
    const std::string quantized = dir + "/keras_int8.json";
    const RunResult q = run_shell(mnet::test::mnet() + " quantize -m " + quote(float_model) + " --calibrate " + quote(photos) +
                                  " -o " + quote(quantized) + " --ranges --report-images 0");  // only the ranges on stdout
    INFO(q.err);
    REQUIRE(q.status == 0);
    CHECK(q.err.find("5 calibration images") != std::string::npos);
    REQUIRE(fs::exists(dir + "/keras_int8.bin"));

    // The new manifest: u8 parameters on the input and on every node but the softmax; --ranges listed each.
    const json m = read_json(quantized);
    CHECK(m.at("name") == "mobilenet_v1_0.25_224_int8");
    CHECK(m.at("input").at("quantization").at("dtype") == "u8");
    size_t quantized_nodes = 0;
    for (const json& n : m.at("nodes")) {
        CAPTURE(n.at("name"));
        CHECK(n.contains("quantization") == (n.at("op") != "softmax"));
        quantized_nodes += n.contains("quantization");
        if (n.at("op") == "global_avg_pool" || n.at("op") == "reshape") {
            // pooling and reshapes keep their input's parameters, so they run on the same integers
            CHECK(n.at("quantization").at("scale").size() == 1);
        }
    }
    CHECK(lines_of(q.out).size() == 1 + 1 + quantized_nodes + 1);  // header, input, nodes, the softmax's range
    // minmax: the parameters cover the observed range (a pool's: its input's).
    const std::vector<RangeRow> rows = range_rows(q.out);
    REQUIRE(rows.size() == 1 + quantized_nodes + 1);
    for (const RangeRow& r : rows) {
        CAPTURE(r.name);
        if (r.name == "predictions") {
            CHECK((r.lo == "float" && r.hi == "float"));
        } else if (r.name.find("pool") == std::string::npos && r.name.find("reshape") == std::string::npos) {
            CHECK(std::stod(r.lo) == Approx(r.min));
            CHECK(std::stod(r.hi) == Approx(r.max));
        }
    }

    check_float_top1(quantized);
}

TEST_CASE("quantize: refuses an already quantized model and an empty calibration set", "[cli][quantize]") {
    const std::string dir = make_temp_dir("quantize-errors");
    const SharedModel tflite = shared_tflite_models().front();
    const RunResult again = run_shell(mnet::test::mnet() + " quantize -m " + quote(converted_manifest(tflite)) + " --calibrate " +
                                      quote(shared_dir() + "/testdata/images") + " -o " + quote(dir + "/q.json"));
    CHECK(again.status == 2);
    CHECK(again.err.find("already carries quantization parameters") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/q.json"));

    const std::string empty = dir + "/empty";
    fs::create_directories(empty);
    const RunResult none = run_shell(mnet::test::mnet() + " quantize -m " + quote(converted_manifest(tflite)) + " --calibrate " +
                                     quote(empty) + " -o " + quote(dir + "/q.json"));
    CHECK(none.status == 2);
    CHECK(none.err.find("no image files") != std::string::npos);
}

TEST_CASE("quantize: --calibration and --percentile are checked before any work, in one line with status 2",
          "[cli][quantize]") {
    const std::string dir = make_temp_dir("quantize-flags");
    const std::string model = converted_manifest(shared_tflite_models().front());  // never loaded: flags fail first
    const std::string photos = quote(shared_dir() + "/testdata/images");
    struct Case {
        std::string flags, expect;
    };
    const Case cases[] = {
        {"--calibration entrpy", "expects one of minmax, percentile, entropy, got 'entrpy'; did you mean 'entropy'?"},
        {"--calibration percentile --percentile 40", "--percentile: expects a number from 50 to 100, got '40'"},
        {"--calibration percentile --percentile 99.99x", "expects a number from 50 to 100, got '99.99x'"},
        {"--calibration entropy --percentile 99.9", "--percentile applies to --calibration percentile only, not to entropy"},
        {"--percentile 99.9", "--percentile applies to --calibration percentile only, not to minmax"},
    };
    for (const Case& c : cases) {
        const RunResult r = run_shell(mnet::test::mnet() + " quantize -m " + quote(model) + " --calibrate " + photos +
                                      " -o " + quote(dir + "/q.json") + " " + c.flags);
        CAPTURE(c.flags, r.err);
        CHECK(r.status == 2);
        CHECK(r.out.empty());
        const auto lines = lines_of(r.err);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].rfind("mnet: error: ", 0) == 0);
        CHECK(r.err.find(c.expect) != std::string::npos);
        CHECK_FALSE(fs::exists(dir + "/q.json"));
    }
}

TEST_CASE("quantize: percentile and entropy calibration clip some activations and keep the Keras V1 0.25's float top-1",
          "[cli][quantize][int8]") {
    const std::string dir = make_temp_dir("quantize-methods");
    const std::string float_model = converted_keras(dir);
    const std::string photos = shared_dir() + "/testdata/images";
    const std::pair<std::string, std::string> methods[] = {
        {"--calibration percentile --percentile 99.9", "from the 99.9 percentile"},
        {"--calibration entropy", "from entropy (KL divergence)"},
    };
    for (const auto& [flags, source] : methods) {
        CAPTURE(flags);
        const std::string quantized = dir + "/q.json";
        const RunResult q = run_shell(mnet::test::mnet() + " quantize -m " + quote(float_model) + " --calibrate " +
                                      quote(photos) + " -o " + quote(quantized) + " --ranges --report-images 2 " + flags);
        INFO(q.err);
        REQUIRE(q.status == 0);
        // The per-layer report works for every method (its rows are checked in test_cli_models.cpp).
        CHECK(q.out.find("int8 against fp32, layer by layer, on 2 calibration images:") != std::string::npos);
        CHECK(q.out.find("top-1 agreement (int8 vs fp32): ") != std::string::npos);
        CHECK(q.err.find("from " + flags) != std::string::npos);
        // Each range lies inside the observed one, and some activation is clipped below its maximum.
        size_t clipped = 0;
        for (const RangeRow& r : range_rows(q.out)) {
            CAPTURE(r.name, r.min, r.max, r.lo, r.hi);
            if (r.lo == "float" || r.name.find("pool") != std::string::npos || r.name.find("reshape") != std::string::npos)
                continue;
            CHECK(std::stod(r.lo) >= r.min - 1e-6);
            CHECK(std::stod(r.hi) <= r.max + 1e-6);
            clipped += std::stod(r.hi) < r.max * 0.99;
        }
        CHECK(clipped > 0);
        const json m = read_json(quantized);
        CHECK(m.at("source").get<std::string>().find(source) != std::string::npos);
        check_float_top1(quantized);
    }
}
