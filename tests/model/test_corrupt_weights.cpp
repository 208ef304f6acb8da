// SPDX-License-Identifier: Apache-2.0
// Corrupt weights files: truncation, header, size and checksum, and where the manifest may point for them.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <filesystem>
#include <future>
#include <thread>

#include "model/corrupt_support.h"
#include "model/writer.h"
#include "model/weight_file.h"
#include "support/test_data.h"

using namespace mnet;
using namespace mnet::test;

namespace fs = std::filesystem;

namespace {

// Cut points: the empty file, every field of the 64-byte header, and the first byte, middle and last byte of
// every `stride`-th tensor.
std::vector<size_t> cut_points(const ModelFiles& m, size_t stride) {
    std::vector<size_t> cuts = {0, 1, 4, 7, 8, 9, 11, 12, 15, 16, 32, 63, 64, 65};
    const json tensors = parse(m)["tensors"];
    for (size_t i = 0; i < tensors.size(); i += stride) {
        const auto offset = tensors[i]["offset"].get<size_t>();
        const auto nbytes = tensors[i]["nbytes"].get<size_t>();
        for (size_t c : {offset, offset + 1, offset + nbytes / 2, offset + nbytes - 1}) cuts.push_back(c);
    }
    cuts.push_back(m.weights.size() / 2);
    cuts.push_back(m.weights.size() - 1);
    return cuts;
}

ModelFiles truncated(const ModelFiles& m, size_t size) {
    return ModelFiles{m.manifest, std::vector<uint8_t>(m.weights.begin(), m.weights.begin() + static_cast<long>(size))};
}

void set_u32(std::vector<uint8_t>& bytes, size_t at, uint32_t value) { std::memcpy(bytes.data() + at, &value, 4); }

// A model folder on disk: `dir`/model.json naming `weights_file`, and the real weights at `weights_at` (if set).
std::string write_model(const std::string& dir, const ModelFiles& m, const std::string& weights_file,
                        const std::string& weights_at = "") {
    fs::create_directories(dir);
    json j = parse(m);
    j["weights"]["file"] = weights_file;
    write_text_file(dir + "/model.json", j.dump(1));
    if (!weights_at.empty()) {
        fs::create_directories(fs::path(weights_at).parent_path());
        write_file_bytes(weights_at, m.weights);
    }
    return dir + "/model.json";
}

}  // namespace

TEST_CASE("the unmodified models load and run", "[model][corrupt]") {
    const Outcome real = load_outcome_from_file(real_manifest_path());
    REQUIRE(real.loaded);
    require_runs(real.model);
    const Outcome real_mem = load_outcome(real_model());
    REQUIRE(real_mem.loaded);
    CHECK(real_mem.model->outputs()[0].shape == Shape{1, 1001});
    const Outcome small = load_outcome(small_model());
    REQUIRE(small.loaded);
    CHECK(small.model->layers().size() == 13);
    CHECK(small.model->outputs()[0].shape == Shape{1, 5});
    require_runs(small.model);
}

TEST_CASE("truncated weights are refused at every cut point", "[model][corrupt]") {
    const ModelFiles small = small_model();
    for (const ModelFiles* m : {&real_model(), &small}) {
        // The manifest still states the full size: the size check catches every cut before anything is read.
        for (size_t cut : cut_points(*m, 2)) {
            CAPTURE(m->weights.size(), cut);
            require_rejected(truncated(*m, cut), ErrorCode::ModelFormat,
                             "size is " + std::to_string(cut) + " bytes, the manifest says " +
                                 std::to_string(m->weights.size()));
        }
        // A manifest edited to match the cut file: the header and tensor bounds checks must catch it.
        for (size_t cut : cut_points(*m, 5)) {
            CAPTURE(m->weights.size(), cut);
            require_rejected(refresh_checksum(truncated(*m, cut)), ErrorCode::ModelFormat,
                             cut < 64 ? "shorter than its 64-byte header" : "lie outside the weights data");
        }
    }
}

TEST_CASE("weights files with extra bytes are refused", "[model][corrupt]") {
    ModelFiles m = small_model();
    m.weights.push_back(0);
    require_rejected(m, ErrorCode::ModelFormat, "the manifest says " + std::to_string(m.weights.size() - 1));
    m.weights.resize(m.weights.size() + 4095, 0);
    require_rejected(m, ErrorCode::ModelFormat, "truncated or wrong file?");
}

