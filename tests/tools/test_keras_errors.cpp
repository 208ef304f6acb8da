// SPDX-License-Identifier: Apache-2.0
// What the Keras importer refuses, and how: every unsupported layer or setting is an Unsupported error naming the
// layer class and the layer; corrupt or hostile TF.js folders, .h5 files and .keras archives are errors, never
// crashes or reads outside the model's own files.
#include <catch2/catch.hpp>

#include <hdf5.h>
#include <zip.h>

#include <filesystem>

#include "keras_importer.h"
#include "mnet/error.h"
#include "support/test_data.h"
#include "test_keras_support.h"

using namespace mnet;
using namespace mnet::test;
using namespace mnet::test::keras;
namespace fs = std::filesystem;

namespace {

constexpr auto kCopy = std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing;

// The error import_keras throws for `src` (fails the test if it converts).
Error import_error(const std::string& src, const importer::KerasImportOptions& options = {}) {
    try {
        importer::import_keras(src, options);
    } catch (const Error& e) {
        return e;
    }
    FAIL("converted, but an error was expected: " << src);
    throw std::logic_error("unreachable");
}

// input [8, 8, 3] -> Conv2D 'conv' (8 filters) -> `layers`, written as a TF.js folder.
std::string tfjs_model(std::vector<Layer> layers, std::vector<int64_t> input = {8, 8, 3}) {
    Builder b(3);
    KerasModel m;
    m.input_hwc = input;
    m.layers = {b.conv("conv", input[2], 8, 3, 1, "same")};
    for (Layer& l : layers) m.layers.push_back(std::move(l));
    const std::string dir = make_temp_dir("keras-err");
    write_tfjs(m, dir);
    return dir;
}

void check_unsupported(const std::string& src, const std::string& layer, const std::string& cls,
                       const std::string& detail) {
    const Error e = import_error(src);
    CAPTURE(e.what());
    CHECK(e.code() == ErrorCode::Unsupported);
    const std::string msg = e.what();
    if (!layer.empty()) CHECK(msg.find("layer '" + layer + "' (" + cls + ")") != std::string::npos);
    CHECK(msg.find(detail) != std::string::npos);
}

json model_json(const std::string& dir) { return json::parse(read_file_bytes(dir + "/model.json")); }
void save_json(const std::string& dir, const json& j) { write_text_file(dir + "/model.json", j.dump()); }

}  // namespace

TEST_CASE("unsupported layer classes are errors naming the class and the layer", "[keras][errors]") {
    const std::vector<std::pair<std::string, json>> classes = {
        {"Conv2DTranspose", {{"filters", 4}, {"kernel_size", {3, 3}}}},
        {"LeakyReLU", {{"alpha", 0.3}}},
        {"PReLU", json::object()},
        {"UpSampling2D", {{"size", {2, 2}}}},
        {"Cropping2D", {{"cropping", {{1, 1}, {1, 1}}}}},
        {"Lambda", {{"function", "x"}}},
        {"LayerNormalization", json::object()},
        {"MaxPooling3D", json::object()},
    };
    for (const auto& [cls, config] : classes) {
        CAPTURE(cls);
        check_unsupported(tfjs_model({simple(cls, "the_layer", config)}), "the_layer", cls,
                          "cannot translate this layer class");
    }
    // Merges other than Add and Multiply.
    for (const std::string cls : {"Concatenate", "Subtract", "Average", "Maximum"}) {
        CAPTURE(cls);
        check_unsupported(tfjs_model({simple(cls, "merge", json::object(), {"conv", "conv"})}), "merge", cls,
                          "cannot translate this layer class");
    }
}

