// SPDX-License-Identifier: Apache-2.0
// Where `-m` finds a model (issue 20): model folders resolved at run time, `mnet models`, a source model given
// directly (converted once into the XDG cache, then reused), an image from standard input, and --features.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/test_data.h"
#include "test_batch_support.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mnet::test {

namespace {

std::string shared_model(const std::string& name) { return shared_dir() + "/models/" + name; }

// The test model's manifest and weights copied into `dir`/NAME/ as NAME.json + its .bin.
void install_test_model(const std::string& dir, const std::string& name) {
    const fs::path manifest = test_model();
    json doc = json::parse(slurp_file(manifest.string()));
    const std::string weights = doc.at("weights").at("file").get<std::string>();
    fs::create_directories(fs::path(dir) / name);
    copy_file((manifest.parent_path() / weights).string(), dir + "/" + name + "/" + weights);
    std::ofstream(dir + "/" + name + "/" + name + ".json") << doc.dump();
}

std::vector<std::string> cache_entries(const std::string& cache) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(cache + "/mnet/converted", ec)) out.push_back(e.path().string());
    return out;
}

}  // namespace

TEST_CASE("model names: MNET_MODEL_DIR, then the XDG data folder, typos and unfetched zoo models", "[cli][models]") {
    TempDir tmp{"cli-models"};
    install_test_model(tmp.path + "/env", "my_model");
    install_test_model(tmp.path + "/data/mnet/models", "data_model");
    const std::string env = "MNET_MODEL_DIR=" + quote(tmp.path + "/env") + " ";
    const std::string xdg = "env -u MNET_MODEL_DIR XDG_DATA_HOME=" + quote(tmp.path + "/data") + " ";

    const RunResult by_env = run_shell(env + mnet() + " classify --json -k 1 -m my_model " + quote(shared_dog()));
    CAPTURE(by_env.err);
    REQUIRE(by_env.status == 0);
    CHECK(json::parse(by_env.out).at("predictions").at(0).at("index") == reference_top5().at("dog").at(0).index);

    const RunResult by_xdg = run_shell(xdg + mnet() + " info --json -m data_model");
    CAPTURE(by_xdg.err);
    REQUIRE(by_xdg.status == 0);
    CHECK(json::parse(by_xdg.out).at("path").get<std::string>().find(tmp.path + "/data/mnet/models/data_model/") == 0);

    const RunResult typo = run_shell(env + mnet() + " info -m my_modle");
    CHECK(typo.status == 3);
    CHECK(lines_of(typo.err).size() == 1);
    CHECK(typo.err.find("model 'my_modle' not found") != std::string::npos);
    CHECK(typo.err.find("did you mean 'my_model'?") != std::string::npos);

    // In models/zoo.json but not in the model folder: the command that fetches it.
    const RunResult unfetched = run_shell(env + mnet() + " info -m mobilenet_v3_small_1.0_224_uint8");
    CHECK(unfetched.status == 3);
    CHECK(unfetched.err.find("is not fetched yet: run ") != std::string::npos);
    CHECK(unfetched.err.find("fetch_models.sh mobilenet_v3_small_1.0_224_uint8") != std::string::npos);
}

TEST_CASE("mnet models lists the installed models and every zoo.json entry", "[cli][models]") {
    TempDir tmp{"cli-models"};
    install_test_model(tmp.path, "my_model");
    const RunResult r = run_shell("MNET_MODEL_DIR=" + quote(tmp.path) + " " + mnet() + " models --json");
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    const json doc = json::parse(r.out);
    std::map<std::string, json> listed;
    for (const json& m : doc.at("models")) listed[m.at("name")] = m;
    CHECK(listed.at("my_model").at("installed") == true);
    const json zoo = json::parse(slurp_file(std::string(MNET_SOURCE_DIR) + "/models/zoo.json"));
    for (const json& entry : zoo.at("models")) {
        const std::string name = entry.at("name");
        CAPTURE(name);
        REQUIRE(listed.count(name) == 1);
        CHECK(listed[name].at("installed") == false);
        CHECK(listed[name].at("fetch").get<std::string>().find("fetch_models.sh " + name) != std::string::npos);
    }
}

