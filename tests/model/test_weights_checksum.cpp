// SPDX-License-Identifier: Apache-2.0
// The weights checksum (FORMAT.md "Manifest"): CRC-32C against published check values and a bit-at-a-time loop,
// and format version 1 (FNV-1a 64) still read, from a model written here byte by byte without ModelWriter.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "corrupt_support.h"
#include "mnet/engine.h"
#include "model/weight_file.h"

using namespace mnet;
using namespace mnet::test;

namespace {

// CRC-32C one bit at a time, straight from its definition: reflected polynomial 0x82F63B78, register preset to
// all ones, complemented at the end.
uint32_t naive_crc32c(const uint8_t* p, size_t n) {
    uint32_t r = 0xffffffffu;
    for (size_t i = 0; i < n; ++i) {
        r ^= p[i];
        for (int bit = 0; bit < 8; ++bit) r = (r & 1) ? (r >> 1) ^ 0x82f63b78u : r >> 1;
    }
    return ~r;
}

// FNV-1a 64 from its definition (offset basis 14695981039346656037, prime 2^40 + 2^8 + 0xb3).
uint64_t naive_fnv1a64(const std::vector<uint8_t>& bytes) {
    uint64_t h = 14695981039346656037ULL;
    for (uint8_t b : bytes) h = (h ^ b) * 1099511628211ULL;
    return h;
}

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

void put_u32(std::vector<uint8_t>& out, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[at + size_t(i)] = uint8_t(v >> (8 * i));  // little-endian, as FORMAT.md says
}

void put_f32s(std::vector<uint8_t>& out, size_t at, const std::vector<float>& values) {
    for (size_t i = 0; i < values.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &values[i], 4);
        put_u32(out, at + 4 * i, bits);
    }
}

// A format version 1 model as the version 1 spec lays it out, written without any mnet code: input [1, 3, 1, 1],
// fully_connected to 3 logits (weights [3, 3] at offset 64, bias [3] at offset 128), FNV-1a 64 over the file.
const std::vector<float> kW = {1.f, -2.f, 0.5f, 4.f, -1.f, 3.f, 0.f, 2.f, -8.f}, kB = {0.25f, -0.5f, 1.f};

ModelFiles version1_model() {
    ModelFiles m;
    m.weights.assign(140, 0);
    std::memcpy(m.weights.data(), "MNETWGT1", 8);
    put_u32(m.weights, 8, 1);            // weights file version
    put_u32(m.weights, 12, 0x01020304);  // byte-order mark
    put_f32s(m.weights, 64, kW);
    put_f32s(m.weights, 128, kB);
    char sum[17];
    std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(naive_fnv1a64(m.weights)));
    m.manifest = R"({"format": "mnet-model", "format_version": 1, "name": "v1",
      "weights": {"file": "v1.bin", "size": 140, "fnv1a64": ")" + std::string(sum) + R"("},
      "alignment": 64,
      "input": {"name": "x", "shape": [1, 3, 1, 1], "dtype": "f32", "layout": "nchw"},
      "preprocess": {"height": 1, "width": 1, "crop": 1, "color": "rgb", "mean": [0, 0, 0], "std": [1, 1, 1]},
      "outputs": [{"name": "y", "kind": "logits"}],
      "tensors": [{"name": "w", "dtype": "f32", "shape": [3, 3], "offset": 64, "nbytes": 36},
                  {"name": "b", "dtype": "f32", "shape": [3], "offset": 128, "nbytes": 12}],
      "nodes": [{"name": "fc", "op": "fully_connected", "inputs": ["x"], "output": "y",
                 "weights": {"weights": "w", "bias": "b"}}]})";
    return m;
}

}  // namespace

