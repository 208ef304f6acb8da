// SPDX-License-Identifier: Apache-2.0
// The zoo's Keras files (tests/data/zoo, docs/zoo.md): each Keras 3 .h5 file and .keras archive, and the Teachable
// Machine-style TF.js folder, converts and matches Keras's own float output; converting an archive writes nothing
// beside it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "keras_importer.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet/model.h"
#include "support/test_data.h"
#include "zoo_fixtures.h"

using namespace mnet;
using namespace mnet::test;
using namespace mnet::test::zoo;
namespace fs = std::filesystem;

namespace {

constexpr double kRelativeTolerance = 1e-4;  // of the largest |output|

}  // namespace

TEST_CASE("zoo: Keras 3 .h5 files and .keras archives convert and match Keras", "[zoo][slow]") {
    const std::string dir = make_temp_dir("zoo-keras");
    std::map<std::string, int> files;  // by extension
    const nlohmann::json all = index();
    nlohmann::json entries = all.at("keras");  // generate.py's .h5 and .keras files
    for (const auto& e : all.at("tfjs")) entries.push_back(e);  // generate_tm.py's TF.js folder
    for (const auto& e : entries) {
        const std::string file = e.at("file").get<std::string>();
        ++files[fs::path(file).extension().string()];
        INFO(file);
        Fixture f;  // the pixel -> input mapping of model_input()
        f.size = e.at("size").get<int64_t>();
        f.pixel_scale = e.at("pixel_scale").get<double>();
        f.pixel_offset = e.at("pixel_offset").get<double>();
        f.input.dtype = "float32";
        // The .h5 and .keras of one model side by side; a TF.js model.json names its folder.
        std::string json = dir + "/" + file + ".json";
        std::replace(json.begin() + static_cast<std::ptrdiff_t>(dir.size()) + 1, json.end(), '/', '_');
        importer::convert_keras_file(zoo_dir() + "/" + file, json, {});
        const auto model = Model::load(json);
        // A pooled backbone (include_top=False) is a feature vector; a softmax head gives probabilities, and the
        // pooled backbone under it (a Teachable Machine export) is a second, feature output.
        const bool feature = e.at("name").get<std::string>().find("_feat") != std::string::npos;
        CHECK(model->outputs().at(0).kind == (feature ? OutputKind::Feature : OutputKind::Probabilities));
        if (e.contains("labels")) CHECK(model->labels() == e.at("labels").get<std::vector<std::string>>());
        SessionOptions so;
        so.threads = 1;
        Session session(model, so);
        double file_worst = 0.0;
        for (const auto& [stem, out_file] : e.at("outputs").items()) {
            INFO(stem);
            session.run(model_input(f, pixels(f.size, stem)));
            const std::vector<float> ref = read_f32_file(zoo_dir() + "/" + out_file.get<std::string>());
            const Tensor& out = session.output(0);
            REQUIRE(static_cast<size_t>(out.numel()) == ref.size());
            double largest = 1e-6, worst = 0.0;
            for (float v : ref) largest = std::max(largest, std::fabs(static_cast<double>(v)));
            for (size_t i = 0; i < ref.size(); ++i) {
                worst = std::max(worst, std::fabs(static_cast<double>(out.data[i]) - ref[i]) / largest);
            }
            CHECK(worst <= kRelativeTolerance);
            file_worst = std::max(file_worst, worst);
        }
        std::printf("zoo keras: %-34s max |diff| / max |output| = %.3g\n", file.c_str(), file_worst);
    }
    CHECK(files[".h5"] >= 1);
    CHECK(files[".keras"] >= 1);
    CHECK(files[".json"] >= 1);
    fs::remove_all(dir);
}

TEST_CASE("zoo: converting a .keras archive writes nothing beside it", "[zoo]") {
    const std::string dir = make_temp_dir("zoo-keras-archive");
    int archives = 0;
    const nlohmann::json all = index();
    for (const auto& e : all.at("keras")) {
        const std::string file = e.at("file").get<std::string>();
        if (fs::path(file).extension() != ".keras") continue;
        ++archives;
        const std::string copy = dir + "/" + file;
        fs::copy_file(zoo_dir() + "/" + file, copy);
        const ModelWriter writer = importer::import_keras(copy, {});
        CHECK(writer.def().source.find("Keras archive") == 0);
        std::vector<std::string> present;
        for (const auto& entry : fs::directory_iterator(dir)) present.push_back(entry.path().filename().string());
        CHECK(present == std::vector<std::string>{file});
        fs::remove(copy);
    }
    CHECK(archives >= 1);
    fs::remove_all(dir);
}
