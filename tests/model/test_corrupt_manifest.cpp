// SPDX-License-Identifier: Apache-2.0
// Corrupt manifests at the JSON level: truncation, nesting, encodings, the format name and version, missing and
// unknown keys.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>

#include "model/corrupt_support.h"

using namespace mnet;
using namespace mnet::test;

namespace {

// Every object in the manifest, as a JSON pointer, except the labels (an array of strings, not keys).
void each_object(const json& j, const json::json_pointer& at, const std::function<void(const json::json_pointer&)>& f) {
    if (j.is_object()) {
        f(at);
        for (auto it = j.begin(); it != j.end(); ++it) each_object(it.value(), at / it.key(), f);
    } else if (j.is_array()) {
        for (size_t i = 0; i < j.size(); ++i) each_object(j[i], at / i, f);
    }
}

// Keys the format makes optional, or that only the reader ignores (unknown top-level keys).
bool optional_key(const json::json_pointer& object, const std::string& key) {
    if (object.empty()) return key == "source" || key == "labels" || key == "background_class";
    if (key == "quantization" || key == "axis") return true;
    const json::json_pointer parent = object.parent_pointer();
    if (parent.to_string() == "/nodes") return key == "weights" || key == "attrs";
    // A node's attributes have defaults and its weight roles depend on the op: the graph tests cover those.
    return parent.parent_pointer().to_string() == "/nodes" && (object.back() == "attrs" || object.back() == "weights");
}

}  // namespace

TEST_CASE("a manifest truncated anywhere is refused", "[model][corrupt]") {
    const ModelFiles& real = real_model();
    const size_t n = real.manifest.size();
    // The trailing newline is whitespace: cutting it leaves a valid manifest, cutting more never does.
    REQUIRE(real.manifest.back() == '\n');
    std::vector<size_t> cuts;
    // Every cut in the first keys, 64 spread over the rest, the last few; the small model below gets every cut.
    for (size_t c = 0; c < 64; ++c) cuts.push_back(c);
    for (size_t c = 64; c < n - 1; c += n / 64) cuts.push_back(c);
    for (size_t c = n - 16; c < n - 1; ++c) cuts.push_back(c);
    for (size_t cut : cuts) {
        CAPTURE(n, cut);
        require_rejected(real.manifest.substr(0, cut), real.weights, ErrorCode::ModelFormat, "not valid JSON");
    }
    const ModelFiles small = small_model();
    for (size_t cut = 0; cut + 1 < small.manifest.size(); ++cut) {
        CAPTURE(cut);
        require_rejected(small.manifest.substr(0, cut), small.weights, ErrorCode::ModelFormat, "not valid JSON");
    }
    CHECK(load_outcome(real.manifest.substr(0, n - 1), real.weights).loaded);
}

TEST_CASE("deeply nested JSON is refused quickly", "[model][corrupt]") {
    const ModelFiles small = small_model();
    const std::string manifest = small.manifest.substr(0, small.manifest.rfind('}'));
    const size_t depth = 10000;
    std::vector<std::string> docs = {
        std::string(depth, '[') + std::string(depth, ']'),
        std::string(depth, '['),  // unterminated too
        [&] {
            std::string s;
            for (size_t i = 0; i < depth; ++i) s += "{\"a\":";
            return s + "1" + std::string(depth, '}');
        }(),
        // Hidden under an unknown top-level key, which the reader otherwise ignores, and inside a node's attrs.
        manifest + ",\"extra\":" + std::string(depth, '[') + std::string(depth, ']') + "}",
        manifest + ",\"extra\":" + std::string(depth, '[') + "}",
    };
    json j = parse(small);
    j["nodes"][0]["attrs"]["stride"] = json::array();
    std::string with_attr = j.dump();
    const std::string marker = "\"stride\":[]";
    with_attr.replace(with_attr.find(marker), marker.size(),
                      "\"stride\":" + std::string(depth, '[') + std::string(depth, ']'));
    docs.push_back(with_attr);
    for (const std::string& doc : docs) {
        CAPTURE(doc.substr(0, 60));
        const auto start = std::chrono::steady_clock::now();
        require_rejected(doc, small.weights, ErrorCode::ModelFormat, "nested deeper than");
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
    }
}

