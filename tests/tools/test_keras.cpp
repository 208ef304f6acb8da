// SPDX-License-Identifier: Apache-2.0
// The Keras importer on the shared real models: the Keras MobileNet V1 0.25 (.h5) and the Teachable Machine
// export (TF.js layers, MobileNet V2 0.35 backbone + 5-class head), run by the engine against the independent
// float references in ../shared/testdata/reference; and `mnet classify` showing the Teachable Machine labels.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "keras_importer.h"
#include "mnet/engine.h"
#include "support/test_data.h"

using namespace mnet;
using namespace mnet::test;

namespace {

constexpr double kProbTolerance = 1e-4;     // max |Δprob| against the float reference
constexpr double kFeatureTolerance = 1e-4;  // max |Δ| relative to the feature's largest magnitude
constexpr int kTop = 5;
const char* const kStems[] = {"chelsea", "coffee", "dog", "eagle", "kite"};
const char* const kTmLabels[] = {"노마스크", "마스크", "가위", "바위", "보"};

std::string model_dir(const std::string& name) { return shared_dir() + "/models/" + name; }
std::string reference_dir(const std::string& name) { return shared_dir() + "/testdata/reference/" + name; }

std::vector<size_t> ranking(const std::vector<float>& p) {
    std::vector<size_t> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
    return order;
}

// The same top-5 as the reference; classes whose reference probabilities are within the tolerance may swap.
void check_top5(const std::vector<float>& ours, const std::vector<float>& ref) {
    const auto a = ranking(ours), b = ranking(ref);
    for (int i = 0; i < kTop && i < int(ref.size()); ++i) {
        CAPTURE(i, a[size_t(i)], b[size_t(i)]);
        CHECK(std::abs(ref[a[size_t(i)]] - ref[b[size_t(i)]]) <= kProbTolerance);
    }
}

struct Result {
    double max_dprob = 0, max_feature_rel = 0;
};

// Converts `source`, runs every reference input with a Session and compares.
Result check_model(const std::string& name, const std::string& source, const importer::KerasImportOptions& options,
                   bool has_feature) {
    const std::string manifest = make_temp_dir("keras-" + name) + "/" + name + ".json";
    importer::convert_keras_file(source, manifest, options);
    auto model = Model::load(manifest);
    REQUIRE(model->outputs().size() == (has_feature ? 2u : 1u));
    CHECK(model->outputs()[0].kind == OutputKind::Probabilities);
    const Preprocess& pre = model->preprocess();
    CHECK(pre.crop == 1.0);
    CHECK(pre.color == ColorOrder::RGB);
    CHECK(pre.mean == std::array<float, 3>{127.5f, 127.5f, 127.5f});
    CHECK(pre.std == std::array<float, 3>{127.5f, 127.5f, 127.5f});
    SessionOptions so;
    Session session(model, so);
    Result r;
    for (const char* stem : kStems) {
        CAPTURE(name, stem);
        const std::string base = reference_dir(name) + "/" + stem;
        Tensor input(model->input_shape());
        input.data = read_f32_file(base + ".input.f32");
        REQUIRE(input.data.size() == static_cast<size_t>(shape_numel(model->input_shape())));
        session.run(input);
        const std::vector<float> ref = read_f32_file(base + ".probs.f32");
        const Tensor& probs = session.output(0);
        REQUIRE(probs.data.size() == ref.size());
        double d = 0;
        for (size_t i = 0; i < ref.size(); ++i) d = std::max(d, std::abs(double(probs.data[i]) - ref[i]));
        CHECK(d <= kProbTolerance);
        r.max_dprob = std::max(r.max_dprob, d);
        check_top5(probs.data, ref);
        if (has_feature) {
            CHECK(model->outputs()[1].kind == OutputKind::Feature);
            const std::vector<float> feature = read_f32_file(base + ".feature.f32");
            const Tensor& ours = session.output(1);
            REQUIRE(ours.data.size() == feature.size());
            double diff = 0, scale = 0;
            for (size_t i = 0; i < feature.size(); ++i) {
                diff = std::max(diff, std::abs(double(ours.data[i]) - feature[i]));
                scale = std::max(scale, std::abs(double(feature[i])));
            }
            REQUIRE(scale > 0);
            CHECK(diff / scale <= kFeatureTolerance);
            r.max_feature_rel = std::max(r.max_feature_rel, diff / scale);
        }
    }
    return r;
}



}  // namespace

TEST_CASE("the Keras MobileNet V1 0.25 .h5 reproduces the float reference", "[keras][e2e]") {
    const std::string dir = model_dir("mobilenet_v1_0.25_224_keras");
    importer::KerasImportOptions options;
    options.labels_path = dir + "/imagenet_labels_1000.txt";
    const Result r = check_model("mobilenet_v1_0.25_224_keras", dir + "/mobilenet_v1_0.25_224.h5", options, false);
    std::printf("keras: %-38s max |dprob| = %.3g\n", "mobilenet_v1_0.25_224_keras", r.max_dprob);
}

