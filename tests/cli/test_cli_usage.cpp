// SPDX-License-Identifier: Apache-2.0
// How `mnet` talks to people (issue 20): one-line errors with suggestions, one exit-status rule for every
// subcommand, --format/--json/-o on every subcommand that prints results, and help without CLI11 internals that
// fits 100 columns.
#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

#include "support/test_data.h"
#include "test_batch_support.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mnet::test {

namespace {


// `mnet ARGS` with the test model (its manifest path) unless ARGS names one.
RunResult run(const std::string& args) { return run_shell(mnet() + " " + args); }
std::string with_model(const std::string& sub) { return sub + " -m " + quote(test_model()); }

void check_one_error_line(const RunResult& r) {
    CAPTURE(r.err);
    const auto lines = lines_of(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].rfind("mnet: error: ", 0) == 0);
}

}  // namespace

TEST_CASE("parse errors are one line with a suggestion, status 2", "[cli][usage]") {
    struct Case {
        std::string args, expect;
    };
    const Case cases[] = {
        {"classify -k five x.jpg", "--top: expects a whole number from 1 to 100000, got 'five'"},
        {"clasify x.jpg", "unknown subcommand 'clasify'; did you mean 'classify'?"},
        {"classify --jsn x.jpg", "unknown flag '--jsn' for 'mnet classify'; did you mean '--json'?"},
        {"batch --fromat csv x.jpg", "did you mean '--format'?"},
        {"batch --format cvs x.jpg", "expects one of jsonl, csv, got 'cvs'; did you mean 'csv'?"},
        {"classify", "images is required"},
        {"bench --mode fast", "expects one of auto, latency, throughput"},
        {"", "A subcommand is required"},
        {"help nosuch", "unknown subcommand 'nosuch'"},
        {"info --json --format table", "--json selects --format json, not table"},
    };
    for (const Case& c : cases) {
        const RunResult r = run(c.args);
        CAPTURE(c.args, r.err);
        CHECK(r.status == 2);
        CHECK(r.out.empty());
        check_one_error_line(r);
        CHECK(r.err.find(c.expect) != std::string::npos);
    }
}

TEST_CASE("help: `mnet help SUB` works, every help fits 100 columns and shows no CLI11 type syntax", "[cli][usage]") {
    const RunResult help_classify = run("help classify");
    CHECK(help_classify.status == 0);
    CHECK(help_classify.out == run("classify --help").out);
    const std::regex cli11_syntax(
        R"(\b(INT|UINT|FLOAT|TEXT|ENUM|BOOLEAN|REQUIRED)\b|\{false\}|\{true\}|in \[|->[0-9])");
    for (const char* sub : {"", "classify", "batch", "eval", "profile", "bench", "info", "quantize", "models", "merge"}) {
        const RunResult r = run(std::string(sub) + " --help");
        CAPTURE(sub);
        REQUIRE(r.status == 0);
        REQUIRE(r.out.find("Exit status") != std::string::npos);
        for (const std::string& line : lines_of(r.out)) {
            CAPTURE(line);
            CHECK(line.size() <= 100);
            CHECK(!std::regex_search(line, cli11_syntax));
        }
    }
    const RunResult convert = run_shell(quote(std::string(MNET_BINARY_DIR) + "/mnet-convert") + " --help");
    CHECK(convert.status == 0);
    CHECK(convert.out.find("Examples:") != std::string::npos);
    CHECK(convert.out.find("Exit status") != std::string::npos);
    for (const std::string& line : lines_of(convert.out)) {
        CAPTURE(line);
        CHECK(line.size() <= 100);
        CHECK(!std::regex_search(line, cli11_syntax));
    }
}

