// SPDX-License-Identifier: Apache-2.0
#include "test_profile_common.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "model/model_def.h"
#include "model/writer.h"
#include "shared_models.h"
#include "support/test_data.h"

namespace fs = std::filesystem;

namespace mnet::test {

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

CommandResult run_mnet(const std::string& args) {
    static const std::string dir = make_temp_dir("cli-profile-run");
    const std::string out_path = (fs::path(dir) / "stdout").string();
    const std::string err_path = (fs::path(dir) / "stderr").string();
    const std::string binary = (fs::path(MNET_BINARY_DIR) / "mnet").string();
    const std::string cmd = quoted(binary) + " " + args + " > " + quoted(out_path) + " 2> " + quoted(err_path);
    const int raw = std::system(cmd.c_str());
    CommandResult r;
    r.status = (raw != -1 && WIFEXITED(raw)) ? WEXITSTATUS(raw) : -1;
    r.out = read_text_file(out_path);
    r.err = read_text_file(err_path);
    return r;
}

std::string mobilenet_v2_manifest() {
    for (const SharedModel& m : shared_tflite_models()) {
        if (m.name == "mobilenet_v2_1.0_224_quant") return converted_manifest(m);
    }
    throw std::runtime_error("mobilenet_v2_1.0_224_quant not found in the shared models");
}

std::string separable_example_manifest() {
    constexpr int64_t kSide = 32, kIn = 3, kOut = 16, kKernel = 3;
    ModelDef def;
    def.name = "separable_example";
    def.input.name = "image";
    def.input.shape = {1, kIn, kSide, kSide};
    def.preprocess.height = static_cast<int>(kSide);
    def.preprocess.width = static_cast<int>(kSide);
    def.preprocess.crop = 1.0;
    def.preprocess.mean = {0.f, 0.f, 0.f};
    def.preprocess.std = {1.f, 1.f, 1.f};
    def.outputs.push_back(OutputDef{"pw_out", OutputKind::Feature});
    ModelWriter writer(def);
    const std::string dw_w = writer.add_f32("dw/weights", {kIn, 1, kKernel, kKernel},
                                            std::vector<float>(kIn * kKernel * kKernel, 0.1f));
    const std::string pw_w = writer.add_f32("pw/weights", {kOut, kIn, 1, 1}, std::vector<float>(kOut * kIn, 0.1f));
    NodeDef dw;
    dw.name = "dw";
    dw.op = "conv2d";
    dw.inputs = {"image"};
    dw.output = "dw_out";
    dw.attrs["groups"] = kIn;
    dw.attrs["pad"] = std::vector<int64_t>{1, 1, 1, 1};
    dw.attrs["activation"] = std::string("relu6");
    dw.weights["weights"] = dw_w;
    NodeDef pw;
    pw.name = "pw";
    pw.op = "conv2d";
    pw.inputs = {"dw_out"};
    pw.output = "pw_out";
    pw.weights["weights"] = pw_w;
    writer.def().nodes = {dw, pw};
    const std::string path = (fs::path(make_temp_dir("separable-example")) / "separable_example.json").string();
    writer.write(path);
    return path;
}

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted_field = false, in_row = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted_field) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted_field = false;
            } else {
                field += c;
            }
            continue;
        }
        in_row = true;
        if (c == '"') {
            quoted_field = true;
        } else if (c == ',') {
            row.push_back(field);
            field.clear();
        } else if (c == '\n') {
            row.push_back(field);
            field.clear();
            rows.push_back(row);
            row.clear();
            in_row = false;
        } else if (c != '\r') {
            field += c;
        }
    }
    if (in_row) {
        row.push_back(field);
        rows.push_back(row);
    }
    return rows;
}

size_t count_of(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
    return n;
}

}  // namespace mnet::test