TEST_CASE("weights header fields are checked", "[model][corrupt]") {
    for (const ModelFiles* base : {&real_model()}) {
        for (size_t i = 0; i < 8; ++i) {
            CAPTURE(i);
            ModelFiles m = *base;
            m.weights[i] ^= 0x20;
            require_rejected(refresh_checksum(m), ErrorCode::ModelFormat, "bad magic");
        }
        for (uint32_t version : {0u, 2u, 99u, 0x01000000u, 0xffffffffu}) {
            CAPTURE(version);
            ModelFiles m = *base;
            set_u32(m.weights, 8, version);
            require_rejected(refresh_checksum(m), ErrorCode::Unsupported,
                             "weights version " + std::to_string(version) + ", this mnet reads version 1");
        }
        for (uint32_t bom : {0x04030201u, 0u, 0xffffffffu}) {
            CAPTURE(bom);
            ModelFiles m = *base;
            set_u32(m.weights, 12, bom);
            require_rejected(refresh_checksum(m), ErrorCode::Unsupported, "byte-order mark");
        }
        for (size_t i : {16, 40, 63}) {
            CAPTURE(i);
            ModelFiles m = *base;
            m.weights[i] = 1;
            require_rejected(refresh_checksum(m), ErrorCode::ModelFormat,
                             "header byte " + std::to_string(i) + " is not zero (bytes 16-63 are reserved)");
        }
        // The header is checked before the checksum: the message says what is wrong, not just "checksum".
        ModelFiles m = *base;
        std::memcpy(m.weights.data(), "GGUF\0\0\0\0", 8);
        require_rejected(m, ErrorCode::ModelFormat, "bad magic 'GGUF\?\?\?\?', expected 'MNETWGT1'");
    }
}

TEST_CASE("a bad checksum is refused", "[model][corrupt]") {
    const ModelFiles& real = real_model();
    // One flipped bit in the last tensor, one in the middle of the file, one in the first byte after the header.
    for (size_t at : {real.weights.size() - 1, real.weights.size() / 2, size_t{64}}) {
        CAPTURE(at);
        ModelFiles m = real;
        m.weights[at] ^= 0x01;
        require_rejected(m, ErrorCode::ModelFormat, "checksum mismatch");
    }
    json j = parse(real);
    std::string sum = j["weights"]["crc32c"];
    sum.back() = sum.back() == '0' ? '1' : '0';
    j["weights"]["crc32c"] = sum;
    require_rejected(j, real.weights, ErrorCode::ModelFormat, "the manifest says " + sum);

    const ModelFiles small = small_model();
    const std::string good = parse(small)["weights"]["crc32c"];
    std::string upper = good;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    for (const json& bad : {json(upper.find_first_of("ABCDEF") == std::string::npos ? "ABCDEF01" : upper),
                            json(good.substr(1)), json(good + "0"), json("0x" + good.substr(2)), json(""),
                            json("g" + good.substr(1)), json(" " + good.substr(1)), json("00000000" + good)}) {
        CAPTURE(bad);
        json k = parse(small);
        k["weights"]["crc32c"] = bad;
        require_rejected(k, small.weights, ErrorCode::ModelFormat, "weights.crc32c: must be 8 lowercase hex digits");
    }
    for (const json& bad : {json(nullptr), json(12345), json::array(), json::object(), json(true)}) {
        CAPTURE(bad);
        json k = parse(small);
        k["weights"]["crc32c"] = bad;
        require_rejected(k, small.weights, ErrorCode::ModelFormat, "weights.crc32c: must be a string");
    }
}

