// SPDX-License-Identifier: Apache-2.0
// mnet-convert and mnet on ONNX files: the real float MobileNetV2 1.0/224 of ../shared/peers/models converted
// with its preprocessing and labels and classified by `mnet classify` against ONNX Runtime's probabilities on the
// photos' reference inputs; `mnet info` MACs of torchvision's MobileNetV3-Large at 224 against the paper's figure;
// `mnet classify -m model.onnx` converting on first use into the cache, with ONNX Runtime's top-1.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "support/test_data.h"

using namespace mnet::test;
namespace fs = std::filesystem;

namespace {

const char* const kStems[] = {"chelsea", "coffee", "dog", "eagle", "kite"};
const char* const kPhotos[] = {"chelsea.png", "coffee.png", "dog.jpg", "eagle.jpg", "kite.jpg"};
constexpr double kProbTolerance = 1e-4;
constexpr double kPaperMacs = 219e6;  // MobileNetV3-Large 1.0 at 224x224 (Howard et al. 2019, table 3)

std::string fixtures() { return std::string(MNET_SOURCE_DIR) + "/tests/data/onnx"; }


}  // namespace

TEST_CASE("the shared float MobileNetV2 ONNX converts and mnet classify matches ONNX Runtime", "[onnx][e2e][cli]") {
    const std::string dir = make_temp_dir("onnx-peers");
    const std::string manifest = dir + "/mnv2.json";
    const std::string labels = shared_dir() + "/models/mobilenet_v2_1.0_224_quant/imagenet_labels.txt";
    std::string out;
    REQUIRE(run_command(std::string(MNET_CONVERT_EXE) + " " + shell_quote(shared_dir() + "/peers/models/mobilenet_v2_1.0_224_float_b1.onnx") +
                    " -o " + shell_quote(manifest) + " --mean 128 --std 128 --crop 0.875 --labels " + shell_quote(labels),
                out) == 0);
    std::string photos;
    for (const char* p : kPhotos) photos += " " + shell_quote(shared_dir() + "/testdata/images/" + p);
    REQUIRE(run_command(std::string(MNET_CLI_EXE) + " classify --precision fp32 --json -k 1001 -m " + shell_quote(manifest) + photos, out) == 0);
    std::istringstream lines(out);
    std::string line;
    size_t i = 0;
    double worst = 0;
    while (std::getline(lines, line)) {
        REQUIRE(i < 5);
        CAPTURE(kStems[i]);
        const auto j = nlohmann::json::parse(line);
        const std::vector<float> ref = read_f32_file(fixtures() + "/peers/" + kStems[i] + ".probs.f32");
        REQUIRE(j["predictions"].size() == ref.size());
        std::vector<double> ours(ref.size());
        for (const auto& p : j["predictions"]) ours[p["index"].get<size_t>()] = p["probability"].get<double>();
        CHECK(std::max_element(ours.begin(), ours.end()) - ours.begin() ==
              std::max_element(ref.begin(), ref.end()) - ref.begin());
        for (size_t k = 0; k < ref.size(); ++k) worst = std::max(worst, std::abs(ours[k] - double(ref[k])));
        CHECK(j["predictions"][0]["label"].get<std::string>().size() > 0);
        ++i;
    }
    CHECK(i == 5);
    std::printf("onnx peers MobileNetV2 1.0/224 float: max |dprob| vs ONNX Runtime %.3g\n", worst);
    CHECK(worst <= kProbTolerance);
    fs::remove_all(dir);
}

TEST_CASE("mnet info counts torchvision MobileNetV3-Large's MACs as published", "[onnx][cli]") {
    const std::string dir = make_temp_dir("onnx-v3l");
    const std::string manifest = dir + "/v3l.json";
    std::string out;
    REQUIRE(run_command(std::string(MNET_CONVERT_EXE) + " " + shell_quote(fixtures() + "/tv_mnv3l_100_224_qdq_pc_u8s8.onnx") +
                    " -o " + shell_quote(manifest),
                out) == 0);
    REQUIRE(run_command(std::string(MNET_CLI_EXE) + " info -m " + shell_quote(manifest), out) == 0);
    const size_t at = out.find(" M MACs per image");
    REQUIRE(at != std::string::npos);
    const size_t begin = out.rfind(' ', at - 1) + 1;
    const double macs = std::stod(out.substr(begin, at - begin)) * 1e6;
    std::printf("onnx torchvision MobileNetV3-Large 224: %.2f M MACs (paper: 219 M)\n", macs / 1e6);
    CHECK(std::abs(macs - kPaperMacs) / kPaperMacs <= 0.02);
    CHECK(out.find("depthwise-separable blocks") != std::string::npos);
    fs::remove_all(dir);
}

TEST_CASE("mnet classify -m model.onnx converts once into the cache and gives ONNX Runtime's top-1", "[onnx][cli]") {
    // The fixture's committed outputs are ONNX Runtime's on the photos preprocessed by PIL (torchvision's recipe,
    // the converter's default for ONNX); mnet resizes with OpenCV, which does not antialias as PIL does, and at
    // 96x96 that moves a random-weight model's logits by up to about 1. This fixture's top two logits are at
    // least 2 apart on every photo (tv_mnv2_025_96_op11's kite, 0.88 apart, swapped).
    const std::string fixture = "timm_mnv1_025_96_op13";
    const std::string dir = make_temp_dir("onnx-m");
    const std::string model = dir + "/" + fixture + ".onnx";
    fs::copy_file(fixtures() + "/" + fixture + ".onnx", model);
    std::string photos;
    for (const char* p : kPhotos) photos += " " + shell_quote(shared_dir() + "/testdata/images/" + p);
    const std::string classify = "XDG_CACHE_HOME=" + shell_quote(dir + "/cache") + " " + std::string(MNET_CLI_EXE) +
                                 " classify --json -k 1 -m " + shell_quote(model) + photos;
    std::string out;
    for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        REQUIRE(run_command(classify + " 2>" + shell_quote(dir + "/stderr"), out) == 0);
        const std::vector<uint8_t> bytes = read_file_bytes(dir + "/stderr");
        const std::string err(bytes.begin(), bytes.end());
        CHECK((err.find("converting") != std::string::npos) == (round == 0));  // the second run reads the cache
        std::istringstream lines(out);
        std::string line;
        size_t i = 0;
        while (std::getline(lines, line)) {
            REQUIRE(i < 5);
            CAPTURE(kStems[i]);
            const std::vector<float> ref = read_f32_file(fixtures() + "/" + fixture + "." + kStems[i] + ".f32");
            const auto j = nlohmann::json::parse(line);
            CHECK(j["predictions"][0]["index"].get<long>() == std::max_element(ref.begin(), ref.end()) - ref.begin());
            ++i;
        }
        CHECK(i == 5);
    }
    CHECK(std::distance(fs::directory_iterator(dir + "/cache/mnet/converted"), fs::directory_iterator{}) == 1);
    fs::remove_all(dir);
}
