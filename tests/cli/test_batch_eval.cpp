// SPDX-License-Identifier: Apache-2.0
// mnet eval end to end: class folders named in every supported way, the exact expected counts from the
// reference outputs, the misclassified list, CSV label lists, and unknown class names.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/test_batch_support.h"
#include "support/test_data.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mnet::test {
namespace {

struct Labelled {
    std::string rel;     // path below the dataset folder
    std::string stem;    // which shared photo
    int64_t truth = 0;   // the class its folder names
};

std::string first_synonym(const std::string& label) { return label.substr(0, label.find(',')); }

std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string underscored(std::string s) {
    std::replace(s.begin(), s.end(), ' ', '_');
    return s;
}

// Class folders named from the reference top-1 labels, one naming rule each, plus deliberately wrong labels:
// a chelsea copy labelled with its reference second choice, an eagle copy likewise, and a dog photo filed
// under the cat's class.
std::vector<Labelled> dataset_layout() {
    const auto& ref = reference_top5();
    const auto top = [&](const std::string& stem, size_t k) { return ref.at(stem).at(k); };
    std::vector<Labelled> items;
    const auto add = [&](const std::string& folder, const std::string& file, const std::string& stem, int64_t truth) {
        items.push_back({folder + "/" + file, stem, truth});
    };
    add(top("chelsea", 0).label, "chelsea.png", "chelsea", top("chelsea", 0).index);                      // exact
    add(upper(top("coffee", 0).label), "coffee.png", "coffee", top("coffee", 0).index);                  // case
    add(std::to_string(top("dog", 0).index), "dog.jpg", "dog", top("dog", 0).index);                     // index
    add(first_synonym(top("kite", 0).label), "kite.jpg", "kite", top("kite", 0).index);                  // synonym
    add(underscored(top("eagle", 0).label), "eagle.jpg", "eagle", top("eagle", 0).index);                // '_'
    add(first_synonym(top("chelsea", 1).label), "chelsea_2nd.png", "chelsea", top("chelsea", 1).index);  // wrong
    add(underscored(first_synonym(top("eagle", 1).label)), "nested/eagle_2nd.jpg", "eagle", top("eagle", 1).index);
    add(top("chelsea", 0).label, "a_dog_among_cats.jpg", "dog", top("chelsea", 0).index);                // wrong
    return items;
}

std::string make_dataset(const std::vector<Labelled>& items) {
    const std::string dir = make_temp_dir("eval-set");
    for (const Labelled& item : items) copy_file(shared_photos().at(item.stem), dir + "/" + item.rel);
    return dir;
}

struct Expected {
    size_t top1 = 0, top5 = 0;
    std::set<std::string> misclassified;  // relative paths
};

// From the reference outputs, never from mnet.
Expected expected_counts(const std::vector<Labelled>& items) {
    Expected e;
    for (const Labelled& item : items) {
        const auto& top5 = reference_top5().at(item.stem);
        if (top5.at(0).index == item.truth) {
            ++e.top1;
        } else {
            e.misclassified.insert(item.rel);
        }
        for (const auto& p : top5) e.top5 += p.index == item.truth ? 1 : 0;
    }
    return e;
}

// Pinned to fp32: the results are checked against the float reference's top-5.
std::string eval_cmd(const std::string& flags) {
    return mnet() + " eval -q --precision fp32 -m " + quote(test_model()) + " " + flags;
}

void check_report(const json& report, const std::vector<Labelled>& items, const std::string& dir) {
    const Expected e = expected_counts(items);
    CHECK(report.at("images").get<size_t>() == items.size());
    CHECK(report.at("failed").get<size_t>() == 0);
    CHECK(report.at("top1").at("correct").get<size_t>() == e.top1);
    CHECK(report.at("top5").at("correct").get<size_t>() == e.top5);
    CHECK(report.at("top1").at("accuracy").get<double>() == Approx(double(e.top1) / double(items.size())));
    std::set<std::string> misclassified;
    for (const json& m : report.at("misclassified")) {
        misclassified.insert(fs::path(m.at("file").get<std::string>()).lexically_relative(dir).string());
    }
    CHECK(misclassified == e.misclassified);
    // Per class: images and top-1 hits from the layout and the reference.
    std::map<int64_t, std::pair<size_t, size_t>> per_class;  // index -> (images, top1)
    for (const Labelled& item : items) {
        auto& c = per_class[item.truth];
        ++c.first;
        c.second += reference_top5().at(item.stem).at(0).index == item.truth ? 1 : 0;
    }
    REQUIRE(report.at("classes").size() == per_class.size());
    for (const json& c : report.at("classes")) {
        const auto& want = per_class.at(c.at("index").get<int64_t>());
        CHECK(c.at("images").get<size_t>() == want.first);
        CHECK(c.at("top1_correct").get<size_t>() == want.second);
    }
}

TEST_CASE("eval on class folders gives the exact expected top-1 and top-5 counts", "[cli][eval][slow]") {
    const auto items = dataset_layout();
    const std::string dir = make_dataset(items);
    const Expected e = expected_counts(items);
    REQUIRE(e.top1 == 5);  // the layout's intent: 5 correct folders, 3 wrong labels
    REQUIRE(e.misclassified.size() == 3);

    const RunResult r = run_shell(eval_cmd("-b 3 --json " + quote(dir)));
    INFO(r.err);
    REQUIRE(r.status == 0);
    check_report(json::parse(r.out), items, dir);

    SECTION("the text report and the CSV files say the same") {
        const std::string out = make_temp_dir("eval-out");
        const RunResult text = run_shell(eval_cmd("--misclassified " + quote(out + "/wrong.csv") + " --per-class " +
                                                  quote(out + "/classes.csv") + " " + quote(dir)));
        REQUIRE(text.status == 0);
        char top1_line[64];
        std::snprintf(top1_line, sizeof top1_line, "(%zu/%zu)", e.top1, items.size());
        CHECK(text.out.find(top1_line) != std::string::npos);
        CHECK(text.out.find("misclassified (top-1): 3") != std::string::npos);
        const auto wrong = lines_of(slurp_file(out + "/wrong.csv"));
        REQUIRE(wrong.size() == 1 + e.misclassified.size());
        CHECK(wrong[0].rfind("file,true_index,true_label,", 0) == 0);
        const auto classes = lines_of(slurp_file(out + "/classes.csv"));
        std::set<int64_t> distinct;
        for (const Labelled& item : items) distinct.insert(item.truth);
        CHECK(classes.size() == 1 + distinct.size());  // a header, then one row per class of the layout
    }
    SECTION("a CSV of file,label gives the same counts") {
        std::string csv = "file,label\n";
        const auto& ref = reference_top5();
        for (const Labelled& item : items) {
            // Label text (quoted when it has a comma) for some rows, the class index for the others.
            std::string label;
            for (const auto& [stem, top] : ref) {
                for (const auto& p : top) {
                    if (p.index == item.truth) label = p.label;
                }
            }
            csv += "\"" + item.rel + "\"," + (label.empty() || item.rel.size() % 2 ? std::to_string(item.truth)
                                                                                     : "\"" + label + "\"") + "\n";
        }
        write_text_file(dir + "/labels.csv", csv);
        const RunResult listed = run_shell(eval_cmd("--json --csv " + quote(dir + "/labels.csv") + " " + quote(dir)));
        INFO(listed.err);
        REQUIRE(listed.status == 0);
        check_report(json::parse(listed.out), items, dir);
        const RunResult positional = run_shell(eval_cmd("--json " + quote(dir + "/labels.csv")));
        REQUIRE(positional.status == 0);
        check_report(json::parse(positional.out), items, dir);
    }
}

TEST_CASE("eval counts unreadable images as failures, not misses", "[cli][eval]") {
    auto items = dataset_layout();
    const std::string dir = make_dataset(items);
    const std::string broken = fs::path(items[0].rel).parent_path().string() + "/broken.jpg";
    write_text_file(dir + "/" + broken, "not a JPEG");
    const RunResult r = run_shell(eval_cmd("--json " + quote(dir)));
    CHECK(r.status == 1);
    const json report = json::parse(r.out);
    CHECK(report.at("failed").get<size_t>() == 1);
    CHECK(report.at("images").get<size_t>() == items.size());
    CHECK(report.at("top1").at("correct").get<size_t>() == expected_counts(items).top1);
    CHECK(r.err.find("broken.jpg") != std::string::npos);
}

TEST_CASE("eval names every class folder that matches no class, in one line", "[cli][eval]") {
    const std::string dir = make_temp_dir("eval-unknown");
    copy_file(shared_photos().at("dog"), dir + "/not a class/dog.jpg");
    copy_file(shared_photos().at("dog"), dir + "/99999/dog.jpg");
    copy_file(shared_photos().at("dog"), dir + "/crane/dog.jpg");  // two ImageNet classes are called "crane"
    copy_file(shared_photos().at("kite"), dir + "/seashore/kite.jpg");
    const RunResult r = run_shell(eval_cmd(quote(dir)));
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    REQUIRE(lines_of(r.err).size() == 1);
    CHECK(r.err.find("'not a class'") != std::string::npos);
    CHECK(r.err.find("'99999'") != std::string::npos);
    CHECK(r.err.find("'crane' (classes") != std::string::npos);
    CHECK(r.err.find("seashore") == std::string::npos);
}

}  // namespace
}  // namespace mnet::test
