// SPDX-License-Identifier: Apache-2.0
// -o FILE of every subcommand that prints results (issues 18 and 20): never written over a file the command reads
// (exit 2, the input byte for byte unchanged), and written in full or not at all (a failed run leaves no FILE and
// an existing one untouched, and no temporary file beside it).
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/robust_support.h"
#include "cli/test_batch_support.h"
#include "support/test_data.h"

namespace fs = std::filesystem;

namespace mnet::test {
namespace {

// The file names in `dir` (not below), sorted.
std::vector<std::string> entries_of(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

// A writable copy of the test model in `dir`: its manifest path (the weights beside it, as the manifest names
// them).
std::string copy_model(const std::string& dir) {
    const fs::path manifest(test_model());
    for (const auto& e : fs::directory_iterator(manifest.parent_path())) {
        if (e.path().stem() == manifest.stem()) copy_file(e.path().string(), dir + "/" + e.path().filename().string());
    }
    return dir + "/" + manifest.filename().string();
}

void check_refused(const RunResult& r, const std::string& input, const std::string& before) {
    INFO("stderr: " << r.err);
    CHECK(r.status == 2);
    const std::vector<std::string> lines = lines_of(r.err);  // a note ("converting ...") may come first
    REQUIRE(!lines.empty());
    CHECK(lines.back().rfind("mnet: error: ", 0) == 0);
    CHECK(lines.back().find("is also an input") != std::string::npos);
    CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.find("error") != std::string::npos; }) == 1);
    CHECK(slurp_file(input) == before);
}

// RFC 4648 base64 decoding, the oracle for file_bytes.
std::string from_base64(const std::string& text) {
    static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        if (c == '=') break;
        bits = (bits << 6) | static_cast<uint32_t>(kAlphabet.find(c));
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xFF);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("eval names files that are not UTF-8 unambiguously, as batch does", "[cli][robust][names]") {
    const std::string dir = make_temp_dir("eval-names");
    // Dogs in the tabby folder: both are misses; y\xfe.jpg does not decode: an error.
    const std::vector<std::string> misses = {dir + "/val/tabby/x\xff.jpg", dir + "/val/tabby/x\xfe.jpg"};
    for (const std::string& f : misses) copy_file(shared_photos().at("dog"), f);
    write_text_file(dir + "/val/tabby/y\xfe.jpg", "not an image");
    const RunResult r = run_shell(mnet() + " eval -q --json -m " + quote(test_model()) + " --misclassified " +
                                  quote(dir + "/wrong.csv") + " " + quote(dir + "/val"));
    INFO(r.err);
    REQUIRE(r.status == 1);
    const nlohmann::json report = nlohmann::json::parse(r.out);
    std::set<std::string> shown, exact;
    for (const auto& m : report.at("misclassified")) {
        shown.insert(m.at("file").get<std::string>());
        exact.insert(from_base64(m.at("file_bytes").get<std::string>()));
    }
    CHECK(shown == std::set<std::string>{dir + "/val/tabby/x\\xff.jpg", dir + "/val/tabby/x\\xfe.jpg"});
    CHECK(exact == std::set<std::string>(misses.begin(), misses.end()));
    REQUIRE(report.at("errors").size() == 1);
    CHECK(from_base64(report.at("errors")[0].at("file_bytes").get<std::string>()) == dir + "/val/tabby/y\xfe.jpg");
    // The CSV: file_bytes last, the base64 of each exact name.
    const std::vector<std::string> rows = lines_of(slurp_file(dir + "/wrong.csv"));
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].substr(rows[0].rfind(',') + 1) == "file_bytes");
    std::set<std::string> csv_exact;
    for (size_t i = 1; i < rows.size(); ++i) csv_exact.insert(from_base64(rows[i].substr(rows[i].rfind(',') + 1)));
    CHECK(csv_exact == std::set<std::string>(misses.begin(), misses.end()));
    fs::remove_all(dir);
}

