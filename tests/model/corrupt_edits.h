// SPDX-License-Identifier: Apache-2.0
// Table-driven manifest edits for the corrupt-model suite: a JSON pointer, the value put there, and the error the
// loader must give.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/corrupt_support.h"

namespace mnet::test {

struct Edit {
    std::string pointer;  // into the manifest
    json value;           // the new value; erase() removes the key instead
    ErrorCode code;
    std::string substring;
};

inline json erase() { return json(json::value_t::discarded); }

inline json apply(json j, const std::string& pointer, const json& value) {
    const json::json_pointer p(pointer);
    if (value.is_discarded()) {
        json& parent = j[p.parent_pointer()];
        if (parent.is_array()) {
            parent.erase(std::stoul(p.back()));
        } else {
            parent.erase(p.back());
        }
    } else {
        j[p] = value;
    }
    return j;
}

// Applies each edit to `base` on its own and requires its error.
inline void require_edits_rejected(const ModelFiles& base, const std::vector<Edit>& edits) {
    const json good = parse(base);
    for (const Edit& e : edits) {
        CAPTURE(e.pointer, e.value.dump());
        require_rejected(apply(good, e.pointer, e.value), base.weights, e.code, e.substring);
    }
}

// Extreme numbers, as JSON.
inline const json k2p31 = int64_t{1} << 31;
inline const json k2p63 = uint64_t{1} << 63;
inline const json kU64Max = UINT64_MAX;
inline const json kI64Min = INT64_MIN;
inline const json kI64Max = INT64_MAX;

constexpr ErrorCode kFormat = ErrorCode::ModelFormat;
constexpr ErrorCode kUnsupported = ErrorCode::Unsupported;

}  // namespace mnet::test
