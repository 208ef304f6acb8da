// SPDX-License-Identifier: Apache-2.0
#include "cli/test_batch_support.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "e2e/shared_models.h"
#include "support/test_data.h"

namespace fs = std::filesystem;

namespace mnet::test {

namespace {

constexpr const char* kModel = "mobilenet_v1_0.75_192_quant";

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

const SharedModel& shared_model() {
    static const SharedModel model = [] {
        for (const SharedModel& m : shared_tflite_models()) {
            if (m.name == kModel) return m;
        }
        throw std::runtime_error(std::string("shared model ") + kModel + " not found");
    }();
    return model;
}

}  // namespace

std::string quote(const std::string& s) { return shell_quote(s); }

std::string mnet() { return quote(std::string(MNET_BINARY_DIR) + "/mnet"); }

RunResult run_shell(const std::string& command) {
    static const std::string dir = make_temp_dir("cli-run");
    static int counter = 0;
    const std::string out = dir + "/out" + std::to_string(counter) + ".txt";
    const std::string err = dir + "/err" + std::to_string(counter++) + ".txt";
    const std::string full = "(" + command + ") > " + quote(out) + " 2> " + quote(err);
    const int raw = std::system(full.c_str());
    RunResult r;
    if (raw != -1 && WIFEXITED(raw)) r.status = WEXITSTATUS(raw);
    if (raw != -1 && WIFSIGNALED(raw)) r.status = 128 + WTERMSIG(raw);
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
}

const std::string& test_model() {
    static const std::string path = converted_manifest(shared_model());
    return path;
}

const std::map<std::string, std::vector<ReferenceTop>>& reference_top5() {
    static const auto table = [] {
        std::map<std::string, std::vector<ReferenceTop>> t;
        const fs::path file = fs::path(shared_dir()) / "testdata" / "reference" / kModel / "reference.json";
        std::ifstream in(file);
        if (!in) throw std::runtime_error("missing " + file.string());
        const nlohmann::json ref = nlohmann::json::parse(in);
        for (const auto& img : ref.at("images")) {
            auto& top = t[img.at("stem").get<std::string>()];
            for (const auto& p : img.at("top5_float")) {
                top.push_back({p.at("index").get<int64_t>(), p.at("label").get<std::string>()});
            }
        }
        return t;
    }();
    return table;
}

const std::map<std::string, std::string>& shared_photos() {
    static const auto photos = [] {
        std::map<std::string, std::string> p;
        for (const ReferenceImage& img : shared_model().images) p[img.stem] = img.image_path;
        if (p.size() != 5) throw std::runtime_error("expected the 5 shared photos");
        return p;
    }();
    return photos;
}

void copy_file(const std::string& from, const std::string& to) {
    fs::create_directories(fs::path(to).parent_path());
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

std::string slurp_file(const std::string& path) { return read_text(path); }

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) lines.push_back(line);
    }
    return lines;
}

}  // namespace mnet::test
