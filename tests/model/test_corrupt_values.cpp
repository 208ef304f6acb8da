// SPDX-License-Identifier: Apache-2.0
// Every manifest field, one at a time, replaced by each of a set of hostile values (wrong types, null, arrays for
// objects and back, negative, zero, 2^31, 2^63, 2^64-1, -2^63, fractions, ±1e300). Each edit must be refused with
// mnet::Error naming the manifest, or be one of the few edits that leave a valid model, which must then run.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <regex>

#include "model/corrupt_edits.h"

using namespace mnet;
using namespace mnet::test;

namespace {

std::vector<json> hostile_values() {
    return {nullptr, true, "x", "", json::array(), json::object(), json::array({1}), json::object({{"a", 1}}),
            -1, 0, 1, k2p31, k2p63, kU64Max, kI64Min, 0.5, -1e300, 1e300};
}

// Every value in the manifest as a JSON pointer, containers included; of long arrays (labels) only the first
// `max_items` elements.
void each_path(const json& j, const json::json_pointer& at, size_t max_items, std::vector<json::json_pointer>& out) {
    if (!at.empty()) out.push_back(at);
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) each_path(it.value(), at / it.key(), max_items, out);
    } else if (j.is_array()) {
        for (size_t i = 0; i < j.size() && i < max_items; ++i) each_path(j[i], at / i, max_items, out);
    }
}

// Edits after which the model is still valid (FORMAT.md): free text, informative fields, numbers in range, and
// quantization parameters that describe the source model without changing what runs. Checked as
// "<pointer> = <value as JSON>".
bool valid_edit(const std::string& edit) {
    static const std::vector<std::regex> valid = [] {
        std::vector<std::regex> r;
        for (const char* p : {
                 R"(/name = .*)", R"(/source = ".*")", R"(/labels/\d+ = ".*")", R"(/background_class = true)",
                 R"(/weights/file = ".*")",  // in memory there is no file to name
                 R"(/preprocess/(mean|std)/\d = (1|0\.5|2147483648|9223372036854775808|18446744073709551615))",
                 R"(/preprocess/mean/\d = (-1|0|-9223372036854775808))",
                 R"(/preprocess/crop = (1|0\.5))",
                 R"(/(input|nodes/\d+|tensors/\d+)/quantization/scale/\d+ = )"
                 R"((1|0\.5|2147483648|9223372036854775808|18446744073709551615|1e\+300))",
                 R"(/(input|tensors/\d+)/quantization/zero_point/\d+ = (-1|0|1|2147483648|-9223372036854775808))",
                 R"(/nodes/\d+/quantization/zero_point/0 = (0|1|-1))", R"(/nodes/\d+/quantization/dtype = .*)",
                 R"(/(input|tensors/\d+)/quantization/dtype = .*)",
                 R"(/(input|nodes/\d+|tensors/\d+)/quantization/axis = -1)",
                 R"(/tensors/0/quantization/axis = 0)",
                 R"(/outputs/0/kind = .*)", R"(/nodes/\d+/name = .*)",
                 R"(/nodes/\d+/attrs/(stride|dilation)/\d = 1)", R"(/nodes/\d+/attrs/pad/\d = (0|1))",
                 R"(/nodes/\d+/attrs/groups = 1)", R"(/nodes/9/attrs/keepdims = (0|1))",
                 R"(/nodes/7/attrs/kernel/\d = 1)",
                 R"(/nodes/(0|3|9)/attrs = \{\})",  // every attribute at its default
                 R"(/(input|nodes/\d+)/quantization/(scale|zero_point) = \[1\])", R"(/labels = \[\])",
             }) {
            r.emplace_back(p);
        }
        return r;
    }();
    for (const std::regex& r : valid) {
        if (std::regex_match(edit, r)) return true;
    }
    return false;
}

void sweep(const ModelFiles& base, size_t max_items, const std::vector<json>& values, bool run_accepted) {
    const json good = parse(base);
    std::vector<json::json_pointer> paths;
    each_path(good, json::json_pointer(), max_items, paths);
    int rejected = 0, accepted = 0;
    for (const json::json_pointer& at : paths) {
        for (const json& value : values) {
            if (good[at] == value) continue;
            json j = good;
            j[at] = value;
            const std::string edit = at.to_string() + " = " + value.dump();
            CAPTURE(edit);
            const Outcome o = load_outcome(j.dump(1), base.weights);
            if (!o.loaded) {
                ++rejected;
                INFO("message: " << o.message);
                CHECK((o.code == ErrorCode::ModelFormat || o.code == ErrorCode::Unsupported));
                CHECK_THAT(o.message, Catch::Contains(kWhere));
                continue;
            }
            ++accepted;
            if (std::getenv("MNET_TEST_VERBOSE")) std::printf("accepted: %s\n", edit.c_str());
            if (!valid_edit(edit)) FAIL_CHECK("accepted an edit that leaves an invalid model");
            if (run_accepted) require_runs(o.model);
        }
    }
    std::printf("field sweep: %zu fields, %d edits refused, %d valid edits accepted\n", paths.size(), rejected,
                accepted);
    CHECK(rejected > 0);
}

}  // namespace

TEST_CASE("every field of the small model with hostile values", "[model][corrupt]") {
    sweep(small_model(), 1000, hostile_values(), true);
}

TEST_CASE("fields of the real model with hostile values", "[model][corrupt][slow]") {
    // Its first label, tensor and node stand for the rest (same shapes of JSON); a wrong type, an array for a
    // scalar, and the two ends of the integer range. Accepted edits are not run: the small model's sweep runs them.
    sweep(real_model(), 1, {nullptr, json::array(), -1, kU64Max}, false);
}
