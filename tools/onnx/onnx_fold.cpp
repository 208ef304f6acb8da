// SPDX-License-Identifier: Apache-2.0
// Constant folding in the ONNX Translator (onnx_translator.h): Constant, and Shape/Gather/Unsqueeze/Squeeze/
// Concat/Cast over values known at import time. What is not static is refused.
#include <algorithm>
#include <cmath>

#include "mnet/error.h"
#include "onnx/onnx_pb.h"
#include "onnx_translator.h"

namespace mnet::importer::onnx_import {

namespace {

int64_t normalized_axis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

}  // namespace

void Translator::constant() {
    expect_inputs(0, 0);
    if (node_->attribute_size() != 1) fail(ErrorCode::ModelFormat, "needs exactly one value attribute");
    const onnx::AttributeProto& a = node_->attribute(0);
    ConstTensor c;
    if (a.name() == "value") {
        c = decode_tensor(a.t(), dir_, model_.path + ": " + node_label(*node_, node_index_));
    } else if (a.name() == "value_float" || a.name() == "value_int") {
        c.type = a.name() == "value_float" ? kFloat : kInt64;
        c.values = {a.name() == "value_float" ? static_cast<double>(a.f()) : static_cast<double>(a.i())};
    } else if (a.name() == "value_floats" || a.name() == "value_ints") {
        c.type = a.name() == "value_floats" ? kFloat : kInt64;
        if (c.type == kFloat) c.values.assign(a.floats().begin(), a.floats().end());
        else for (int64_t v : a.ints()) c.values.push_back(static_cast<double>(v));
        c.dims = {static_cast<int64_t>(c.values.size())};
    } else {
        fail(ErrorCode::Unsupported, "value attribute '" + a.name() + "'");
    }
    define_const(std::move(c));
}

void Translator::shape() {
    expect_inputs(1, 1);
    const Value& x = value(0);
    ConstTensor c;
    c.type = kInt64;
    if (x.kind == Value::Const) {
        for (int64_t d : x.c.dims) c.values.push_back(static_cast<double>(d));
    } else {
        for (int64_t d : x.shape) c.values.push_back(static_cast<double>(d));
        if (model_.input_dims[0] < 0 && !c.values.empty()) c.values[0] = kBatchDim;
    }
    const auto rank = static_cast<int64_t>(c.values.size());
    int64_t start = normalized_axis(attr_int("start", 0), rank), end = normalized_axis(attr_int("end", rank), rank);
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    c.values = std::vector<double>(c.values.begin() + start, c.values.begin() + end);
    c.dims = {end - start};
    define_const(std::move(c));
}

void Translator::gather() {
    expect_inputs(2, 2);
    const ConstTensor& data = const_input(0, "data");
    const ConstTensor& idx = const_input(1, "indices");
    if (data.dims.size() != 1 || attr_int("axis", 0) != 0 || idx.dims.size() > 1) {
        fail(ErrorCode::Unsupported, "only Gather from a 1-D constant (a shape) is folded");
    }
    ConstTensor c;
    c.type = data.type;
    c.dims = idx.dims;
    const auto n = static_cast<int64_t>(data.values.size());
    for (double v : idx.values) {
        const int64_t i = normalized_axis(static_cast<int64_t>(v), n);
        if (i < 0 || i >= n) fail(ErrorCode::ModelFormat, "index " + std::to_string(static_cast<int64_t>(v)) + " out of range");
        c.values.push_back(data.values[static_cast<size_t>(i)]);
    }
    define_const(std::move(c));
}

void Translator::unsqueeze() {
    expect_inputs(1, 2);
    ConstTensor c = const_input(0, "data");
    std::vector<int64_t> axes = attr_ints("axes", {});
    if (has_input(1)) {
        axes.clear();
        for (double v : const_input(1, "axes").values) axes.push_back(static_cast<int64_t>(v));
    }
    const auto rank = static_cast<int64_t>(c.dims.size() + axes.size());
    for (int64_t& a : axes) a = normalized_axis(a, rank);
    std::sort(axes.begin(), axes.end());
    for (int64_t a : axes) {
        if (a < 0 || a > static_cast<int64_t>(c.dims.size())) fail(ErrorCode::ModelFormat, "axis out of range");
        c.dims.insert(c.dims.begin() + a, 1);
    }
    define_const(std::move(c));
}

void Translator::squeeze() {
    expect_inputs(1, 2);
    ConstTensor c = const_input(0, "data");
    std::vector<int64_t> axes = attr_ints("axes", {});
    if (has_input(1)) {
        axes.clear();
        for (double v : const_input(1, "axes").values) axes.push_back(static_cast<int64_t>(v));
    }
    std::vector<int64_t> dims;
    for (size_t i = 0; i < c.dims.size(); ++i) {
        bool drop = axes.empty() && c.dims[i] == 1;
        for (int64_t a : axes) drop = drop || normalized_axis(a, static_cast<int64_t>(c.dims.size())) == static_cast<int64_t>(i);
        if (drop && c.dims[i] != 1) fail(ErrorCode::ModelFormat, "squeezes a dimension that is not 1");
        if (!drop) dims.push_back(c.dims[i]);
    }
    c.dims = dims;
    define_const(std::move(c));
}

void Translator::cast() {
    expect_inputs(1, 1);
    const Value& x = value(0);
    const int64_t to = attr_int("to", kFloat);
    if (x.kind == Value::Act) {
        if (to != kFloat || x.integer) fail(ErrorCode::Unsupported, "Cast of an activation to a type other than float");
        return alias(x);
    }
    ConstTensor c = x.c;
    if (to != kFloat && to != kDouble && to != kInt64 && to != kInt32) fail(ErrorCode::Unsupported, std::string("Cast to ") + elem_type_name(static_cast<int32_t>(to)));
    if (to == kInt64 || to == kInt32) {
        for (double& v : c.values) if (v != kBatchDim) v = std::trunc(v);
    }
    c.type = static_cast<int32_t>(to);
    define_const(std::move(c), x.cquant);
}

void Translator::concat() {
    if (node_->input_size() < 1) fail(ErrorCode::ModelFormat, "no inputs");
    for (int i = 0; i < node_->input_size(); ++i) {
        if (value(static_cast<size_t>(i)).kind != Value::Const) {
            fail(ErrorCode::Unsupported, "Concat of activations: mnet has no concatenation op (none of the "
                                         "supported MobileNets needs one); only constant Concat is folded");
        }
    }
    const ConstTensor& first = value(0).c;
    const auto rank = static_cast<int64_t>(first.dims.size());
    const int64_t axis = normalized_axis(attr_int("axis", 0), rank);
    if (axis < 0 || axis >= rank) fail(ErrorCode::ModelFormat, "axis out of range");
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= first.dims[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= first.dims[static_cast<size_t>(d)];
    ConstTensor c;
    c.type = first.type;
    c.dims = first.dims;
    c.dims[static_cast<size_t>(axis)] = 0;
    for (int i = 0; i < node_->input_size(); ++i) {
        const ConstTensor& t = value(static_cast<size_t>(i)).c;
        for (int64_t d = 0; d < rank; ++d) {
            if (t.dims.size() != first.dims.size() || (d != axis && t.dims[static_cast<size_t>(d)] != first.dims[static_cast<size_t>(d)])) {
                fail(ErrorCode::ModelFormat, "inputs " + dims_text(first.dims) + " and " + dims_text(t.dims) + " do not concatenate");
            }
        }
        c.dims[static_cast<size_t>(axis)] += t.dims[static_cast<size_t>(axis)];
    }
    for (int64_t o = 0; o < outer; ++o) {
        for (int i = 0; i < node_->input_size(); ++i) {
            const ConstTensor& t = value(static_cast<size_t>(i)).c;
            const auto run = static_cast<size_t>(t.dims[static_cast<size_t>(axis)] * inner);
            const auto begin = t.values.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(o) * run);
            c.values.insert(c.values.end(), begin, begin + static_cast<std::ptrdiff_t>(run));
        }
    }
    define_const(std::move(c));
}

}  // namespace mnet::importer::onnx_import
