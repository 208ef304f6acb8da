// SPDX-License-Identifier: Apache-2.0
#include "model/model_def.h"

#include "mnet/error.h"

namespace mnet {

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::F32: return "f32";
        case DType::S32: return "s32";
        case DType::S8: return "s8";
        case DType::U8: return "u8";
    }
    return "?";
}

size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::F32: return 4;
        case DType::S32: return 4;
        case DType::S8: return 1;
        case DType::U8: return 1;
    }
    return 0;
}

std::optional<DType> dtype_from_name(const std::string& name) {
    for (DType d : {DType::F32, DType::S32, DType::S8, DType::U8}) {
        if (name == dtype_name(d)) return d;
    }
    return std::nullopt;
}

std::optional<QuantRange> quant_range(DType dtype) {
    switch (dtype) {
        case DType::U8: return kU8Range;
        case DType::S8: return kS8Range;
        case DType::F32:
        case DType::S32: return std::nullopt;
    }
    return std::nullopt;
}

namespace {

[[noreturn]] void bad_attr(const NodeDef& node, const std::string& key, const std::string& what) {
    throw Error(ErrorCode::ModelFormat, "node '" + node.name + "' (" + node.op + "): attribute '" + key + "' " + what);
}

const AttrValue* find_attr(const NodeDef& node, const std::string& key) {
    auto it = node.attrs.find(key);
    return it == node.attrs.end() ? nullptr : &it->second;
}

}  // namespace

int64_t attr_int(const NodeDef& node, const std::string& key, std::optional<int64_t> fallback) {
    const AttrValue* v = find_attr(node, key);
    if (!v) {
        if (fallback) return *fallback;
        bad_attr(node, key, "is missing");
    }
    if (auto i = std::get_if<int64_t>(v)) return *i;
    bad_attr(node, key, "must be an integer");
}

std::string attr_string(const NodeDef& node, const std::string& key, std::optional<std::string> fallback) {
    const AttrValue* v = find_attr(node, key);
    if (!v) {
        if (fallback) return *fallback;
        bad_attr(node, key, "is missing");
    }
    if (auto s = std::get_if<std::string>(v)) return *s;
    bad_attr(node, key, "must be a string");
}

std::vector<int64_t> attr_ints(const NodeDef& node, const std::string& key, size_t expected_size,
                               std::optional<std::vector<int64_t>> fallback) {
    const AttrValue* v = find_attr(node, key);
    if (!v) {
        if (fallback) return *fallback;
        bad_attr(node, key, "is missing");
    }
    auto ints = std::get_if<std::vector<int64_t>>(v);
    if (!ints) bad_attr(node, key, "must be an array of integers");
    if (expected_size != 0 && ints->size() != expected_size) {
        bad_attr(node, key, "has " + std::to_string(ints->size()) + " values, expected " +
                                std::to_string(expected_size));
    }
    return *ints;
}

}  // namespace mnet