TEST_CASE("exit status: one rule for every subcommand", "[cli][usage][exit]") {
    TempDir tmp{"cli-usage"};
    const std::string corrupt = tmp.path + "/corrupt.jpg";
    write_text_file(corrupt, "not a JPEG at all");
    const std::string bad_manifest = tmp.path + "/bad.json";
    write_text_file(bad_manifest, "{\"format\": \"mnet-model\", \"format_version\": 1}");
    const std::string missing = tmp.path + "/missing.jpg";
    const std::string unwritable = tmp.path + "/no/such/folder/out.txt";
    struct Case {
        std::string args;
        int status;
        std::string env = "";
    };
    // quantize needs a float model: the shared Keras one, given to -m directly (converted into tmp's cache).
    const std::string float_model = shared_dir() + "/models/mobilenet_v1_0.25_224_keras/mobilenet_v1_0.25_224.h5";
    const std::string cache = "XDG_CACHE_HOME=" + quote(tmp.path) + " ";
    const Case cases[] = {
        // 1: an input image missing or not an image; the others still processed
        {with_model("classify") + " " + quote(missing) + " " + quote(shared_dog()), 1},
        {with_model("batch -q") + " " + quote(missing) + " " + quote(shared_dog()), 1},
        {with_model("profile -n 1 --warmup 0") + " " + quote(missing), 1},
        {with_model("classify") + " " + quote(corrupt), 1},
        {with_model("batch -q") + " " + quote(corrupt), 1},
        {with_model("profile -n 1 --warmup 0") + " " + quote(corrupt), 1},
        {"quantize -m " + quote(float_model) + " --calibrate " + quote(corrupt) + " -o " + quote(tmp.path + "/q.json"),
         1, cache},
        // 2: usage
        {with_model("classify -k 0") + " " + quote(shared_dog()), 2},
        {"-m " + quote(shared_dog()) + " classify " + quote(shared_dog()), 2},
        {"classify -m " + quote(shared_dog()) + " " + quote(shared_dog()), 2},
        {"info -m " + quote(tmp.path), 2},
        // 3: another file: the model, the output
        {"classify -m " + quote(tmp.path + "/nosuch.json") + " " + quote(shared_dog()), 3},
        {"info -m no_such_model_name", 3},
        {with_model("classify") + " -o " + quote(unwritable) + " " + quote(shared_dog()), 3},
        {with_model("batch -q") + " -o " + quote(unwritable) + " " + quote(shared_dog()), 3},
        {with_model("info") + " -o " + quote(unwritable), 3},
        // 4: a malformed model
        {"classify -m " + quote(bad_manifest) + " " + quote(shared_dog()), 4},
        {"info -m " + quote(bad_manifest), 4},
        // 0
        {with_model("classify") + " " + quote(shared_dog()), 0},
        {with_model("batch -q") + " " + quote(shared_dog()), 0},
    };
    for (const Case& c : cases) {
        const RunResult r = run_shell(c.env + mnet() + " " + c.args);
        CAPTURE(c.args, r.err);
        CHECK(r.status == c.status);
        if (c.status >= 2) check_one_error_line(r);
        for (const std::string& line : lines_of(r.err)) {
            if (line.find("error") != std::string::npos) CHECK(line.rfind("mnet: error: ", 0) == 0);
        }
    }
}

TEST_CASE("a reader that stops early ends the run quietly with status 0", "[cli][usage][exit]") {
    TempDir tmp{"cli-usage"};
    for (int i = 0; i < 40; ++i) copy_file(shared_dog(), tmp.path + "/" + std::to_string(i) + ".jpg");
    for (const std::string& args :
         {"batch -q -b 1 " + quote(tmp.path), "classify --json " + quote(tmp.path) + "/*.jpg"}) {
        const std::string pipeline = mnet() + " " + with_model(args.substr(0, args.find(' '))) +
                                     args.substr(args.find(' ')) + " | head -1 > /dev/null; exit ${PIPESTATUS[0]}";
        const RunResult r = run_shell("bash -c " + quote(pipeline));
        CAPTURE(pipeline, r.err);
        CHECK(r.status == 0);
        CHECK(r.err.empty());
    }
}

