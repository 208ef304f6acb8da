// SPDX-License-Identifier: Apache-2.0
// The conversion cache's key hash against FIPS 180-2's test vectors and the system's sha256sum.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "cli/sha256.h"
#include "support/test_data.h"

namespace mnet::test {

namespace {

std::string sha256_of(const std::string& text, size_t chunk = 7) {
    cli::Sha256 h;
    for (size_t i = 0; i < text.size(); i += chunk) h.update(text.data() + i, std::min(chunk, text.size() - i));
    return h.hex();
}

}  // namespace

TEST_CASE("Sha256 matches the FIPS 180-2 vectors, fed in any chunk size", "[cli][sha256]") {
    CHECK(sha256_of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_of("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (size_t chunk : {1, 7, 56, 64, 1000}) {
        CHECK(sha256_of(two_blocks, chunk) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    CHECK(sha256_of(std::string(1000000, 'a'), 4096) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("Sha256 of a model file equals sha256sum's", "[cli][sha256]") {
    const std::string file = shared_dir() + "/models/mobilenet_v1_0.75_192_quant/mobilenet_v1_0.75_192_quant.tflite";
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    REQUIRE(!bytes.empty());
    FILE* p = popen(("sha256sum '" + file + "'").c_str(), "r");
    REQUIRE(p != nullptr);
    char out[65] = {};
    REQUIRE(std::fread(out, 1, 64, p) == 64);
    pclose(p);
    CHECK(sha256_of(bytes, 65536) == std::string(out));
}

}  // namespace mnet::test
