// SPDX-License-Identifier: Apache-2.0
// Every manifest field, one at a time, replaced by each of a set of hostile values (wrong types, null, arrays for
// objects and back, negative, zero, 2^31, 2^63, 2^64-1, -2^63, fractions, ±1e300). Each edit must be refused with
// mnet::Error naming the manifest, or be one of the few edits that leave a valid model, which must then run.
#include <catch2/catch.hpp>

#include <fnmatch.h>

#include <cstdio>
#include <cstdlib>

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
// quantization parameters that describe the source model without changing what runs. Path patterns are
// fnmatch(3) globs where * stays within one path element; values are globs over the value as JSON (brackets
// escaped).
bool valid_edit(const std::string& path, const std::string& value) {
    struct Valid {
        const char* path;
        std::vector<const char*> values;
    };
    static const std::vector<const char*> kString = {"\"*\""};
    static const std::vector<const char*> kScales = {"1", "0.5", "2147483648", "9223372036854775808",
                                                     "18446744073709551615", "1e+300"};
    static const std::vector<const char*> kZeroPoints = {"-1", "0", "1", "2147483648", "-9223372036854775808"};
    static const std::vector<Valid> valid = {
        {"/name", kString}, {"/source", kString}, {"/labels/*", kString}, {"/labels", {"\\[\\]"}},
        {"/background_class", {"true"}},
        {"/weights/file", kString},  // in memory there is no file to name
        {"/preprocess/mean/*", {"-1", "0", "1", "0.5", "2147483648", "9223372036854775808", "18446744073709551615",
                                "-9223372036854775808"}},
        {"/preprocess/std/*", {"1", "0.5", "2147483648", "9223372036854775808", "18446744073709551615"}},
        {"/preprocess/crop", {"1", "0.5"}},
        {"/input/quantization/scale/*", kScales}, {"/tensors/*/quantization/scale/*", kScales},
        {"/nodes/*/quantization/scale/*", kScales},
        {"/input/quantization/zero_point/*", kZeroPoints}, {"/tensors/*/quantization/zero_point/*", kZeroPoints},
        {"/nodes/*/quantization/zero_point/0", {"-1", "0", "1"}},
        {"/input/quantization/scale", {"\\[1\\]"}}, {"/input/quantization/zero_point", {"\\[1\\]"}},
        {"/nodes/*/quantization/scale", {"\\[1\\]"}}, {"/nodes/*/quantization/zero_point", {"\\[1\\]"}},
        {"/input/quantization/dtype", kString}, {"/tensors/*/quantization/dtype", kString},
        {"/nodes/*/quantization/dtype", kString},
        {"/input/quantization/axis", {"-1"}}, {"/tensors/*/quantization/axis", {"-1"}},
        {"/nodes/*/quantization/axis", {"-1"}}, {"/tensors/0/quantization/axis", {"0"}},
        {"/outputs/0/kind", kString}, {"/nodes/*/name", kString},
        {"/nodes/*/attrs/stride/*", {"1"}}, {"/nodes/*/attrs/dilation/*", {"1"}}, {"/nodes/*/attrs/pad/*", {"0", "1"}},
        {"/nodes/*/attrs/groups", {"1"}}, {"/nodes/9/attrs/keepdims", {"0", "1"}}, {"/nodes/7/attrs/kernel/*", {"1"}},
        {"/nodes/0/attrs", {"{}"}}, {"/nodes/3/attrs", {"{}"}}, {"/nodes/9/attrs", {"{}"}},  // all at their defaults
    };
    for (const Valid& v : valid) {
        if (::fnmatch(v.path, path.c_str(), FNM_PATHNAME) != 0) continue;
        for (const char* value_glob : v.values) {
            if (::fnmatch(value_glob, value.c_str(), 0) == 0) return true;
        }
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
            if (!valid_edit(at.to_string(), value.dump())) FAIL_CHECK("accepted an edit that leaves an invalid model");
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
    // Its first label, tensor and node stand for the rest (same shapes of JSON); a wrong type and the two ends
    // of the integer range. Accepted edits are not run: the small model's sweep runs them.
    sweep(real_model(), 1, {nullptr, -1, kU64Max}, false);
}