TEST_CASE("unsupported settings of supported layers are errors naming the layer", "[keras][errors]") {
    Builder b(4);
    check_unsupported(tfjs_model({activation("act", "tanh")}), "act", "Activation", "activation 'tanh'");
    check_unsupported(tfjs_model({activation("act", "elu")}), "act", "Activation", "activation 'elu'");
    check_unsupported(tfjs_model({relu("capped", 3)}), "capped", "ReLU", "max_value 3");
    Layer leaky = relu("leaky");
    leaky.config["negative_slope"] = 0.1;
    check_unsupported(tfjs_model({leaky}), "leaky", "ReLU", "negative_slope");
    Layer cf = b.conv("cf", 8, 4, 3, 1, "same");
    cf.config["data_format"] = "channels_first";
    check_unsupported(tfjs_model({cf}), "cf", "Conv2D", "channels_first");
    Layer causal = b.conv("causal", 8, 4, 3, 1, "same");
    causal.config["padding"] = "causal";
    check_unsupported(tfjs_model({causal}), "causal", "Conv2D", "padding 'causal'");
    Layer bn = b.batch_norm("bn", 8);
    bn.config["axis"] = 1;
    check_unsupported(tfjs_model({bn}), "bn", "BatchNormalization", "axis");
    check_unsupported(tfjs_model({activation("sm", "softmax")}), "sm", "Activation", "softmax over a [8,8,8] map");
    check_unsupported(tfjs_model({simple("Reshape", "rs", {{"target_shape", {64, 8}}})}), "rs", "Reshape", "rank 3");
    check_unsupported(tfjs_model({simple("Reshape", "rs", {{"target_shape", {8, 8, 8}}}), simple("Reshape", "rs2", {{"target_shape", {4, 16, 8}}})}),
                      "rs2", "Reshape", "element order");
    check_unsupported(tfjs_model({simple("Flatten", "flat")}), "", "", "flattens a [8,8,8] map");
    check_unsupported(tfjs_model({}, {8, 8, 1}), "", "", "1 channels");
}

TEST_CASE("unsupported inputs are errors", "[keras][errors]") {
    const std::string dir = tfjs_model({});
    json j = model_json(dir);
    j["modelTopology"]["config"]["layers"][0]["config"]["batch_input_shape"] = {nullptr, nullptr, nullptr, 3};
    save_json(dir, j);
    check_unsupported(dir, "", "", "no fixed height and width");

    json two = model_json(tfjs_model({}));
    auto& cfg = two["modelTopology"]["config"];
    json second = cfg["layers"][0];
    second["name"] = second["config"]["name"] = "input_2";
    cfg["layers"].push_back(second);
    cfg["input_layers"].push_back({"input_2", 0, 0});
    const std::string dir2 = make_temp_dir("keras-two");
    std::filesystem::copy(dir, dir2, kCopy);
    save_json(dir2, two);
    check_unsupported(dir2, "", "", "second model input");
}

TEST_CASE("corrupt or hostile TF.js folders are errors", "[keras][errors]") {
    auto expect = [](const std::string& dir, ErrorCode code, const std::string& detail) {
        const Error e = import_error(dir);
        CAPTURE(e.what());
        CHECK(e.code() == code);
        CHECK(std::string(e.what()).find(detail) != std::string::npos);
    };
    const std::string good = tfjs_model({});
    const std::string bin = good + "/group1-shard1of1.bin";
    const std::vector<uint8_t> bytes = read_file_bytes(bin);

    std::string dir = make_temp_dir("keras-short");
    std::filesystem::copy(good, dir, kCopy);
    write_file_bytes(dir + "/group1-shard1of1.bin", std::vector<uint8_t>(bytes.begin(), bytes.end() - 4));
    expect(dir, ErrorCode::ModelFormat, "group's files hold");
    write_file_bytes(dir + "/group1-shard1of1.bin", std::vector<uint8_t>(bytes.size() + 4, 0));
    expect(dir, ErrorCode::ModelFormat, "its files hold");

    auto edited = [&](auto edit) {
        const std::string d = make_temp_dir("keras-edit");
        std::filesystem::copy(good, d, kCopy);
        json j = model_json(d);
        edit(j);
        save_json(d, j);
        return d;
    };
    expect(edited([](json& j) { j["weightsManifest"][0]["paths"][0] = "../group1-shard1of1.bin"; }), ErrorCode::ModelFormat,
           "not a plain file name");
    expect(edited([](json& j) { j["weightsManifest"][0]["paths"][0] = "/etc/passwd"; }), ErrorCode::ModelFormat,
           "not a plain file name");
    expect(edited([](json& j) { j["weightsManifest"][0]["paths"][0] = "missing.bin"; }), ErrorCode::Io, "missing.bin");
    expect(edited([](json& j) { j["weightsManifest"][0]["weights"][0]["name"] = "other/kernel"; }), ErrorCode::ModelFormat,
           "weight 'kernel' is missing");
    expect(edited([](json& j) { j["weightsManifest"][0]["weights"][0]["shape"] = {3, 3, 8, 3}; }), ErrorCode::ModelFormat,
           "the layer's config needs [3,3,3,8]");
    expect(edited([](json& j) { j["weightsManifest"][0]["weights"][0]["shape"] = {-3, 3, 3, 8}; }), ErrorCode::ModelFormat,
           "bad shape");
    expect(edited([](json& j) { j["weightsManifest"][0]["weights"][0]["shape"] = {1 << 20, 1 << 20, 3, 8}; }),
           ErrorCode::ModelFormat, "elements");
    expect(edited([](json& j) { j["weightsManifest"][0]["weights"][0]["quantization"] = {{"dtype", "int4"}, {"scale", 1}}; }),
           ErrorCode::Unsupported, "quantization dtype 'int4'");
    expect(edited([](json& j) { j["weightsManifest"][0]["weights"][0]["dtype"] = "int32"; }), ErrorCode::Unsupported,
           "dtype 'int32'");
    expect(edited([](json& j) { j["format"] = "graph-model"; }), ErrorCode::Unsupported, "graph model");
    expect(edited([](json& j) { j["modelTopology"]["config"]["layers"][1]["inbound_nodes"] = {{{"nowhere", 0, 0, {}}}}; }),
           ErrorCode::ModelFormat, "nothing produces");
    expect(edited([](json& j) { j["modelTopology"]["class_name"] = "Conv2D"; }), ErrorCode::Unsupported,
           "not a Sequential or Functional");

    const std::string text = make_temp_dir("keras-text");
    write_text_file(text + "/model.json", "{ not json");
    expect(text, ErrorCode::ModelFormat, "not valid JSON");

    const std::string zip = make_temp_dir("keras-zip") + "/model.keras";
    write_text_file(zip, std::string("PK\x03\x04", 4) + "rest of an archive");  // more: the [archive] test
    expect(zip, ErrorCode::ModelFormat, "not a readable zip archive");
}