TEST_CASE("weights.file must be a plain name inside the manifest's folder", "[model][corrupt]") {
    const ModelFiles& real = real_model();
    const std::string root = make_temp_dir("corrupt-paths");
    const std::string dir = root + "/model";
    // A perfectly good weights file outside the folder: refusals below are about where it is, not what it holds.
    const std::string outside = root + "/outside/x.bin";
    write_model(dir, real, "model.bin", outside);
    for (const std::string& name : {std::string("../x"), std::string("../outside/x.bin"), outside,
                                    std::string("/etc/passwd"), std::string("a/b"), std::string("./model.bin"),
                                    std::string(".."), std::string("."), std::string(""), std::string("a\\b"),
                                    std::string("model.bin") + '\0' + "x"}) {
        CAPTURE(name);
        require_rejected(load_outcome_from_file(write_model(dir, real, name)), ErrorCode::ModelFormat,
                         "must be a plain file name in the manifest's folder", dir + "/model.json");
    }
    // Symlinks that lead out of the folder, directly or through a second link inside it.
    fs::create_symlink(outside, dir + "/escape.bin");
    fs::create_symlink("/etc/passwd", dir + "/passwd.bin");
    fs::create_symlink("escape.bin", dir + "/chain.bin");
    fs::create_symlink("..", dir + "/up");
    for (const char* name : {"escape.bin", "passwd.bin", "chain.bin", "up"}) {
        CAPTURE(name);
        require_rejected(load_outcome_from_file(write_model(dir, real, name)), ErrorCode::ModelFormat,
                         "resolves outside the manifest's folder", dir + "/model.json");
    }
    // Symlinks that stay inside are fine, and so is reaching the folder itself through a symlink.
    write_file_bytes(dir + "/model.bin", real.weights);
    fs::create_symlink("model.bin", dir + "/alias.bin");
    const Outcome inside = load_outcome_from_file(write_model(dir, real, "alias.bin"));
    CHECK(inside.loaded);
    fs::create_directory_symlink(dir, root + "/model-link");
    CHECK(load_outcome_from_file(root + "/model-link/model.json").loaded);
    fs::remove_all(root);  // three copies of the real weights
}

TEST_CASE("missing, special and oversized files are refused", "[model][corrupt]") {
    const ModelFiles small = small_model();
    const std::string dir = make_temp_dir("corrupt-missing");
    require_rejected(load_outcome_from_file(write_model(dir, small, "absent.bin")), ErrorCode::Io, "No such file",
                     dir + "/absent.bin");
    fs::create_symlink("nowhere.bin", dir + "/dangling.bin");
    require_rejected(load_outcome_from_file(write_model(dir, small, "dangling.bin")), ErrorCode::Io, "dangling",
                     "dangling.bin");
    fs::create_directory(dir + "/folder.bin");
    require_rejected(load_outcome_from_file(write_model(dir, small, "folder.bin")), ErrorCode::Io,
                     "not a regular file", "folder.bin");
    // The manifest itself: missing, a folder, a device, a FIFO, or far too large to be one.
    require_rejected(load_outcome_from_file(dir + "/no-such.json"), ErrorCode::Io, "No such file", "no-such.json");
    require_rejected(load_outcome_from_file(dir + "/folder.bin"), ErrorCode::Io, "not a regular file", "folder.bin");
    require_rejected(load_outcome_from_file("/dev/zero"), ErrorCode::Io, "not a regular file", "/dev/zero");
    REQUIRE(::mkfifo((dir + "/pipe.json").c_str(), 0600) == 0);
    require_rejected(load_outcome_from_file(dir + "/pipe.json"), ErrorCode::Io, "not a regular file", "pipe.json");
    write_text_file(dir + "/huge.json", "{}");
    fs::resize_file(dir + "/huge.json", (64u << 20) + 1);  // sparse: costs no disk
    require_rejected(load_outcome_from_file(dir + "/huge.json"), ErrorCode::ModelFormat, "too large",
                     "huge.json");
    fs::remove_all(dir);
}

TEST_CASE("a FIFO as the weights file is refused without blocking", "[model][corrupt]") {
    const ModelFiles small = small_model();
    const std::string dir = make_temp_dir("corrupt-fifo");
    const std::string fifo = dir + "/pipe.bin";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const std::string manifest = write_model(dir, small, "pipe.bin");
    std::promise<Outcome> done;
    std::future<Outcome> result = done.get_future();
    std::thread([manifest, p = std::move(done)]() mutable { p.set_value(load_outcome_from_file(manifest)); }).detach();
    if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        // Unblock the loader (it waits in open() for a writer) so the process can finish, then fail.
        int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
        if (fd >= 0) ::close(fd);
        result.wait();
        FAIL("Model::load blocked on a FIFO named as the weights file");
    }
    require_rejected(result.get(), ErrorCode::Io, "not a regular file", "pipe.bin");
    fs::remove_all(dir);
}