TEST_CASE("merge --format csv of a sharded run's parts equals the unsharded batch --format csv", "[cli][merge]") {
    const std::string dir = make_temp_dir("merge-csv");
    const std::string m = " -m " + quote(test_model()) + " ";
    for (const auto& [stem, path] : shared_photos()) copy_file(path, dir + "/photos/" + fs::path(path).filename().string());
    const std::string photos = quote(dir + "/photos");
    for (int k = 0; k < 2; ++k) {
        REQUIRE(run_shell(mnet() + " batch -q -k 3" + m + "--shard " + std::to_string(k) + "/2 -o " +
                          quote(dir + "/part" + std::to_string(k) + ".jsonl") + " " + photos)
                    .status == 0);
    }
    const RunResult whole = run_shell(mnet() + " batch -q -k 3 --format csv" + m + photos);
    REQUIRE(whole.status == 0);
    const std::string parts = " " + quote(dir + "/part1.jsonl") + " " + quote(dir + "/part0.jsonl");
    const RunResult merged = run_shell(mnet() + " merge -q --format csv" + parts);
    INFO(merged.err);
    CHECK(merged.status == 0);
    CHECK(merged.out == whole.out);
    // -o FILE.csv picks csv; --json is jsonl: the records as batch wrote them, in order.
    CHECK(run_shell(mnet() + " merge -q" + parts + " -o " + quote(dir + "/all.csv")).status == 0);
    CHECK(slurp_file(dir + "/all.csv") == whole.out);
    const RunResult jsonl = run_shell(mnet() + " merge -q --json" + parts);
    CHECK(jsonl.out == slurp_file(dir + "/part0.jsonl") + slurp_file(dir + "/part1.jsonl"));
    CHECK(run_shell(mnet() + " merge -q --json --format csv" + parts).status == 2);
    // Feature vectors have no CSV form.
    REQUIRE(run_shell(mnet() + " batch -q --features" + m + "-o " + quote(dir + "/features.jsonl") + " " + photos)
                .status == 0);
    const RunResult features = run_shell(mnet() + " merge -q --format csv " + quote(dir + "/features.jsonl"));
    CHECK(features.status == 2);
    CHECK(lines_of(features.err).size() == 1);
    fs::remove_all(dir);
}

TEST_CASE("An -o naming an input of the command is refused and the input survives, in every subcommand",
          "[cli][robust][overwrite]") {
    const std::string dir = make_temp_dir("output-over-input");
    const std::string model = copy_model(dir);
    const std::string weights = fs::path(model).replace_extension(".bin").string();
    const std::string photo = dir + "/val/malamute/dog.jpg";
    copy_file(shared_photos().at("dog"), photo);
    const std::string m = " -m " + quote(model) + " ";
    // Each command with an output that is one of its inputs: an image, the model's manifest or weights, a label
    // list, a part, a --files-from list, the zoo.
    write_text_file(dir + "/labels.csv", "file,label\nval/malamute/dog.jpg,malamute\n");
    write_text_file(dir + "/list.txt", photo + "\n");
    copy_file(shared_photos().at("dog"), dir + "/parts/dog.jpg");
    REQUIRE(run_shell(mnet() + " batch -q" + m + "-o " + quote(dir + "/part.jsonl") + " " + quote(photo)).status == 0);
    fs::create_directories(dir + "/zoo");
    copy_file(fs::path(mnet_path()).parent_path().parent_path().string() + "/models/zoo.json", dir + "/zoo/zoo.json");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"classify" + m + "-o " + quote(photo) + " " + quote(photo), photo},
        {"classify --json" + m + "-o " + quote(weights) + " " + quote(photo), weights},
        {"info" + m + "-o " + quote(model), model},
        {"info --json" + m + "-o " + quote(weights), weights},
        {"bench -n 1 --warmup 0" + m + "-o " + quote(weights), weights},
        {"profile -n 1 --warmup 0" + m + "-o " + quote(weights), weights},  // read after -o was opened
        {"eval -q" + m + "-o " + quote(photo) + " " + quote(dir + "/val"), photo},
        {"eval -q --json" + m + "--csv " + quote(dir + "/labels.csv") + " -o " + quote(dir + "/labels.csv"),
         dir + "/labels.csv"},
        {"eval -q" + m + "--files-from " + quote(dir + "/list.txt") + " -o " + quote(dir + "/list.txt"),
         dir + "/list.txt"},
        {"eval -q" + m + "--misclassified " + quote(model) + " " + quote(dir + "/val"), model},
        {"merge -q " + quote(dir + "/part.jsonl") + " -o " + quote(dir + "/part.jsonl"), dir + "/part.jsonl"},
        {"merge -q --format csv " + quote(dir + "/part.jsonl") + " --files-from " + quote(dir + "/list.txt") + " -o " +
             quote(dir + "/list.txt"),
         dir + "/list.txt"},
        {"models -o " + quote(dir + "/zoo/zoo.json"), dir + "/zoo/zoo.json"},
    };
    for (const auto& [args, input] : cases) {  // one setup for all (no SECTION): each case is one mnet run
        INFO(args);
        {
            const std::string before = slurp_file(input);
            REQUIRE(!before.empty());
            check_refused(run_shell("MNET_MODEL_DIR=" + quote(dir + "/zoo") + " " + mnet() + " " + args), input,
                          before);
        }
    }
    {
        INFO("through a symbolic link to the input");
        fs::create_symlink(photo, dir + "/link.txt");
        const std::string before = slurp_file(photo);
        check_refused(run_shell(mnet() + " classify" + m + "-o " + quote(dir + "/link.txt") + " " + quote(photo)),
                      photo, before);
    }
    {
        INFO("a source model given to -m (converted into the cache)");
        const std::string tflite = dir + "/src/model.tflite";
        copy_file(shared_dir() + "/models/mobilenet_v1_0.75_192_quant/mobilenet_v1_0.75_192_quant.tflite", tflite);
        const std::string before = slurp_file(tflite);
        check_refused(run_shell("XDG_CACHE_HOME=" + quote(dir + "/cache") + " " + mnet() + " classify -m " +
                                quote(tflite) + " -o " + quote(tflite) + " " + quote(photo)),
                      tflite, before);
    }
    fs::remove_all(dir);
}