TEST_CASE("labels: metadata.json labels are used, a count mismatch is an error", "[keras][errors]") {
    Builder b(5);
    KerasModel m;
    m.input_hwc = {8, 8, 3};
    m.layers = {b.conv("conv", 3, 4, 3, 2, "valid"), simple("GlobalAveragePooling2D", "gap"), b.dense("fc", 4, 3, "softmax")};
    const std::string dir = make_temp_dir("keras-labels");
    TfjsOptions options;
    options.metadata = {{"labels", {"하나", "둘", "셋"}}};
    write_tfjs(m, dir, options);
    CHECK(importer::import_keras(dir, {}).def().labels == std::vector<std::string>{"하나", "둘", "셋"});

    write_text_file(dir + "/two.txt", "a\nb\n");
    importer::KerasImportOptions with_file;
    with_file.labels_path = dir + "/two.txt";
    CHECK(import_error(dir, with_file).code() == ErrorCode::InvalidArgument);
    write_text_file(dir + "/three.txt", "x\r\ny\r\nz\r\n");
    with_file.labels_path = dir + "/three.txt";
    CHECK(importer::import_keras(dir, with_file).def().labels == std::vector<std::string>{"x", "y", "z"});

    write_text_file(dir + "/metadata.json", json({{"labels", {"only one"}}}).dump());
    const Error e = import_error(dir);
    CHECK(e.code() == ErrorCode::ModelFormat);
    CHECK(std::string(e.what()).find("metadata.json") != std::string::npos);
}

