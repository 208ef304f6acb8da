// SPDX-License-Identifier: Apache-2.0
// `mnet classify` as a user runs it, on every shared photo with every shared TFLite model, against reference.json.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "../e2e/shared_models.h"
#include "support/bf16_cpu.h"
#include "support/test_data.h"
#include "test_batch_support.h"

using namespace mnet::test;
using json = nlohmann::json;

TEST_CASE("mnet classify --json gives the reference top-5 labels, order and probabilities", "[cli][e2e]") {
    constexpr double kProbTolerance = 1e-4;
    for (const SharedModel& m : shared_tflite_models()) {
        std::ifstream in(shared_dir() + "/testdata/reference/" + m.name + "/reference.json");
        const json ref = json::parse(in);
        std::string args;
        for (const ReferenceImage& img : m.images) args += " " + quote(img.image_path);
        // Float parity: the quantized models would run in int8 by default (tests/e2e/test_int8.cpp covers that).
        const RunResult r = run_shell(mnet::test::mnet() + " classify --json --precision fp32 -k 5 -m " +
                                      quote(converted_manifest(m)) + args);
        CAPTURE(m.name, r.err);
        REQUIRE(r.status == 0);
        const auto lines = lines_of(r.out);
        REQUIRE(lines.size() == m.images.size());
        for (size_t i = 0; i < lines.size(); ++i) {
            const json got = json::parse(lines[i]);
            const json& want = ref.at("images").at(i).at("top5_float");
            CAPTURE(lines[i]);
            REQUIRE(got.at("file") == m.images[i].image_path);
            REQUIRE(got.at("precision") == "fp32");
            REQUIRE(got.at("predictions").size() == 5);
            for (size_t k = 0; k < 5; ++k) {
                const json& p = got["predictions"][k];
                // Ranks may swap only between classes whose reference probabilities are within the tolerance.
                CHECK(std::abs(p.at("probability").get<double>() - want[k].at("prob").get<double>()) <= kProbTolerance);
                if (p.at("index") != want[k].at("index")) continue;
                CHECK(p.at("label") == want[k].at("label"));
            }
        }
    }
}

// --precision bf16 through the command line: the shared photos' reference top-1 where the CPU runs bf16
// (support/bf16_cpu.h); elsewhere, and always with oneDNN capped below AVX512_BF16, exit status 4 (Unsupported)
// with one line naming the CPU's lack.
TEST_CASE("mnet classify --precision bf16 gives the reference top-1, or refuses with status 4 on a CPU without it",
          "[cli][e2e][bf16]") {
    const SharedModel m = shared_tflite_models().front();
    std::ifstream in(shared_dir() + "/testdata/reference/" + m.name + "/reference.json");
    const json ref = json::parse(in);
    std::string args;
    for (const ReferenceImage& img : m.images) args += " " + quote(img.image_path);
    const std::string command =
        mnet::test::mnet() + " classify --json --precision bf16 -k 1 -m " + quote(converted_manifest(m)) + args;
    auto check_refused = [](const RunResult& r, const std::string& reason) {
        CAPTURE(r.out, r.err);
        CHECK(r.status == 4);
        CHECK(r.out.empty());
        CHECK(lines_of(r.err).size() == 1);
        CHECK(r.err.rfind("mnet: error: bf16 precision: " + reason, 0) == 0);
        CHECK(r.err.find("bf16 needs AVX512_BF16 or AMX") != std::string::npos);
    };
    check_refused(run_shell("ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI " + command),
                  "oneDNN is capped below bf16 here (ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI, instruction set ");
    const RunResult r = run_shell(command);
    if (!expect_bf16()) {  // a cap in the test's own environment, or a CPU without bf16
        check_refused(r, "");
        return;
    }
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    const auto lines = lines_of(r.out);
    REQUIRE(lines.size() == m.images.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        CAPTURE(lines[i]);
        const json got = json::parse(lines[i]);
        CHECK(got.at("precision") == "bf16");
        CHECK(got.at("predictions").at(0).at("index") == ref.at("images").at(i).at("top5_float").at(0).at("index"));
    }
}