TEST_CASE("truncated weights on disk are refused by Model::load", "[model][corrupt]") {
    const ModelFiles& real = real_model();
    const std::string dir = make_temp_dir("corrupt-truncated");
    const std::string manifest = write_model(dir, real, "model.bin");
    const size_t first_tensor = parse(real)["tensors"][0]["offset"];
    for (size_t cut : {size_t{0}, size_t{10}, size_t{64}, first_tensor + 7, real.weights.size() / 2,
                       real.weights.size() - 1}) {
        CAPTURE(cut);
        write_file_bytes(dir + "/model.bin", truncated(real, cut).weights);
        require_rejected(load_outcome_from_file(manifest), ErrorCode::ModelFormat,
                         "size is " + std::to_string(cut) + " bytes", "/model.bin");
    }
    fs::remove_all(dir);
}

TEST_CASE("a NaN or infinity in any f32 weight or bias is refused at load, naming the tensor", "[model][corrupt]") {
    const ModelFiles small = small_model();
    const json manifest = parse(small);
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()}) {
        // The first tensor (the first convolution's weights) and the last (the classifier's bias).
        for (const size_t t : {size_t{0}, manifest["tensors"].size() - 1}) {
            const json& tensor = manifest["tensors"][t];
            if (tensor["dtype"] != "f32") continue;
            ModelFiles m = small;
            const size_t at = tensor["offset"].get<size_t>() + sizeof(float);  // element 1
            std::memcpy(m.weights.data() + at, &bad, sizeof bad);
            INFO(tensor["name"] << " <- " << bad);
            require_rejected(refresh_checksum(m), ErrorCode::ModelFormat,
                             "tensor '" + tensor["name"].get<std::string>() + "': element 1 is " +
                                 (std::isnan(bad) ? "NaN" : "infinite"));
        }
    }
}

TEST_CASE("the finite-weights check names the first non-finite element, past its 1024-value blocks too",
          "[model][corrupt]") {
    // Bit patterns on both sides of the line: the largest finite values and subnormals pass, every pattern with
    // all exponent bits set (infinities, quiet and signalling NaNs of either sign) does not.
    const uint32_t finite[] = {0x7f7fffffu, 0xff7fffffu, 0x00000001u, 0x80000000u, 0x7f000000u};
    const uint32_t non_finite[] = {0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xffffffffu};
    for (const uint32_t bad : non_finite) {
        for (const size_t at : {size_t{0}, size_t{1023}, size_t{1024}, size_t{2500}, size_t{2999}}) {
            std::vector<uint32_t> values(3000);
            for (size_t i = 0; i < values.size(); ++i) values[i] = finite[i % 5];
            values[at] = bad;
            if (at + 7 < values.size()) values[at + 7] = 0x7f800000u;  // a later one is not the one reported
            float v;
            std::memcpy(&v, &bad, sizeof v);
            CAPTURE(bad, at);
            try {
                check_finite_f32(reinterpret_cast<const uint8_t*>(values.data()), values.size() * 4, "t", "");
                FAIL("accepted");
            } catch (const Error& e) {
                CHECK(std::string(e.what()) == "tensor 't': element " + std::to_string(at) + " is " +
                                                   (std::isnan(v) ? "NaN" : "infinite") + "; weights must be finite");
            }
        }
    }
    std::vector<uint32_t> ok(2049);
    for (size_t i = 0; i < ok.size(); ++i) ok[i] = finite[i % 5];
    CHECK_NOTHROW(check_finite_f32(reinterpret_cast<const uint8_t*>(ok.data()), ok.size() * 4, "t", ""));
}

TEST_CASE("ModelWriter (every importer) refuses a NaN or infinite f32 tensor", "[model][corrupt]") {
    ModelDef def;
    ModelWriter writer(def);
    CHECK_NOTHROW(writer.add_f32("fine", {2}, {1.0f, -2.0f}));
    try {
        writer.add_f32("w", {3}, {0.0f, 1.0f, std::numeric_limits<float>::quiet_NaN()});
        FAIL("a NaN tensor was accepted");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::ModelFormat);
        CHECK(std::string(e.what()) == "tensor 'w': element 2 is NaN; weights must be finite");
    }
    CHECK_THROWS_AS(writer.add_f32("i", {1}, {std::numeric_limits<float>::infinity()}), Error);
}
