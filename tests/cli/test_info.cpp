// SPDX-License-Identifier: Apache-2.0
// mnet info: MACs of a real model against the published figure, and the depthwise-separable arithmetic of
// MobileNets (Howard et al. 2017, section 3.1) on the smallest block, computed here by hand.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "test_profile_common.h"

using nlohmann::json;

namespace mnet::test {

TEST_CASE("info --json: MobileNetV2 1.0/224 has 300.78 M MACs and 17 separable blocks", "[cli][info]") {
    const CommandResult r = run_mnet("info --json -m " + quoted(mobilenet_v2_manifest()));
    INFO(r.err);
    REQUIRE(r.status == 0);
    const json doc = json::parse(r.out);
    // The reference figure (README): 300.78 M, the TFLite V2 counting its 1x1 classifier conv.
    constexpr double kReferenceMacs = 300'775'552;
    const auto macs = doc.at("totals").at("macs").get<double>();
    CHECK(std::abs(macs - kReferenceMacs) <= 0.001 * kReferenceMacs);
    CHECK(doc.at("input").at("shape") == json({1, 3, 224, 224}));
    CHECK(doc.at("labels") == 1001);
    CHECK(doc.at("preprocess").at("crop").get<double>() == Approx(0.875));

    int64_t layer_macs = 0, layer_params = 0;
    for (const json& l : doc.at("layers")) {
        layer_macs += l.at("macs").get<int64_t>();
        layer_params += l.at("params").get<int64_t>();
        CHECK_FALSE(l.at("output").get<std::string>().empty());
    }
    CHECK(layer_macs == doc.at("totals").at("macs").get<int64_t>());
    CHECK(layer_params == doc.at("totals").at("params").get<int64_t>());

    // 17 inverted residual blocks, each ending depthwise 3x3 -> project 1x1.
    const json& blocks = doc.at("separable_blocks");
    REQUIRE(blocks.size() == 17);
    for (const json& b : blocks) {
        CAPTURE(b.dump());
        const auto cin = b.at("in_channels").get<int64_t>(), cout = b.at("out_channels").get<int64_t>();
        const int64_t k2 = b.at("kernel")[0].get<int64_t>() * b.at("kernel")[1].get<int64_t>();
        const int64_t d2 = b.at("output_hw")[0].get<int64_t>() * b.at("output_hw")[1].get<int64_t>();
        CHECK(k2 == 9);
        CHECK(b.at("standard_macs") == cin * cout * k2 * d2);
        CHECK(b.at("separable_macs") == cin * k2 * d2 + cin * cout * d2);
        CHECK(b.at("ratio").get<double>() == Approx(1.0 / static_cast<double>(cout) + 1.0 / 9.0));
        CHECK(b.at("formula").get<double>() == Approx(1.0 / static_cast<double>(cout) + 1.0 / 9.0));
    }
    // The first block: 32 channels at 112x112 projected to 16.
    CHECK(blocks[0].at("in_channels") == 32);
    CHECK(blocks[0].at("out_channels") == 16);
    CHECK(blocks[0].at("output_hw") == json({112, 112}));
}

TEST_CASE("info on the example block: standard 442,368 MACs against 27,648 + 49,152", "[cli][info]") {
    const std::string manifest = separable_example_manifest();
    const CommandResult r = run_mnet("info --json -m " + quoted(manifest));
    INFO(r.err);
    REQUIRE(r.status == 0);
    const json doc = json::parse(r.out);
    // Cin = 3, Cout = 16, K = 3, D = 32 (pad 1 keeps the size):
    //   standard  = 3 * 16 * 9 * 1024 = 442,368
    //   depthwise = 3 * 9 * 1024      =  27,648
    //   pointwise = 3 * 16 * 1024     =  49,152
    REQUIRE(doc.at("separable_blocks").size() == 1);
    const json& b = doc.at("separable_blocks")[0];
    CHECK(b.at("depthwise") == "dw");
    CHECK(b.at("pointwise") == "pw");
    CHECK(b.at("standard_macs") == 442'368);
    CHECK(b.at("depthwise_macs") == 27'648);
    CHECK(b.at("pointwise_macs") == 49'152);
    CHECK(b.at("separable_macs") == 76'800);
    CHECK(b.at("ratio").get<double>() == Approx(76'800.0 / 442'368.0));
    CHECK(b.at("ratio").get<double>() == Approx(1.0 / 16 + 1.0 / 9));
    CHECK(b.at("formula").get<double>() == Approx(1.0 / 16 + 1.0 / 9));
    // The layers' own MACs (the loader's count) agree with the block's parts.
    CHECK(doc.at("totals").at("macs") == 27'648 + 49'152);
    CHECK(doc.at("layers")[0].at("output") == "dw_out");

    const CommandResult table = run_mnet("info -m " + quoted(manifest));
    INFO(table.err);
    REQUIRE(table.status == 0);
    for (const char* text : {"442,368", "27,648", "49,152", "76,800", "0.1736", "separable_example", "1x16x32x32"}) {
        CAPTURE(text);
        CHECK(table.out.find(text) != std::string::npos);
    }
    CHECK(table.err.empty());
}

TEST_CASE("info reports a missing model with the I/O status", "[cli][info]") {
    const CommandResult r = run_mnet("info -m /nonexistent/model.json");
    CHECK(r.status == 3);
    CHECK(r.out.empty());
    CHECK(r.err.find("/nonexistent/model.json") != std::string::npos);
}

}  // namespace mnet::test
