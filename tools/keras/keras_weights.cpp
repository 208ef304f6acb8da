// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cmath>

#include "keras_source.h"
#include "mnet/error.h"

namespace mnet::importer::keras {

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
    return out + "]";
}

int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) throw Error(ErrorCode::ModelFormat, what + ": negative dimension in shape " + shape_text(shape));
        if (d != 0 && n > kMaxWeightElements / d) {
            throw Error(ErrorCode::ModelFormat, what + ": shape " + shape_text(shape) + " has more than " +
                                                    std::to_string(kMaxWeightElements) + " elements");
        }
        n *= d;
    }
    return n;
}

void WeightStore::add(std::string key, WeightArray array) {
    if (key.size() > 2 && key.compare(key.size() - 2, 2, ":0") == 0) key.resize(key.size() - 2);
    const size_t last = key.rfind('/');
    const size_t second = last == std::string::npos || last == 0 ? std::string::npos : key.rfind('/', last - 1);
    const std::string suffix = second == std::string::npos ? key : key.substr(second + 1);
    for (float v : array.values) {
        if (!std::isfinite(v)) throw Error(ErrorCode::ModelFormat, source_ + ": weight '" + key + "' holds NaN or inf");
    }
    if (!arrays_.emplace(key, std::move(array)).second) {
        throw Error(ErrorCode::ModelFormat, source_ + ": weight '" + key + "' appears twice");
    }
    by_suffix_[suffix].push_back(key);
}

const WeightArray* WeightStore::find(const std::string& layer, const std::string& weight,
                                     const std::string& scope) const {
    const std::string suffix = layer + "/" + weight;
    if (auto exact = arrays_.find(suffix); exact != arrays_.end()) return &exact->second;
    auto it = by_suffix_.find(suffix);
    if (it == by_suffix_.end()) return nullptr;
    std::vector<std::string> keys = it->second;
    if (keys.size() > 1 && !scope.empty()) {
        const std::string part = "/" + scope + "/";
        keys.erase(std::remove_if(keys.begin(), keys.end(),
                                  [&](const std::string& k) { return ("/" + k).find(part) == std::string::npos; }),
                   keys.end());
    }
    if (keys.size() != 1) {
        throw Error(ErrorCode::ModelFormat, source_ + ": weight '" + suffix + "' of layer '" + layer +
                                                "' is ambiguous: " + std::to_string(it->second.size()) +
                                                " arrays end in that name");
    }
    return &arrays_.at(keys[0]);
}

}  // namespace mnet::importer::keras
