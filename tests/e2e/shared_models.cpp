// SPDX-License-Identifier: Apache-2.0
#include "shared_models.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "support/test_data.h"

namespace fs = std::filesystem;

namespace mnet::test {

namespace {

std::vector<ReferenceImage> reference_images(const std::string& model) {
    const fs::path dir = fs::path(shared_dir()) / "testdata" / "reference" / model;
    std::ifstream in(dir / "reference.json");
    if (!in) throw std::runtime_error("missing " + (dir / "reference.json").string());
    const nlohmann::json ref = nlohmann::json::parse(in);
    std::vector<ReferenceImage> images;
    for (const auto& img : ref.at("images")) {
        ReferenceImage r;
        r.stem = img.at("stem").get<std::string>();
        // "file" starts with "shared/": relative to the folder that holds shared/.
        r.image_path = (fs::path(shared_dir()).parent_path() / img.at("file").get<std::string>()).string();
        r.input_path = (dir / (r.stem + ".input.f32")).string();
        r.probs_path = (dir / (r.stem + ".probs.f32")).string();
        if (fs::exists(dir / (r.stem + ".feature.f32"))) r.feature_path = (dir / (r.stem + ".feature.f32")).string();
        images.push_back(r);
    }
    if (images.empty()) throw std::runtime_error("no reference images for " + model);
    return images;
}

}  // namespace

std::vector<SharedModel> shared_tflite_models() {
    std::vector<SharedModel> models;
    const fs::path root = fs::path(shared_dir()) / "models";
    for (const auto& entry : fs::directory_iterator(root)) {
        for (const auto& file : fs::directory_iterator(entry.path())) {
            if (file.path().extension() != ".tflite") continue;
            const std::string name = entry.path().filename().string();
            models.push_back({name, file.path().string(), reference_images(name)});
        }
    }
    std::sort(models.begin(), models.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    if (models.size() < 3) throw std::runtime_error("expected at least 3 TFLite models in " + root.string());
    return models;
}

std::string converted_manifest(const SharedModel& m) {
    static std::map<std::string, std::string> done;
    static const std::string dir = make_temp_dir("e2e-models");
    auto it = done.find(m.name);
    if (it != done.end()) return it->second;
    const fs::path labels = fs::path(m.source).parent_path() / "imagenet_labels.txt";
    const std::string out = (fs::path(dir) / m.name / (m.name + ".json")).string();
    const std::string cmd = std::string("'") + MNET_CONVERT_PATH + "' '" + m.source + "' -o '" + out + "' --labels '" +
                            labels.string() + "' > /dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("conversion failed: " + cmd);
    done[m.name] = out;
    return out;
}

}  // namespace mnet::test