TEST_CASE("corrupt or hostile .h5 files are errors", "[keras][errors][h5]") {
    Builder b(6);
    KerasModel m;
    m.input_hwc = {8, 8, 3};
    m.layers = {b.conv("conv", 3, 4, 3, 1, "same"), b.batch_norm("bn", 4)};
    const std::string dir = make_temp_dir("keras-h5err");
    auto expect = [](const std::string& path, ErrorCode code, const std::string& detail) {
        const Error e = import_error(path);
        CAPTURE(e.what());
        CHECK(e.code() == code);
        CHECK(std::string(e.what()).find(detail) != std::string::npos);
    };
    // Edits a fresh copy of the good file through the HDF5 API.
    int n = 0;
    auto edited = [&](auto edit) {
        const std::string path = dir + "/m" + std::to_string(n++) + ".h5";
        write_h5(m, path);
        const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(f >= 0);
        edit(f);
        H5Fclose(f);
        return path;
    };
    auto replace = [](hid_t f, const char* name, hid_t type, std::vector<hsize_t> dims) {
        REQUIRE(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
        const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
        const hid_t ds = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dclose(ds);
        H5Sclose(space);
    };
    const char* kernel = "model_weights/conv/conv/kernel:0";
    CHECK_NOTHROW(importer::import_keras(edited([](hid_t) {}), {}));  // the unedited file converts
    expect(edited([&](hid_t f) { replace(f, kernel, H5T_IEEE_F32LE, {3, 3, 4, 3}); }), ErrorCode::ModelFormat,
           "the layer's config needs [3,3,3,4]");
    expect(edited([&](hid_t f) { replace(f, kernel, H5T_STD_I32LE, {3, 3, 3, 4}); }), ErrorCode::Unsupported,
           "16, 32 or 64-bit floats");
    expect(edited([&](hid_t f) { replace(f, kernel, H5T_IEEE_F32LE, {1, 1, 1, 1, 1}); }), ErrorCode::Unsupported,
           "rank 5");
    expect(edited([&](hid_t f) {
               REQUIRE(H5Ldelete(f, kernel, H5P_DEFAULT) >= 0);
               H5Lcreate_external("/etc/other.h5", "/data", f, kernel, H5P_DEFAULT, H5P_DEFAULT);
           }),
           ErrorCode::Unsupported, "soft or external link");
    expect(edited([&](hid_t f) {
               REQUIRE(H5Ldelete(f, kernel, H5P_DEFAULT) >= 0);
               H5Lcreate_soft("/model_weights/bn/bn/gamma:0", f, kernel, H5P_DEFAULT, H5P_DEFAULT);
           }),
           ErrorCode::Unsupported, "soft or external link");
    expect(edited([](hid_t f) { H5Adelete(f, "model_config"); }), ErrorCode::Unsupported, "weights-only");

    const std::string not_h5 = dir + "/text.h5";
    write_text_file(not_h5, "this is not HDF5");
    expect(not_h5, ErrorCode::ModelFormat, "not an HDF5 file");
    const std::string good = edited([](hid_t) {});
    const std::vector<uint8_t> bytes = read_file_bytes(good);
    const std::string truncated = dir + "/truncated.h5";
    write_file_bytes(truncated, std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(bytes.size() / 2)));
    CHECK_THROWS_AS(importer::import_keras(truncated, {}), Error);
}

namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;  // name -> bytes, in archive order

// The entries of the zoo's Keras 3 archive (written by Keras itself, tools/zoo/generate.py).
Entries zoo_archive_entries() {
    const std::string path = std::string(MNET_SOURCE_DIR) + "/tests/data/zoo/v1_0.25_128_feat.keras";
    int err = 0;
    zip_t* za = zip_open(path.c_str(), ZIP_RDONLY, &err);
    REQUIRE(za);
    Entries out;
    for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); ++i) {
        zip_stat_t st;
        REQUIRE(zip_stat_index(za, zip_uint64_t(i), 0, &st) == 0);
        std::string bytes(st.size, '\0');
        zip_file_t* f = zip_fopen_index(za, zip_uint64_t(i), 0);
        REQUIRE(f);
        REQUIRE(zip_fread(f, bytes.data(), st.size) == zip_int64_t(st.size));
        zip_fclose(f);
        out.emplace_back(st.name, std::move(bytes));
    }
    zip_discard(za);
    return out;
}

std::string file_text(const std::string& path) {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    return std::string(bytes.begin(), bytes.end());
}

// A zip at `path` holding `entries`, each deflated or stored.
void write_zip(const std::string& path, const Entries& entries, bool deflate) {
    int err = 0;
    zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    REQUIRE(za);
    for (const auto& [name, bytes] : entries) {
        zip_source_t* src = zip_source_buffer(za, bytes.data(), bytes.size(), 0);
        REQUIRE(src);
        const zip_int64_t index = zip_file_add(za, name.c_str(), src, ZIP_FL_ENC_UTF_8);
        REQUIRE(index >= 0);
        REQUIRE(zip_set_file_compression(za, zip_uint64_t(index), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) == 0);
    }
    REQUIRE(zip_close(za) == 0);
}

// The uncompressed size of the archive's first entry, set to `size` in both its local header and the central
// directory (APPNOTE.TXT 4.3.7 and 4.3.12: offsets 22 and 24 from each header's signature).
void patch_first_size(std::string& zip, uint32_t size) {
    constexpr size_t kLocalSizeOffset = 22, kCentralSizeOffset = 24;
    const size_t central = zip.find("PK\x01\x02");
    REQUIRE(zip.compare(0, 4, "PK\x03\x04") == 0);
    REQUIRE(central != std::string::npos);
    for (size_t at : {kLocalSizeOffset, central + kCentralSizeOffset}) {
        for (int i = 0; i < 4; ++i) zip[at + size_t(i)] = char((size >> (8 * i)) & 0xFF);
    }
}

}  // namespace