TEST_CASE("output: --format, --json and -o on every subcommand that prints results", "[cli][usage][output]") {
    TempDir tmp{"cli-usage"};
    struct Case {
        std::string sub;  // with its own arguments
        std::string json_format;
    };
    const Case cases[] = {
        {with_model("classify") + " " + quote(shared_dog()), "jsonl"},
        {with_model("batch -q") + " " + quote(shared_dog()), "jsonl"},
        {with_model("info"), "json"},
        {with_model("profile -n 1 --warmup 0 -t 1"), "json"},
        {with_model("bench -n 1 --warmup 0 -t 1"), "jsonl"},
        {"models", "json"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.sub);
        const std::string file = tmp.path + "/out." + c.json_format;
        const RunResult to_file = run(c.sub + " --json -o " + quote(file));
        REQUIRE(to_file.status == 0);
        CHECK(to_file.out.empty());
        const std::string text = slurp_file(file);
        REQUIRE(!text.empty());
        // Every line of JSON lines, or the one document, parses.
        if (c.json_format == "jsonl") {
            for (const std::string& line : lines_of(text)) CHECK(json::accept(line));
        } else {
            CHECK(json::accept(text));
        }
        // --format F says the same as --json; without either, -o's extension picks it.
        const RunResult by_format = run(c.sub + " --format " + c.json_format);
        REQUIRE(by_format.status == 0);
        CHECK(lines_of(by_format.out).size() == lines_of(text).size());
        const RunResult by_name = run(c.sub + " -o " + quote(tmp.path + "/again." + c.json_format));
        REQUIRE(by_name.status == 0);
        CHECK(lines_of(slurp_file(tmp.path + "/again." + c.json_format)).size() == lines_of(text).size());
    }
    // eval: its text or JSON report to a file.
    const std::string val = tmp.path + "/val/malamute";
    copy_file(shared_dog(), val + "/dog.jpg");
    const RunResult eval =
        run(with_model("eval -q") + " --json -o " + quote(tmp.path + "/eval.json") + " " + quote(tmp.path + "/val"));
    REQUIRE(eval.status == 0);
    CHECK(eval.out.empty());
    const json report = json::parse(slurp_file(tmp.path + "/eval.json"));
    CHECK(report.at("images") == 1);
}

}  // namespace mnet::test

namespace mnet::test {

TEST_CASE("info states the precision each layer runs in", "[cli][usage][info]") {
    // The quantized test model: every convolution has an int8 kernel (docs/int8.md), the softmax stays fp32.
    const RunResult int8 = run_shell(mnet() + " info --json -m " + quote(test_model()));
    REQUIRE(int8.status == 0);
    const json doc = json::parse(int8.out);
    CHECK(doc.at("precision") == "int8");
    size_t convs = 0;
    for (const json& layer : doc.at("layers")) {
        CAPTURE(layer.at("name"));
        if (layer.at("op") == "conv2d") {
            CHECK(layer.at("precision") == "int8");
            ++convs;
        }
        if (layer.at("op") == "softmax") CHECK(layer.at("precision") == "fp32");
    }
    CHECK(convs > 20);
    const RunResult fp32 = run_shell(mnet() + " info --json --precision fp32 -m " + quote(test_model()));
    REQUIRE(fp32.status == 0);
    const json fp32_info = json::parse(fp32.out);  // named: a range-for over a temporary's member dangles
    for (const json& layer : fp32_info.at("layers")) {
        CHECK((layer.at("precision") == "fp32" || layer.at("precision") == "-"));
    }
    const RunResult table = run_shell(mnet() + " info -m " + quote(test_model()));
    REQUIRE(table.status == 0);
    CHECK(table.out.find("runs in") != std::string::npos);
    CHECK(table.out.find("float32 with saturated") == std::string::npos);
}

}  // namespace mnet::test
