// SPDX-License-Identifier: Apache-2.0
// mnet: a dense float32 tensor in logical NCHW order, the only data type crossing the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnet {

using Shape = std::vector<int64_t>;

// Number of elements of `shape`. REQUIRES: every dim >= 0 and the product fits in int64.
int64_t shape_numel(const Shape& shape);

struct Tensor {
    Shape shape;              // e.g. {N, C, H, W} or {N, classes}
    std::vector<float> data;  // row-major over `shape`; data.size() == shape_numel(shape)

    Tensor() = default;
    explicit Tensor(Shape s) : shape(std::move(s)), data(static_cast<size_t>(shape_numel(shape))) {}
    int64_t numel() const { return static_cast<int64_t>(data.size()); }
};

}  // namespace mnet