TEST_CASE("a source model given to -m converts once into the XDG cache and is reused", "[cli][models][slow]") {
    TempDir tmp{"cli-models"};
    const std::string source = shared_model("mobilenet_v1_0.75_192_quant");
    const std::string args = " classify --json --precision fp32 -k 5 -m " +
                             quote(source + "/mobilenet_v1_0.75_192_quant.tflite") + " --labels " +
                             quote(source + "/imagenet_labels.txt") + " " + quote(shared_dog());
    const std::string cache = "XDG_CACHE_HOME=" + quote(tmp.path) + " ";
    const RunResult first = run_shell(cache + mnet() + args);
    CAPTURE(first.err);
    REQUIRE(first.status == 0);
    CHECK(first.err.find("converting") != std::string::npos);
    REQUIRE(cache_entries(tmp.path).size() == 1);
    // The same predictions as the reference (TFLite's float run of the same file).
    const json got = json::parse(first.out);
    const auto& want = reference_top5().at("dog");
    CHECK(got.at("predictions").at(0).at("index") == want.at(0).index);
    CHECK(got.at("predictions").at(0).at("label") == want.at(0).label);

    const RunResult second = run_shell(cache + mnet() + args);
    REQUIRE(second.status == 0);
    CHECK(second.err.empty());  // no conversion this time
    CHECK(second.out == first.out);
    CHECK(cache_entries(tmp.path).size() == 1);

    // Other conversion options are another entry.
    const RunResult other = run_shell(cache + mnet() + args + " --crop 1");
    REQUIRE(other.status == 0);
    CHECK(cache_entries(tmp.path).size() == 2);

    // A source that does not convert: the converter's reason, one line, its status.
    const std::string broken = tmp.path + "/broken.tflite";
    write_text_file(broken, "not a flatbuffer");
    const RunResult bad = run_shell(cache + mnet() + " info -m " + quote(broken));
    CHECK(bad.status == 4);
    CHECK(lines_of(bad.err).size() == 2);  // the "converting" note, then the error
    CHECK(lines_of(bad.err).back().rfind("mnet: error: cannot convert " + broken, 0) == 0);
}

TEST_CASE("classify - reads one image from standard input", "[cli][models]") {
    const std::string args = " classify --json --precision fp32 -k 5 -m " + quote(test_model());
    const RunResult from_file = run_shell(mnet() + args + " " + quote(shared_dog()));
    const RunResult from_stdin = run_shell(mnet() + args + " - < " + quote(shared_dog()));
    CAPTURE(from_stdin.err);
    REQUIRE(from_stdin.status == 0);
    const json a = json::parse(from_file.out), b = json::parse(from_stdin.out);
    CHECK(b.at("file") == "standard input");
    CHECK(a.at("predictions") == b.at("predictions"));
    CHECK(b.at("predictions").at(0).at("index") == reference_top5().at("dog").at(0).index);

    const RunResult empty = run_shell(mnet() + args + " - < /dev/null");
    CHECK(empty.status == 1);
    const RunResult twice = run_shell(mnet() + args + " - - < " + quote(shared_dog()));
    CHECK(twice.status == 2);
}

