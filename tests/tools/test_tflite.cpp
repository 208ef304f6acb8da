// SPDX-License-Identifier: Apache-2.0
// mnet-convert on the shared TFLite models: structure of the result, the command line, and corrupt files.
#include <catch2/catch.hpp>
#include <sys/wait.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/file_io.h"
#include "mnet/error.h"
#include "mnet/model.h"
#include "ops/reference/reference.h"
#include "support/test_data.h"
#include "tflite_importer.h"
#include "tools/tflite_builder.h"

namespace fs = std::filesystem;
using mnet::importer::TfliteImportOptions;

namespace {

struct SharedTflite {
    const char* folder;
    const char* file;  // stem of the .tflite
    int64_t size;      // input H = W
    size_t nodes;
    std::map<std::string, int> ops;  // node count per op
    uint32_t std_bits;               // preprocess std as float32 bits (reference README table)
    const char* output;
};

const std::vector<SharedTflite>& shared_models() {
    static const std::vector<SharedTflite> models = {
        {"mobilenet_v1_0.75_192_quant",
         "mobilenet_v1_0.75_192_quant",
         192,
         31,
         {{"conv2d", 28}, {"avg_pool", 1}, {"reshape", 1}, {"softmax", 1}},
         0x43000000u,
         "MobilenetV1/Predictions/Reshape_1"},
        {"mobilenet_v2_1.0_224_quant",
         "mobilenet_v2_1.0_224_quant",
         224,
         66,
         {{"conv2d", 53}, {"add", 10}, {"avg_pool", 1}, {"reshape", 1}, {"softmax", 1}},
         0x43000000u,
         "MobilenetV2/Predictions/Softmax"},
        {"mobilenet_v3_small_1.0_224_uint8",
         "v3-small_224_1.0_uint8",
         224,
         119,
         {{"conv2d", 54},
          {"activation", 19},
          {"mul", 18},
          {"add", 15},
          {"avg_pool", 11},
          {"reshape", 1},
          {"softmax", 1}},
         0x42fe0000u,
         "MobilenetV3/Predictions/Softmax"},
    };
    return models;
}

std::string model_dir(const SharedTflite& m) { return mnet::test::shared_dir() + "/models/" + m.folder; }
std::string tflite_path(const SharedTflite& m) { return model_dir(m) + "/" + m.file + ".tflite"; }
std::string labels_path(const SharedTflite& m) { return model_dir(m) + "/imagenet_labels.txt"; }

uint32_t float_bits(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    return bits;
}

struct RunResult {
    int status = -1;
    std::string out, err;
};

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs the mnet-convert binary with `args` (already quoted as needed), capturing stdout and stderr.
RunResult run_convert(const std::string& args, const std::string& dir) {
    const std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
    const std::string cmd =
        std::string("\"") + MNET_CONVERT_EXE + "\" " + args + " > \"" + out + "\" 2> \"" + err + "\"";
    const int rc = std::system(cmd.c_str());
    RunResult r;
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

mnet::ErrorCode import_error(const std::string& path, std::vector<uint8_t> bytes,
                             const TfliteImportOptions& options = {}) {
    try {
        mnet::importer::import_tflite(path, std::move(bytes), options);
    } catch (const mnet::Error& e) {
        INFO(e.what());
        CHECK(std::string(e.what()).rfind(path + ": ", 0) == 0);  // every message starts with the file
        return e.code();
    }
    FAIL("the import succeeded");
    return mnet::ErrorCode::Internal;
}

}  // namespace

TEST_CASE("the shared TFLite models convert and load with the expected structure", "[tools][tflite]") {
    const SharedTflite& m = GENERATE(from_range(shared_models()));
    CAPTURE(m.file);
    const std::string dir = mnet::test::make_temp_dir("tflite");
    const std::string json = dir + "/" + m.file + ".json";
    TfliteImportOptions options;
    options.labels_path = labels_path(m);
    const mnet::ModelDef def = mnet::importer::convert_tflite_file(tflite_path(m), json, options);
    REQUIRE(fs::exists(dir + "/" + m.file + ".bin"));

    const auto model = mnet::Model::load(json);
    CHECK(model->name() == m.file);
    CHECK(model->input_shape() == mnet::Shape{1, 3, m.size, m.size});
    REQUIRE(model->layers().size() == m.nodes);
    std::map<std::string, int> ops;
    for (const auto& layer : model->layers()) ++ops[layer.op];
    CHECK(ops == m.ops);

    const mnet::Preprocess& pre = model->preprocess();
    CHECK(pre.height == m.size);
    CHECK(pre.width == m.size);
    CHECK(pre.crop == 0.875);
    CHECK(pre.color == mnet::ColorOrder::RGB);
    for (int c = 0; c < 3; ++c) {
        CHECK(pre.mean[c] == 128.0f);
        CHECK(float_bits(pre.std[c]) == m.std_bits);
    }
    REQUIRE(model->labels().size() == 1001);
    CHECK(model->labels()[0] == "background");
    CHECK(model->labels()[1] == "tench, Tinca tinca");
    REQUIRE(model->outputs().size() == 1);
    CHECK(model->outputs()[0].name == m.output);
    CHECK(model->outputs()[0].kind == mnet::OutputKind::Probabilities);
    CHECK(model->outputs()[0].shape == mnet::Shape{1, 1001});
    CHECK(model->has_quantization());

    // What Model does not show: every node keeps its uint8 output range, every constant its source parameters.
    CHECK(def.background_class);
    REQUIRE(def.input.quant);
    CHECK(def.input.quant->dtype == mnet::DType::U8);
    CHECK(def.input.quant->zero_point == std::vector<int64_t>{128});
    for (const auto& node : def.nodes) {
        INFO(node.name);
        REQUIRE(node.dst_quant);
        CHECK(node.dst_quant->dtype == mnet::DType::U8);
        CHECK(node.dst_quant->scale.size() == 1);
    }
    for (const auto& t : def.tensors) {
        INFO(t.name);
        CHECK(t.dtype == mnet::DType::F32);
        REQUIRE(t.quant);
        CHECK((t.quant->dtype == mnet::DType::U8 || t.quant->dtype == mnet::DType::S32));
    }
    const auto& first = def.nodes.front();
    CHECK(first.op == "conv2d");
    CHECK(first.inputs == std::vector<std::string>{"input"});
    // 3x3 stride 2 SAME on an even size: TensorFlow puts the one padded row/column at the bottom/right.
    CHECK(std::get<std::vector<int64_t>>(first.attrs.at("pad")) == std::vector<int64_t>{0, 0, 1, 1});
}

TEST_CASE("two conversions to one name in one process both work, one writing over its input is refused",
          "[tools][tflite][overwrite]") {
    // Each conversion is one operation (mnet-convert holds an io::InputScope the same way): the first one's
    // check load of q.json does not make q.json an input of the second.
    const SharedTflite& m = shared_models().front();
    const std::string dir = mnet::test::make_temp_dir("tflite-twice");
    for (int round = 0; round < 2; ++round) {
        mnet::io::InputScope conversion;
        CAPTURE(round);
        CHECK_NOTHROW(mnet::importer::convert_tflite_file(tflite_path(m), dir + "/q.json", TfliteImportOptions{}));
        CHECK(mnet::Model::load(dir + "/q.json")->name() == m.file);
    }
    // Within one conversion: the label file it reads is where the weights would go.
    fs::copy_file(labels_path(m), dir + "/labels.bin");
    const std::vector<uint8_t> labels = mnet::test::read_file_bytes(dir + "/labels.bin");
    {
        mnet::io::InputScope conversion;
        TfliteImportOptions options;
        options.labels_path = dir + "/labels.bin";
        try {
            mnet::importer::convert_tflite_file(tflite_path(m), dir + "/labels.json", options);
            FAIL("the conversion wrote over its label file");
        } catch (const mnet::Error& e) {
            CHECK(e.code() == mnet::ErrorCode::InvalidArgument);
            CHECK_THAT(e.what(), Catch::Contains("is also an input"));
        }
    }
    CHECK(mnet::test::read_file_bytes(dir + "/labels.bin") == labels);
    CHECK_FALSE(fs::exists(dir + "/labels.json"));
    fs::remove_all(dir);
}

TEST_CASE("converted TFLite models reproduce the reference probabilities", "[tools][tflite][slow]") {
    // The converter checked end to end with the naive reference interpreter (never the engine) against the
    // shared float references (testdata/reference/README.md), which were computed from the .tflite files directly.
    const SharedTflite& m = GENERATE(from_range(shared_models()));
    CAPTURE(m.file);
    const std::string dir = mnet::test::make_temp_dir("tflite-ref");
    const std::string json = dir + "/" + m.file + ".json";
    mnet::importer::convert_tflite_file(tflite_path(m), json, TfliteImportOptions{});
    const auto model = mnet::Model::load(json);
    const std::string ref = mnet::test::shared_dir() + "/testdata/reference/" + m.folder + "/chelsea";
    mnet::Tensor src(model->input_shape());
    src.data = mnet::test::read_f32_file(ref + ".input.f32");
    REQUIRE(src.data.size() == static_cast<size_t>(src.numel()));
    const std::vector<float> expected = mnet::test::read_f32_file(ref + ".probs.f32");
    const std::vector<mnet::Tensor> out = mnet::reference::run(*model, src);
    REQUIRE(out.at(0).data.size() == expected.size());
    float worst = 0;
    for (size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::fabs(out[0].data[i] - expected[i]));
    CHECK(worst < 1e-5f);
}

TEST_CASE("mnet-convert converts from the command line and reports what it wrote", "[tools][tflite][cli]") {
    const SharedTflite& m = shared_models()[0];
    const std::string dir = mnet::test::make_temp_dir("tflite-cli");
    const std::string json = dir + "/v1.json";
    RunResult r = run_convert("\"" + tflite_path(m) + "\" -o \"" + json + "\" --labels \"" + labels_path(m) +
                                  "\" --background-class no --name my_v1 --crop 1 --mean 127.5 --std 127.5,127.5,128",
                              dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());
    CHECK(r.out.find("31 nodes") != std::string::npos);
    const auto model = mnet::Model::load(json);
    CHECK(model->name() == "my_v1");
    CHECK(model->preprocess().crop == 1.0);
    CHECK(model->preprocess().mean == std::array<float, 3>{127.5f, 127.5f, 127.5f});
    CHECK(model->preprocess().std == std::array<float, 3>{127.5f, 127.5f, 128.0f});
    CHECK(fs::exists(dir + "/v1.bin"));
}

TEST_CASE("mnet-convert reports bad arguments in one line with an exit status", "[tools][tflite][cli]") {
    const SharedTflite& m = shared_models()[0];
    const std::string dir = mnet::test::make_temp_dir("tflite-cli-err");
    const std::string out = " -o \"" + dir + "/x.json\"";

    SECTION("no arguments") {
        RunResult r = run_convert("", dir);
        CHECK(r.status == 2);
        CHECK(r.err.rfind("mnet-convert: error: ", 0) == 0);
        CHECK(one_line(r.err));
    }
    SECTION("a file that does not exist") {
        RunResult r = run_convert("\"" + dir + "/missing.tflite\"" + out, dir);
        CHECK(r.status == 3);
        CHECK(r.err.rfind("mnet-convert: error: " + dir + "/missing.tflite: cannot read TFLite model (No such file", 0) == 0);
        CHECK(one_line(r.err));
    }
    SECTION("a label file with the wrong number of labels") {
        mnet::test::write_text_file(dir + "/labels.txt", "background\ncat\ndog\n");
        RunResult r = run_convert("\"" + tflite_path(m) + "\"" + out + " --labels \"" + dir + "/labels.txt\"", dir);
        CHECK(r.status == 2);
        CHECK(r.err.rfind("mnet-convert: error: " + dir + "/labels.txt: 3 labels", 0) == 0);
        CHECK(r.err.find("1001 classes") != std::string::npos);
        CHECK(one_line(r.err));
        CHECK_FALSE(fs::exists(dir + "/x.json"));
    }
    SECTION("an unknown --background-class") {
        RunResult r = run_convert("\"" + tflite_path(m) + "\"" + out + " --background-class maybe", dir);
        CHECK(r.status == 2);
        CHECK(one_line(r.err));
    }
    SECTION("a bad --mean") {
        RunResult r = run_convert("\"" + tflite_path(m) + "\"" + out + " --mean 1,2", dir);
        CHECK(r.status == 2);
        CHECK(r.err.find("--mean") != std::string::npos);
    }
    SECTION("a truncated model") {
        std::vector<uint8_t> bytes = mnet::test::read_file_bytes(tflite_path(m));
        bytes.resize(bytes.size() / 2);
        mnet::test::write_file_bytes(dir + "/cut.tflite", bytes);
        RunResult r = run_convert("\"" + dir + "/cut.tflite\"" + out, dir);
        CHECK(r.status == 4);
        CHECK(r.err.rfind("mnet-convert: error: " + dir + "/cut.tflite: ", 0) == 0);
        CHECK(one_line(r.err));
        CHECK_FALSE(fs::exists(dir + "/x.json"));
    }
}

TEST_CASE("truncated TFLite files are rejected as malformed", "[tools][tflite][corrupt]") {
    const SharedTflite& m = shared_models()[1];
    const std::vector<uint8_t> bytes = mnet::test::read_file_bytes(tflite_path(m));
    const size_t keep = GENERATE(size_t{0}, size_t{7}, size_t{100}, size_t{4096}, size_t{1} << 20);
    CAPTURE(keep);
    CHECK(import_error("cut.tflite", std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(keep))) ==
          mnet::ErrorCode::ModelFormat);
}