TEST_CASE("the Teachable Machine TF.js model reproduces probabilities and the 1280-d feature", "[keras][e2e]") {
    const std::string name = "teachable_machine_mobilenet_v2_0.35";
    const Result r = check_model(name, model_dir(name), importer::KerasImportOptions{}, true);
    std::printf("keras: %-38s max |dprob| = %.3g, feature max rel = %.3g\n", name.c_str(), r.max_dprob,
                r.max_feature_rel);

    const ModelWriter w = importer::import_keras(model_dir(name) + "/model.json", importer::KerasImportOptions{});
    REQUIRE(w.def().labels.size() == 5);
    for (size_t i = 0; i < 5; ++i) CHECK(w.def().labels[i] == kTmLabels[i]);
    CHECK_FALSE(w.def().background_class);
    CHECK(w.def().name == name);  // model.json takes its folder's name
}

TEST_CASE("mnet-convert picks the Keras importer by file type and mnet classify prints the Korean labels",
          "[keras][cli]") {
    const std::string tmp = make_temp_dir("keras-cli");
    const std::string tm = model_dir("teachable_machine_mobilenet_v2_0.35");
    std::string out;
    REQUIRE(run_command(shell_quote(MNET_CONVERT_EXE) + " " + shell_quote(tm) + " -o " + shell_quote(tmp + "/tm.json"), out) == 0);
    CHECK(out.find("5 labels") != std::string::npos);
    const std::string h5 = model_dir("mobilenet_v1_0.25_224_keras");
    REQUIRE(run_command(shell_quote(MNET_CONVERT_EXE) + " " + shell_quote(h5 + "/mobilenet_v1_0.25_224.h5") + " --labels " +
                    shell_quote(h5 + "/imagenet_labels_1000.txt") + " -o " + shell_quote(tmp + "/v1.json"),
                out) == 0);
    CHECK(out.find("1000 labels") != std::string::npos);

    // chelsea.png: the reference's top-1 is 노마스크 (0.957).
    const std::string image = shared_dir() + "/testdata/images/chelsea.png";
    const std::string classify = shell_quote(MNET_CLI_EXE) + " classify -m " + shell_quote(tmp + "/tm.json") + " ";
    REQUIRE(run_command(classify + shell_quote(image), out) == 0);
    INFO(out);
    std::istringstream table(out);
    std::string line, first_row;
    while (std::getline(table, line)) {
        if (line.find("   1  ") != std::string::npos) first_row = line;
    }
    CHECK(first_row.find("노마스크") != std::string::npos);
    for (const char* label : kTmLabels) CHECK(out.find(label) != std::string::npos);

    REQUIRE(run_command(classify + "--json " + shell_quote(image), out) == 0);
    const nlohmann::json j = nlohmann::json::parse(out);
    REQUIRE(j["predictions"].size() == 5);
    CHECK(j["predictions"][0]["label"] == "노마스크");
    CHECK(j["predictions"][0]["index"] == 0);
    CHECK(std::abs(j["predictions"][0]["probability"].get<double>() - 0.9569) < 0.01);
}

// The zoo's Keras 3 archive of MobileNet V1 0.25/128 with include_top=False, pooling="avg" (tools/zoo/generate.py),
// given to the CLI as `-m model.keras`: converted on first use, it says it outputs a feature vector, classify
// refuses to rank its 256 values as classes, and --features prints them.
TEST_CASE("mnet -m model.keras: a feature-vector model is shown and used as one", "[keras][cli][archive]") {
    const std::string tmp = make_temp_dir("keras-archive-cli");
    const std::string env = "XDG_CACHE_HOME=" + shell_quote(tmp) + " ";
    const std::string model = std::string(MNET_SOURCE_DIR) + "/tests/data/zoo/v1_0.25_128_feat.keras";
    const std::string image = shell_quote(shared_dir() + "/testdata/images/dog.jpg");
    std::string out;
    REQUIRE(run_command(env + shell_quote(MNET_CLI_EXE) + " info -m " + shell_quote(model) + " 2>&1", out) == 0);
    INFO(out);
    CHECK(out.find("outputs       1x256 feature (") != std::string::npos);
    CHECK(out.find("logits") == std::string::npos);

    const int status = run_command(env + shell_quote(MNET_CLI_EXE) + " classify -m " + shell_quote(model) + " " + image + " 2>&1", out);
    CHECK(status != 0);
    CHECK(out.find("is a 256-value feature vector, not class scores") != std::string::npos);
    CHECK(out.find("probability") == std::string::npos);

    REQUIRE(run_command(env + shell_quote(MNET_CLI_EXE) + " classify --features -m " + shell_quote(model) + " " + image, out) == 0);
    const nlohmann::json j = nlohmann::json::parse(out);
    CHECK(j["features"].size() == 256);
    std::filesystem::remove_all(tmp);
}