TEST_CASE("corrupt or hostile .keras archives are errors naming the archive and the entry", "[keras][errors][archive]") {
    const Entries good = zoo_archive_entries();
    REQUIRE(good.size() == 3);
    const std::string dir = make_temp_dir("keras-archive");
    int n = 0;
    auto archive = [&](const Entries& entries, bool deflate = false) {
        const std::string path = dir + "/m" + std::to_string(n++) + ".keras";
        write_zip(path, entries, deflate);
        return path;
    };
    auto expect = [](const std::string& path, ErrorCode code, const std::vector<std::string>& details) {
        const Error e = import_error(path);
        const std::string msg = e.what();
        CAPTURE(msg);
        CHECK(e.code() == code);
        CHECK(msg.rfind(path + ": ", 0) == 0);
        CHECK(msg.find('\n') == std::string::npos);
        for (const std::string& d : details) CHECK(msg.find(d) != std::string::npos);
    };
    auto without = [&](const std::string& name) {
        Entries e;
        for (const auto& entry : good) {
            if (entry.first != name) e.push_back(entry);
        }
        return e;
    };
    auto with = [&](const std::string& name, const std::string& bytes) {
        Entries e = without(name);
        e.emplace_back(name, bytes);
        return e;
    };

    // Rewritten by libzip, deflated, the real entries still convert: the reader is not tied to Keras's layout.
    CHECK_NOTHROW(importer::import_keras(archive(good, true), {}));

    std::string whole = file_text(archive(good));
    const std::string truncated = dir + "/truncated.keras";
    write_text_file(truncated, whole.substr(0, whole.size() / 2));
    expect(truncated, ErrorCode::ModelFormat, {"not a readable zip archive"});
    const std::string text = dir + "/text.keras";
    write_text_file(text, "{\"not\": \"a zip\"}");
    expect(text, ErrorCode::ModelFormat, {"not a readable zip archive"});

    expect(archive(without("model.weights.h5")), ErrorCode::ModelFormat, {"model.weights.h5: missing"});
    expect(archive(without("config.json")), ErrorCode::ModelFormat, {"config.json: missing"});
    expect(archive(with("model.weights.h5", "not HDF5")), ErrorCode::ModelFormat, {"model.weights.h5: not an HDF5 file"});
    expect(archive(with("config.json", "{")), ErrorCode::ModelFormat, {"config.json: not valid JSON"});
    expect(archive(with("metadata.json", R"({"keras_version": "2.15.0"})")), ErrorCode::Unsupported,
           {"metadata.json: written by Keras 2.15.0"});

    Entries climbing = good;
    climbing.emplace_back("assets/../../evil.txt", "x");
    expect(archive(climbing), ErrorCode::ModelFormat, {"assets/../../evil.txt", "outside"});

    // Two entries named config.json: written under another name of the same length, then renamed in place.
    Entries twice = good;
    twice.emplace_back("config.jsoX", good[1].second);
    std::string dup = file_text(archive(twice));
    for (size_t at = dup.find("config.jsoX"); at != std::string::npos; at = dup.find("config.jsoX", at)) dup[at + 10] = 'n';
    const std::string duplicate = dir + "/duplicate.keras";
    write_text_file(duplicate, dup);
    expect(duplicate, ErrorCode::ModelFormat, {"not a readable zip archive (File already exists)"});

    // Compression bombs: a first entry (metadata.json) whose header claims more than a JSON file may hold is
    // refused before anything is inflated; one whose data inflates past what its header claims is cut off there.
    Entries bomb = {{"metadata.json", good[0].second + std::string(size_t{1} << 20, ' ')}, good[1], good[2]};
    REQUIRE(good[0].first == "metadata.json");
    std::string big = file_text(archive(bomb, true));
    patch_first_size(big, uint32_t{1} << 30);
    const std::string declared = dir + "/declared.keras";
    write_text_file(declared, big);
    expect(declared, ErrorCode::Unsupported, {"metadata.json: declares 1073741824 bytes, the limit is 67108864"});
    patch_first_size(big, 100);
    const std::string lying = dir + "/lying.keras";
    write_text_file(lying, big);
    expect(lying, ErrorCode::ModelFormat, {"metadata.json: holds more than 100 bytes, its header says 100"});
    fs::remove_all(dir);
}