TEST_CASE("documents that are not manifests are refused", "[model][corrupt]") {
    const ModelFiles small = small_model();
    const std::string valid = small.manifest;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "not valid JSON"},
        {" \n\t ", "not valid JSON"},
        {"null", "(document): must be an object"},
        {"[]", "(document): must be an object"},
        {"\"mnet-model\"", "(document): must be an object"},
        {"1", "(document): must be an object"},
        {"{}", "missing key 'format'"},
        {valid + "x", "not valid JSON"},
        {valid + valid, "not valid JSON"},
        {std::string("{\"format\":\"mnet\xff\"}"), "not valid JSON"},  // invalid UTF-8
        {std::string("{\"format\":\"mnet") + '\0' + "model\"}", "not valid JSON"},
        {"{\"format\":\"mnet-model\",\"format_version\":1e999}", "not valid JSON"},
        {"{\"format\":\"mnet-model\",\"format_version\":1,}", "not valid JSON"},
        {"{'format':'mnet-model'}", "not valid JSON"},
        {"{\"format\":\"mnet-model\" /* c */}", "not valid JSON"},
        {std::string(1 << 20, ' ') + "{", "not valid JSON"},
    };
    for (const auto& [text, substring] : cases) {
        CAPTURE(text.substr(0, 60));
        require_rejected(text, small.weights, ErrorCode::ModelFormat, substring);
    }
    // A UTF-8 byte-order mark is harmless: the JSON reader skips it.
    CHECK(load_outcome("\xef\xbb\xbf" + valid, small.weights).loaded);
}

TEST_CASE("the format name and version are checked first", "[model][corrupt]") {
    for (const ModelFiles* base : {&real_model()}) {
        const json good = parse(*base);
        for (const json& name :
             {json("mnet-modelx"), json("MNET-MODEL"), json(""), json("onnx"), json("mnet-model ")}) {
            CAPTURE(name);
            json j = good;
            j["format"] = name;
            require_rejected(j, base->weights, ErrorCode::ModelFormat, "expected \"mnet-model\"");
        }
        for (const json& name : {json(nullptr), json(1), json::array({"mnet-model"}), json::object()}) {
            CAPTURE(name);
            json j = good;
            j["format"] = name;
            require_rejected(j, base->weights, ErrorCode::ModelFormat, "format: must be a string");
        }
        for (int64_t version : {int64_t{0}, int64_t{99}, int64_t{3}, int64_t{-1}, INT64_MIN, INT64_MAX}) {
            CAPTURE(version);
            json j = good;
            j["format_version"] = version;
            // The message names both the file's version and the one this reader knows.
            require_rejected(j, base->weights, ErrorCode::Unsupported,
                             "format_version " + std::to_string(version) + " is ");
            require_rejected(j, base->weights, ErrorCode::Unsupported, version > 2 ? "reads (2); upgrade mnet" : "reads (1 to 2)");
        }
        for (const json& version : {json("1"), json(1.0), json(1.5), json(nullptr), json(true), json::array({1})}) {
            CAPTURE(version);
            json j = good;
            j["format_version"] = version;
            require_rejected(j, base->weights, ErrorCode::ModelFormat, "format_version: must be an integer");
        }
        json j = good;
        j["format_version"] = UINT64_MAX;
        require_rejected(j, base->weights, ErrorCode::ModelFormat, "format_version: integer out of range");
        // A newer version is refused before anything else is looked at, even a broken rest.
        j = json{{"format", "mnet-model"}, {"format_version", 3}, {"tensors", "whatever"}};
        require_rejected(j, base->weights, ErrorCode::Unsupported, "format_version 3 is newer");
    }
}

TEST_CASE("every required key is required", "[model][corrupt]") {
    const ModelFiles small = small_model();
    const json good = parse(small);
    int cases = 0;
    each_object(good, json::json_pointer(), [&](const json::json_pointer& at) {
        for (auto it = good[at].begin(); it != good[at].end(); ++it) {
            if (optional_key(at, it.key())) continue;
            CAPTURE(at.to_string(), it.key());
            json j = good;
            j[at].erase(it.key());
            require_rejected(j, small.weights, ErrorCode::ModelFormat, "missing key '" + it.key() + "'");
            ++cases;
        }
    });
    CHECK(cases > 100);
}

TEST_CASE("unknown keys are refused inside objects and ignored at the top level", "[model][corrupt]") {
    const ModelFiles small = small_model();
    const json good = parse(small);
    int cases = 0;
    each_object(good, json::json_pointer(), [&](const json::json_pointer& at) {
        if (at.empty()) return;
        CAPTURE(at.to_string());
        json j = good;
        j[at]["bogus"] = 1;
        // Inside "weights" of a node and "attrs" an unknown key is an unknown role or attribute (graph checks);
        // "bogus": 1 as a weight role is a wrong type first.
        const std::string s = at.to_string();
        const std::string expected = s.find("/attrs") != std::string::npos      ? "unknown attribute 'bogus'"
                                     : s.rfind("/nodes/", 0) == 0 && s.find("/weights") != std::string::npos
                                         ? ".weights.bogus: must be a string"
                                         : "unknown key 'bogus'";
        require_rejected(j, small.weights, ErrorCode::ModelFormat, expected);
        ++cases;
    });
    CHECK(cases > 20);
    json j = good;
    j["bogus"] = {{"anything", json::array({1, "x", nullptr})}};
    j["comment"] = "top-level keys are room for additive changes";
    const Outcome o = load_outcome(with_manifest(small, j));
    REQUIRE(o.loaded);
    require_runs(o.model);
}
