// SPDX-License-Identifier: Apache-2.0
// Reading Keras layer configs, shared by the layer translations. Internal to the Keras importer.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mnet::importer::keras {

// TensorFlow's SAME padding: output ceil(in / stride), the odd pixel of padding at the bottom/right.
inline void same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t& before, int64_t& after) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t extent = (kernel - 1) * dilation + 1;
    const int64_t total = std::max<int64_t>((out - 1) * stride + extent - in, 0);
    before = total / 2;
    after = total - before;
}

// A layer's config; every reader reports a bad value through `bad` (which throws), naming the key.
struct Config {
    using json = nlohmann::json;
    const json& cfg;
    std::function<void(const std::string&)> bad;

    bool has(const char* key) const { return cfg.contains(key) && !cfg[key].is_null(); }
    int64_t integer(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
        if (!has(key)) {
            if (fallback) return *fallback;
            bad(std::string("config has no '") + key + "'");
        }
        if (!cfg[key].is_number_integer()) bad(std::string("config '") + key + "' is not an integer");
        return cfg[key].get<int64_t>();
    }
    double number(const char* key, double fallback) const {
        if (!has(key)) return fallback;
        if (!cfg[key].is_number()) bad(std::string("config '") + key + "' is not a number");
        return cfg[key].get<double>();
    }
    bool boolean(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        if (!cfg[key].is_boolean()) bad(std::string("config '") + key + "' is not true or false");
        return cfg[key].get<bool>();
    }
    std::string string(const char* key, const std::string& fallback) const {
        if (!has(key)) return fallback;
        if (!cfg[key].is_string()) bad(std::string("config '") + key + "' is not a string");
        return cfg[key].get<std::string>();
    }
    // An int or a pair [h, w] of positive ints.
    std::array<int64_t, 2> pair(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
        if (!has(key)) {
            if (fallback) return {*fallback, *fallback};
            bad(std::string("config has no '") + key + "'");
        }
        const json& v = cfg[key];
        std::array<int64_t, 2> out{};
        if (v.is_number_integer()) {
            out = {v.get<int64_t>(), v.get<int64_t>()};
        } else if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) {
            out = {v[0].get<int64_t>(), v[1].get<int64_t>()};
        } else {
            bad(std::string("config '") + key + "' is not an int or a pair of ints");
        }
        if (out[0] < 1 || out[1] < 1) bad(std::string("config '") + key + "' must be positive");
        return out;
    }
};

}  // namespace mnet::importer::keras
