// SPDX-License-Identifier: Apache-2.0
// mnet profile on the shared MobileNetV2: every output format parses and describes the same steps. No timing
// thresholds: only that times are ordered and positive, and that MACs add up to the model's.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/stats.h"
#include "support/test_data.h"
#include "test_profile_common.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mnet::test {

namespace {

constexpr int64_t kMobileNetV2Macs = 300'775'552;  // README: 300.78 M, including the 1x1 classifier conv

json profile_json(const std::string& extra) {
    const CommandResult r = run_mnet("profile -m " + quoted(mobilenet_v2_manifest()) + " -t 1 --format json " + extra);
    INFO(r.err);
    REQUIRE(r.status == 0);
    return json::parse(r.out);
}

}  // namespace

TEST_CASE("summarize: percentiles interpolate between ranks as numpy.percentile does", "[cli][unit]") {
    // numpy.percentile(range(1, 11), [50, 90, 99]) == [5.5, 9.1, 9.91]
    const cli::Summary s = cli::summarize({10, 3, 1, 2, 4, 5, 6, 7, 8, 9});
    CHECK(s.count == 10);
    CHECK(s.min == 1);
    CHECK(s.max == 10);
    CHECK(s.mean == Approx(5.5));
    CHECK(s.median == Approx(5.5));
    CHECK(s.p90 == Approx(9.1));
    CHECK(s.p99 == Approx(9.91));
    const cli::Summary one = cli::summarize({2.5});
    CHECK(one.median == 2.5);
    CHECK(one.p99 == 2.5);
    CHECK(cli::summarize({}).count == 0);
}

TEST_CASE("profile --format json has one sane entry per step", "[cli][profile]") {
    const json doc = profile_json("-n 3 --warmup 1");
    const json& layers = doc.at("layers");
    // 66 nodes, fewer where an add or activation is fused, plus reorders; int8 fuses no convolution into another,
    // so at least one step per convolution (53).
    REQUIRE(layers.size() >= 53);
    CHECK(doc.at("totals").at("layer_count") == layers.size());
    CHECK(doc.at("runs") == 3);
    CHECK(doc.at("batch") == 1);
    CHECK(doc.at("threads") == 1);
    CHECK(doc.at("precision") == "int8");  // the default for a quantized model

    int64_t macs = 0;
    double share = 0;
    int reorders = 0;
    for (const json& l : layers) {
        CAPTURE(l.dump());
        CHECK_FALSE(l.at("name").get<std::string>().empty());
        CHECK_FALSE(l.at("op").get<std::string>().empty());
        CHECK_FALSE(l.at("impl").get<std::string>().empty());
        const std::string type = l.at("type");
        CHECK((type == "f32" || type == "u8" || type == "s8"));
        CHECK(l.at("shape").size() >= 2);
        CHECK(l.at("shape")[0] == 1);
        const double min = l.at("min_ms"), median = l.at("median_ms"), p90 = l.at("p90_ms"), max = l.at("max_ms");
        CHECK(min >= 0);
        CHECK(min <= median);
        CHECK(median <= p90);
        CHECK(p90 <= max);
        CHECK(l.at("first_run_ms").get<double>() >= 0);
        CHECK(l.at("share").get<double>() >= 0);
        CHECK(l.at("share").get<double>() <= 1);
        CHECK(l.at("gflops").get<double>() >= 0);
        const bool reorder = l.at("reorder");
        CHECK(reorder == (l.at("op") == "reorder"));
        if (reorder) {
            ++reorders;
            CHECK(l.at("macs") == 0);
        }
        macs += l.at("macs").get<int64_t>();
        share += l.at("share").get<double>();
    }
    // Every node's MACs are accounted for exactly once, fused or not.
    CHECK(macs == kMobileNetV2Macs);
    CHECK(share == Approx(1.0).epsilon(1e-6));
    // The output leaves the engine through a copy into the caller-visible tensor, listed as a reorder.
    CHECK(reorders >= 1);
    CHECK(doc.at("totals").at("reorder_count") == reorders);

    const json& totals = doc.at("totals");
    CHECK(totals.at("end_to_end").at("median_ms").get<double>() > 0);
    CHECK(totals.at("profiled_run").at("median_ms").get<double>() > 0);
    CHECK(totals.at("layer_sum_median_ms").get<double>() > 0);
    CHECK(totals.at("first_run_ms").get<double>() > 0);
    CHECK(totals.at("peak_rss_bytes").get<int64_t>() > 0);
    CHECK_FALSE(doc.at("cpu_isa").get<std::string>().empty());
}

