// SPDX-License-Identifier: Apache-2.0
#include "mnet/tensor.h"

#include "core/checked.h"
#include "core/shape.h"
#include "mnet/error.h"

namespace mnet {

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) throw Error(ErrorCode::InvalidArgument, "negative dimension in a tensor shape");
        auto r = checked_mul(n, d);
        if (!r) throw Error(ErrorCode::InvalidArgument, "tensor shape overflows 64 bits");
        n = *r;
    }
    return n;
}

std::string shape_str(const Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

}  // namespace mnet