TEST_CASE("crc32c: published check values and a bit-at-a-time loop", "[model][checksum]") {
    // The CRC catalogue's check value, and RFC 3720 (iSCSI) appendix B.4.
    std::vector<uint8_t> ascending(32), descending(32);
    for (int i = 0; i < 32; ++i) ascending[size_t(i)] = uint8_t(i), descending[size_t(i)] = uint8_t(31 - i);
    const struct {
        std::vector<uint8_t> bytes;
        uint32_t crc;
    } vectors[] = {{bytes_of("123456789"), 0xe3069283u}, {std::vector<uint8_t>(32, 0), 0x8a9136aau},
                   {std::vector<uint8_t>(32, 0xff), 0x62a8ab43u}, {ascending, 0x46dd794eu},
                   {descending, 0x113fdb5cu}, {{}, 0u}};
    for (const auto& v : vectors) {
        CAPTURE(v.bytes.size());
        CHECK(naive_crc32c(v.bytes.data(), v.bytes.size()) == v.crc);  // the oracle itself
        CHECK(crc32c(v.bytes.data(), v.bytes.size()) == v.crc);
        CHECK(crc32c_portable(v.bytes.data(), v.bytes.size()) == v.crc);
    }
    // Lengths around the 8-byte words and the three interleaved 4 KiB streams, at every misalignment.
    std::mt19937 rng(32);
    std::vector<uint8_t> buf(3 * 4096 * 3 + 64);
    for (uint8_t& b : buf) b = uint8_t(rng());
    for (const size_t n : {size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{4095}, size_t{12287}, size_t{12288},
                           size_t{12289}, size_t{24576 + 13}, size_t{3 * 4096 * 3}}) {
        for (size_t offset = 0; offset < 8; ++offset) {
            CAPTURE(n, offset);
            const uint32_t want = naive_crc32c(buf.data() + offset, n);
            REQUIRE(crc32c(buf.data() + offset, n) == want);
            REQUIRE(crc32c_portable(buf.data() + offset, n) == want);
        }
    }
}

TEST_CASE("models are written as format version 2 with the CRC-32C of their weights", "[model][checksum]") {
    const ModelFiles small = small_model();
    const json j = parse(small);
    CHECK(j["format_version"] == 2);
    char want[9];
    std::snprintf(want, sizeof want, "%08x", naive_crc32c(small.weights.data(), small.weights.size()));
    CHECK(j["weights"]["crc32c"] == want);
    CHECK_FALSE(j["weights"].contains("fnv1a64"));
    require_runs(load_outcome(small).model);
}

TEST_CASE("format version 1 (FNV-1a 64) is still read", "[model][checksum]") {
    const ModelFiles v1 = version1_model();
    const Outcome o = load_outcome(v1);
    INFO(o.message);
    REQUIRE(o.loaded);
    SessionOptions options;
    options.threads = 1;
    Session session(o.model, options);
    Tensor x(Shape{1, 3, 1, 1});
    x.data = {2.f, -1.f, 0.5f};
    session.run(x);
    const Tensor& y = session.output();
    REQUIRE(y.data.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(y.data[i] == kW[3 * i] * 2.f - kW[3 * i + 1] + kW[3 * i + 2] * 0.5f + kB[i]);

    // Still checked: a flipped bit, a wrong stated sum, and the other version's key.
    ModelFiles flipped = v1;
    flipped.weights[100] ^= 0x10;
    require_rejected(flipped, ErrorCode::ModelFormat, "checksum mismatch (fnv1a64 ");
    json j = parse(v1);
    std::string sum = j["weights"]["fnv1a64"];
    sum.back() = sum.back() == '0' ? '1' : '0';
    j["weights"]["fnv1a64"] = sum;
    require_rejected(j, v1.weights, ErrorCode::ModelFormat, "the manifest says " + sum);
    j = parse(v1);
    j["weights"]["fnv1a64"] = std::string(j["weights"]["fnv1a64"]).substr(8);
    require_rejected(j, v1.weights, ErrorCode::ModelFormat, "weights.fnv1a64: must be 16 lowercase hex digits");
    j = parse(v1);
    j["weights"]["crc32c"] = "e3069283";
    require_rejected(j, v1.weights, ErrorCode::ModelFormat, "weights: unknown key 'crc32c'");
    j = parse(v1);
    j["format_version"] = 2;  // version 2 has no fnv1a64
    require_rejected(j, v1.weights, ErrorCode::ModelFormat, "weights: unknown key 'fnv1a64'");
}