TEST_CASE("profile --format trace has one complete event per step per run", "[cli][profile]") {
    const size_t steps = profile_json("-n 1 --warmup 0").at("layers").size();
    constexpr int kRuns = 4;
    const CommandResult r = run_mnet("profile -m " + quoted(mobilenet_v2_manifest()) + " -t 1 --warmup 0 -n " +
                                     std::to_string(kRuns) + " --format trace");
    INFO(r.err);
    REQUIRE(r.status == 0);
    const json doc = json::parse(r.out);
    std::vector<json> complete;
    for (const json& e : doc.at("traceEvents")) {
        if (e.at("ph") == "X") complete.push_back(e);
    }
    REQUIRE(complete.size() == kRuns * steps);
    std::map<int, size_t> per_run;
    double end = 0;
    for (const json& e : complete) {
        CAPTURE(e.dump());
        CHECK_FALSE(e.at("name").get<std::string>().empty());
        CHECK(e.contains("cat"));
        CHECK(e.contains("pid"));
        CHECK(e.contains("tid"));
        const double ts = e.at("ts"), dur = e.at("dur");
        CHECK(dur >= 0);
        // Runs one after another, steps back to back: no event starts before the previous one ended.
        CHECK(ts >= end - 1e-6);
        end = ts + dur;
        ++per_run[e.at("args").at("run").get<int>()];
    }
    CHECK(per_run.size() == kRuns);
    for (const auto& [run, n] : per_run) CHECK(n == steps);
}

TEST_CASE("profile --format csv, -b and --svg describe the same steps", "[cli][profile]") {
    const std::string dir = make_temp_dir("cli-profile-svg");
    const std::string svg = (fs::path(dir) / "steps.svg").string();
    const std::string csv = (fs::path(dir) / "steps.csv").string();
    const CommandResult r = run_mnet("profile -m " + quoted(mobilenet_v2_manifest()) +
                                     " -t 1 -b 2 -n 2 --warmup 0 --format csv -o " + quoted(csv) + " --svg " +
                                     quoted(svg));
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.empty());  // everything went to the files

    const auto rows = parse_csv(read_text_file(csv));
    REQUIRE(rows.size() > 53);  // the header and at least one step per convolution
    const std::vector<std::string>& header = rows[0];
    REQUIRE(header.size() == 16);
    CHECK(header[1] == "name");
    CHECK(header[5] == "type");
    CHECK(header[7] == "macs");
    CHECK(header[8] == "median_ms");
    int64_t macs = 0;
    for (size_t i = 1; i < rows.size(); ++i) {
        CAPTURE(i);
        REQUIRE(rows[i].size() == header.size());
        CHECK(std::stoi(rows[i][0]) == static_cast<int>(i));
        CHECK(rows[i][6].rfind("2x", 0) == 0);  // the batch is the shape's first dim
        CHECK(std::stod(rows[i][8]) >= 0);
        macs += std::stoll(rows[i][7]);
    }
    CHECK(macs == 2 * kMobileNetV2Macs);

    const std::string chart = read_text_file(svg);
    CHECK(chart.rfind("<svg", 0) == 0);
    CHECK(chart.find("</svg>") != std::string::npos);
    CHECK(count_of(chart, "<rect") == rows.size() - 1);
    CHECK(count_of(chart, "<text") == count_of(chart, "</text>"));
    CHECK(count_of(chart, "<title>") == count_of(chart, "</title>"));
    CHECK(chart.find("depthwise conv 3x3") != std::string::npos);  // the legend names the kinds
}

TEST_CASE("profile table runs on an image and reports the totals", "[cli][profile]") {
    const std::string image = (fs::path(shared_dir()) / "testdata" / "images" / "dog.jpg").string();
    const CommandResult r =
        run_mnet("profile -m " + quoted(mobilenet_v2_manifest()) + " -t 1 -n 2 --warmup 0 " + quoted(image));
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find(image) != std::string::npos);
    for (const char* line : {"sum of step medians", "end-to-end median", "profiling overhead", "first run",
                             "peak RSS", "reorder"}) {
        CHECK(r.out.find(line) != std::string::npos);
    }
    CHECK(r.err.empty());
}

TEST_CASE("profile and info report a missing model or image on stderr with the I/O status", "[cli][profile]") {
    const CommandResult no_model = run_mnet("profile -n 1 -m /nonexistent/model.json");
    CHECK(no_model.status == 3);
    CHECK(no_model.out.empty());
    CHECK(no_model.err.find("/nonexistent/model.json") != std::string::npos);

    const CommandResult no_image = run_mnet("profile -n 1 -m " + quoted(mobilenet_v2_manifest()) + " /nonexistent.jpg");
    CHECK(no_image.status == 1);  // a failed input image, as in classify and batch
    CHECK(no_image.err.find("/nonexistent.jpg") != std::string::npos);

    const CommandResult bad_format = run_mnet("profile --format xml");
    CHECK(bad_format.status == 2);
}

}  // namespace mnet::test