TEST_CASE("classify --features writes the model's feature vector", "[cli][models][slow]") {
    TempDir tmp{"cli-models"};
    const std::string tm = shared_model("teachable_machine_mobilenet_v2_0.35");
    const RunResult r = run_shell("XDG_CACHE_HOME=" + quote(tmp.path) + " " + mnet() + " classify --features -m " +
                                  quote(tm) + " " + quote(shared_dog()));
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    const json line = json::parse(r.out);
    const std::vector<float> got = line.at("features").get<std::vector<float>>();
    const std::vector<float> want =
        read_f32_file(shared_dir() + "/testdata/reference/teachable_machine_mobilenet_v2_0.35/dog.feature.f32");
    REQUIRE(got.size() == want.size());
    double max_diff = 0, max_ref = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        max_diff = std::max(max_diff, static_cast<double>(std::abs(got[i] - want[i])));
        max_ref = std::max(max_ref, static_cast<double>(std::abs(want[i])));
    }
    CHECK(max_diff <= 1e-3 * std::max(1.0, max_ref));

    // A classifier without a feature output: the input of its classifier layer, the last conv2d (V1 0.75: the
    // pooled 768 ReLU6 activations, so each in [0, 6]).
    const RunResult pooled =
        run_shell(mnet() + " classify --features --precision fp32 -m " + quote(test_model()) + " " + quote(shared_dog()));
    CAPTURE(pooled.err);
    REQUIRE(pooled.status == 0);
    const json info = json::parse(run_shell(mnet() + " info --json -m " + quote(test_model())).out);
    json classifier;
    for (const json& layer : info.at("layers")) {
        if (layer.at("op") == "conv2d") classifier = layer;
    }
    const std::vector<float> features = json::parse(pooled.out).at("features").get<std::vector<float>>();
    CHECK(json::parse(pooled.out).at("output") == classifier.at("inputs").at(0));
    REQUIRE(features.size() == classifier.at("in_channels").get<size_t>());
    float max = 0;
    for (float v : features) {
        CHECK(v >= 0.f);
        CHECK(v <= 6.f);
        max = std::max(max, v);
    }
    CHECK(max > 0.f);
    // batch --features: the same vector, in the same record form.
    const RunResult batch =
        run_shell(mnet() + " batch -q --features --precision fp32 -m " + quote(test_model()) + " " + quote(shared_dog()));
    REQUIRE(batch.status == 0);
    CHECK(json::parse(batch.out).at("features") == json::parse(pooled.out).at("features"));
}

}  // namespace mnet::test

namespace mnet::test {

TEST_CASE("quantize warns about a small calibration set and reports int8 against fp32 per layer",
          "[cli][quantize][slow]") {
    TempDir tmp{"cli-models"};
    const std::string images = shared_dir() + "/testdata/images";
    const std::string float_model = tmp.path + "/float.json";
    const std::string keras = shared_model("mobilenet_v1_0.25_224_keras");
    REQUIRE(run_shell(quote(MNET_CONVERT_PATH) + " " + quote(keras + "/mobilenet_v1_0.25_224.h5") + " --labels " +
                      quote(keras + "/imagenet_labels_1000.txt") + " -o " + quote(float_model))
                .status == 0);
    const std::string quantized = tmp.path + "/q.json";
    const RunResult r = run_shell(mnet() + " quantize -m " + quote(float_model) + " --calibrate " + quote(images) +
                                  " -o " + quote(quantized));
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("warning: 5 calibration images") != std::string::npos);

    // One row per layer of the float model, cosines in [-1, 1].
    const json info = json::parse(run_shell(mnet() + " info --json -m " + quote(float_model)).out);
    size_t rows = 0;
    for (const std::string& line : lines_of(r.out)) {
        double cosine = 0, rel = 0;
        int index = 0;
        char name[256];
        if (std::sscanf(line.c_str(), "%d %255s %lf %lf", &index, name, &cosine, &rel) == 4) {
            ++rows;
            CHECK(cosine <= 1.0 + 1e-9);
            CHECK(cosine > 0.5);  // quantization degrades a layer, it does not break a calibrated one
            CHECK(rel >= 0.0);
        }
    }
    CHECK(rows == info.at("layers").size());

    // Top-1 agreement: the same count classify gives running each model on the same images.
    size_t agree = 0, total = 0;
    const auto top1 = [&](const std::string& flags) {
        std::vector<int64_t> out;
        for (const std::string& line :
             lines_of(run_shell(mnet() + " classify --json -k 1 " + flags + " " + quote(images) + "/*").out)) {
            out.push_back(json::parse(line).at("predictions").at(0).at("index").get<int64_t>());
        }
        return out;
    };
    const auto fp = top1("--precision fp32 -m " + quote(float_model));
    const auto q = top1("--precision int8 -m " + quote(quantized));
    REQUIRE(fp.size() == 5);
    REQUIRE(q.size() == 5);
    for (size_t i = 0; i < fp.size(); ++i, ++total) agree += fp[i] == q[i] ? 1 : 0;
    CHECK(r.out.find("top-1 agreement (int8 vs fp32): " + std::to_string(agree) + " of " + std::to_string(total)) !=
          std::string::npos);
}

}  // namespace mnet::test