TEST_CASE("a TFLite file missing its last bytes is rejected", "[tools][tflite][corrupt]") {
    // V1 and V2 end in TFLite metadata's appended zip of associated files, which the flatbuffer does not
    // reference; V3-small ends in flatbuffer data, so 16 bytes less cuts into a table.
    const std::vector<uint8_t> bytes = mnet::test::read_file_bytes(tflite_path(shared_models()[2]));
    CHECK(import_error("cut.tflite", std::vector<uint8_t>(bytes.begin(), bytes.end() - 16)) ==
          mnet::ErrorCode::ModelFormat);
}

TEST_CASE("byte-flipped TFLite files are rejected and never crash", "[tools][tflite][corrupt]") {
    const SharedTflite& m = shared_models()[0];
    const std::vector<uint8_t> bytes = mnet::test::read_file_bytes(tflite_path(m));

    SECTION("the file identifier") {
        std::vector<uint8_t> bad = bytes;
        bad[5] ^= 0xFF;  // "TFL3" at bytes 4..7
        CHECK(import_error("flip.tflite", bad) == mnet::ErrorCode::ModelFormat);
    }
    SECTION("the root table offset") {
        std::vector<uint8_t> bad = bytes;
        bad[3] ^= 0x7F;  // root offset far past the end
        CHECK(import_error("flip.tflite", bad) == mnet::ErrorCode::ModelFormat);
    }
    SECTION("every byte of a small model, one at a time") {
        // A tiny quantized conv model: every byte is structure, so each flip hits a table, a vtable, an offset,
        // a shape or a quantization parameter. Each must convert or fail with mnet::Error, nothing else.
        mnet::test::TfliteBuilder b;
        const int32_t x = b.activation("x", {1, 4, 4, 3}, tflite::TensorType_UINT8, 1.0f / 128, 128);
        const int32_t w =
            b.constant_quantized("w", {2, 1, 1, 3}, tflite::TensorType_UINT8, {1, 2, 3, 4, 5, 6}, {0.5f}, {3});
        const int32_t bias = b.constant_quantized("b", {2}, tflite::TensorType_INT32,
                                                  mnet::test::to_bytes(std::vector<int32_t>{7, -7}), {0.25f}, {0});
        const int32_t y = b.activation("y", {1, 4, 4, 2}, tflite::TensorType_UINT8, 0.1f, 0);
        b.op(tflite::BuiltinOperator_CONV_2D, {x, w, bias}, {y}, tflite::BuiltinOptions_Conv2DOptions,
             tflite::CreateConv2DOptions(b.fbb(), tflite::Padding_SAME, 1, 1).Union());
        const std::vector<uint8_t> tiny = b.finish({x}, {y});
        TfliteImportOptions options;
        REQUIRE_NOTHROW(mnet::importer::import_tflite("tiny.tflite", tiny, options));
        int rejected = 0;
        for (size_t i = 0; i < tiny.size(); ++i) {
            std::vector<uint8_t> bad = tiny;
            bad[i] ^= 0xFF;
            try {
                mnet::importer::import_tflite("tiny.tflite", bad, options);
            } catch (const mnet::Error&) {
                ++rejected;
            } catch (const std::exception& e) {
                FAIL("byte " << i << ": not an mnet::Error: " << e.what());
            }
        }
        CHECK(rejected > static_cast<int>(tiny.size()) / 4);
    }
}