TEST_CASE("a failed run leaves no output file and an existing one untouched", "[cli][robust][overwrite]") {
    const std::string dir = make_temp_dir("output-failed");
    const std::string model = test_model();
    const std::string photo = shared_photos().at("dog");
    copy_file(photo, dir + "/val/malamute/dog.jpg");
    copy_file(photo, dir + "/val/tabby/dog.jpg");  // a miss: eval's report is then longer than the limit
    const std::string m = " -m " + quote(model) + " ";
    // Each run fails after its output was opened: a file size limit of 512 bytes (ulimit -f 1) makes the write
    // of a longer output fail (EFBIG: status 3), and profile's image is missing (status 1).
    const std::string limit = "ulimit -f 1; ";
    const std::vector<std::pair<std::string, int>> cases = {
        {limit + mnet() + " classify --json -k 100" + m + "-o OUT " + quote(photo), 3},
        {limit + mnet() + " info" + m + "-o OUT", 3},
        {limit + mnet() + " info --json" + m + "-o OUT", 3},
        {limit + mnet() + " eval -q --json" + m + "-o OUT " + quote(dir + "/val"), 3},
        {limit + mnet() + " bench -n 1 --warmup 0 --json" + m + "-o OUT", 3},
        {limit + mnet() + " models --json -o OUT", 3},
        {mnet() + " profile -n 1" + m + "-o OUT " + quote(dir + "/missing.jpg"), 1},
    };
    for (const auto& [command, status] : cases) {
        INFO(command);
        {
            const std::string out = dir + "/out/result.txt";
            fs::create_directories(dir + "/out");
            auto run = [&, command = command] {
                std::string c = command;
                c.replace(c.find("OUT"), 3, quote(out));
                return run_shell(c);
            };
            RunResult r = run();
            INFO("stderr: " << r.err);
            CHECK(r.status == status);
            CHECK(lines_of(r.err).size() == 1);
            CHECK(entries_of(dir + "/out").empty());  // no file, no temporary file
            write_text_file(out, "old");
            r = run();
            CHECK(r.status == status);
            CHECK(slurp_file(out) == "old");
            CHECK(entries_of(dir + "/out") == std::vector<std::string>{"result.txt"});
            fs::remove_all(dir + "/out");
        }
    }
    {
        INFO("merge whose parts do not cover the run writes nothing");
        const std::string part = dir + "/part.jsonl";
        REQUIRE(run_shell(mnet() + " batch -q" + m + "-o " + quote(part) + " " + quote(photo)).status == 0);
        write_text_file(dir + "/out.csv", "old");
        for (const char* format : {"jsonl", "csv"}) {
            const RunResult r = run_shell(mnet() + " merge -q --format " + format + " " + quote(part) + " " +
                                          quote(part) + " -o " + quote(dir + "/out.csv"));
            INFO("stderr: " << r.err);
            CHECK(r.status == 1);  // a duplicate
            CHECK(slurp_file(dir + "/out.csv") == "old");
        }
    }
    fs::remove_all(dir);
}

}  // namespace mnet::test
