// SPDX-License-Identifier: Apache-2.0
// mnet bench --json: a header, then one result per batch x threads configuration. No timing thresholds.
#include <catch2/catch.hpp>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "shared_models.h"
#include "test_profile_common.h"

using nlohmann::json;

namespace mnet::test {

TEST_CASE("bench --json: a header and one object per configuration", "[cli][bench]") {
    const CommandResult r =
        run_mnet("bench --json -n 3 --warmup 1 -b 1 2 -t 1 2 -m " + quoted(mobilenet_v2_manifest()));
    INFO(r.err);
    REQUIRE(r.status == 0);
    std::vector<json> lines;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    REQUIRE(lines.size() == 1 + 4);

    const json& header = lines[0];
    CHECK(header.at("type") == "header");
    for (const char* key : {"mnet_version", "onednn_version", "cpu_isa", "cpu_model", "model"}) {
        CAPTURE(key);
        CHECK_FALSE(header.at(key).get<std::string>().empty());
    }
    CHECK(header.at("threads") == json({1, 2}));
    CHECK(header.at("model") == "mobilenet_v2_1.0_224_quant");
    CHECK(header.at("model_macs") == 300'775'552);

    std::set<std::pair<int, int>> configs;
    for (size_t i = 1; i < lines.size(); ++i) {
        const json& c = lines[i];
        CAPTURE(c.dump());
        CHECK(c.at("type") == "result");
        const int batch = c.at("batch"), threads = c.at("threads");
        configs.insert({batch, threads});
        const json& lat = c.at("latency_ms");
        CHECK(lat.at("min").get<double>() > 0);
        CHECK(lat.at("min") <= lat.at("median"));
        CHECK(lat.at("median") <= lat.at("p90"));
        CHECK(lat.at("p90") <= lat.at("p99"));
        CHECK(lat.at("p99") <= lat.at("max"));
        CHECK(c.at("runs") == 3);
        CHECK(c.at("macs") == int64_t{300'775'552} * batch);
        CHECK(c.at("throughput_ips").get<double>() ==
              Approx(1000.0 * batch / lat.at("median").get<double>()).epsilon(1e-9));
        CHECK(c.at("gflops").get<double>() > 0);
        CHECK(c.at("peak_gflops").get<double>() > 0);
        CHECK(c.at("percent_of_peak").get<double>() > 0);
        CHECK(c.at("load_ms").get<double>() > 0);
        CHECK(c.at("first_inference_ms").get<double>() >= c.at("first_run_ms").get<double>());
        CHECK(c.at("peak_rss_bytes").get<int64_t>() > 0);
    }
    CHECK(configs == std::set<std::pair<int, int>>{{1, 1}, {1, 2}, {2, 1}, {2, 2}});
}

TEST_CASE("bench --precision: int8 by default on a quantized model, with the int8 peak next to the fp32 one",
          "[cli][bench][int8]") {
    for (const char* flag : {"", "--precision int8 ", "--precision fp32 "}) {
        const CommandResult r = run_mnet(std::string("bench --json -n 2 --warmup 0 -t 1 ") + flag + "-m " +
                                         quoted(mobilenet_v2_manifest()));
        CAPTURE(flag, r.err);
        REQUIRE(r.status == 0);
        std::istringstream in(r.out);
        std::vector<json> lines;
        for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
        REQUIRE(lines.size() == 2);
        const std::string expected = std::string(flag).find("fp32") != std::string::npos ? "fp32" : "int8";
        CHECK(lines[0].at("precision") == expected);
        const json& c = lines[1];
        CHECK(c.at("precision") == expected);
        CHECK(c.at("peak_fp32_gflops").get<double>() > 0);
        CHECK(c.at("peak_int8_gops").get<double>() > 0);
        // %peak is against the peak of the arithmetic that ran.
        const double peak = expected == "int8" ? c.at("peak_int8_gops").get<double>() : c.at("peak_fp32_gflops").get<double>();
        CHECK(c.at("peak_gflops").get<double>() == peak);
    }
}

TEST_CASE("bench --mode runs the batch the way asked and refuses other words", "[cli][bench]") {
    // Batch 2 on two threads: auto resolves to throughput, so each explicit mode differs from the default.
    for (const char* mode : {"auto", "latency", "throughput"}) {
        const CommandResult r = run_mnet(std::string("bench --json -n 1 --warmup 0 -b 2 -t 2 --mode ") + mode +
                                         " -m " + quoted(mobilenet_v2_manifest()));
        CAPTURE(mode, r.err);
        REQUIRE(r.status == 0);
        std::istringstream in(r.out);
        std::vector<json> lines;
        for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
        REQUIRE(lines.size() == 2);
        CHECK(lines[1].at("mode") == (std::string(mode) == "latency" ? "latency" : "throughput"));
    }
    const CommandResult bogus = run_mnet("bench --mode fastest -n 1");
    CHECK(bogus.status == 2);
    CHECK(bogus.err.find("fastest") != std::string::npos);
}

TEST_CASE("int8 on a float model is refused by bench, profile and classify, naming the way out", "[cli][bench][int8]") {
    for (const char* cmd : {"bench -n 1", "profile -n 1", "classify"}) {
        const CommandResult r = run_mnet(std::string(cmd) + " --precision int8 -m " + quoted(separable_example_manifest()) +
                                         (std::string(cmd) == "classify" ? " /nonexistent.jpg" : ""));
        CAPTURE(cmd, r.err);
        CHECK(r.status == 4);  // a model mnet cannot run this way
        CHECK(r.out.empty());
        CHECK(r.err.find("no quantization parameters") != std::string::npos);
        CHECK(r.err.find("mnet quantize") != std::string::npos);
    }
    const CommandResult bogus = run_mnet("bench --precision fp64 -n 1");
    CHECK(bogus.status == 2);
}

TEST_CASE("bench --json and profile --format json say how the thread count was chosen, and report it as it ran",
          "[cli][bench][profile][threads]") {
    std::string v3;
    for (const SharedModel& m : shared_tflite_models()) {
        if (m.name == "mobilenet_v3_small_1.0_224_uint8") v3 = converted_manifest(m);
    }
    REQUIRE_FALSE(v3.empty());
    // V3-small in int8 at batch 1 (56.5 M MACs) is in the band where -t 0 times both plans (engine.h).
    const CommandResult r = run_mnet("bench --json -n 3 --warmup 1 -t 0 1 2 -m " + mnet::test::quoted(v3));
    INFO(r.err);
    REQUIRE(r.status == 0);
    std::istringstream in(r.out);
    std::vector<json> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    REQUIRE(lines.size() == 1 + 3);
    const int budget = lines[0].at("cpus");
    for (size_t i = 1; i < lines.size(); ++i) {
        const json& c = lines[i];
        CAPTURE(c.dump());
        const json& choice = c.at("thread_choice");
        CHECK(choice.at("threads") == c.at("threads_used"));
        if (i > 1) {  // -t 1, -t 2: as asked
            CHECK(choice.at("basis") == "asked");
            CHECK(c.at("threads_used") == (i == 2 ? 1 : 2));
            CHECK_FALSE(choice.contains("one_thread_ms"));
            continue;
        }
        CHECK(c.at("threads") == budget);
        CHECK(choice.at("budget") == budget);
        if (budget < 2) {
            CHECK(choice.at("basis") == "budget");
            continue;
        }
        CHECK(choice.at("basis") == "measured");
        const double one = choice.at("one_thread_ms"), all = choice.at("budget_ms");
        CHECK(one > 0);
        CHECK(all > 0);
        CHECK(choice.at("rounds").get<int>() >= 3);
        // The count run is the one the reported medians favour (one thread only below 0.9x).
        CHECK(c.at("threads_used") == (one < 0.9 * all ? 1 : budget));
    }

    const CommandResult p = run_mnet("profile --format json -n 2 --warmup 0 -m " + mnet::test::quoted(v3));
    INFO(p.err);
    REQUIRE(p.status == 0);
    const json doc = json::parse(p.out);
    const json& choice = doc.at("thread_choice");
    CHECK(doc.at("threads") == choice.at("threads"));
    CHECK(choice.at("basis") == (budget < 2 ? "budget" : "measured"));
    CHECK(doc.at("threads_reason").get<std::string>().find(budget < 2 ? "" : "measured") != std::string::npos);
}

}  // namespace mnet::test
