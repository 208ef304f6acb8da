// SPDX-License-Identifier: Apache-2.0
// A float NCHW batch quantized straight into NHWC 8-bit integers: how an int8 graph takes its input.
//
// Why not oneDNN: its reorder ignores zero points when it transposes as well (lowering_int8.cpp), so it needs
// two passes, quantize then transpose (docs/performance.md has their cost). One pass reads the image once and
// writes each byte once.
#pragma once

#include <cstdint>

namespace mnet {

// q[n][h][w][c] = saturate(nearbyint(x[n][c][h][w] * inv_scale + zero_point)) for T = uint8_t or int8_t, the
// arithmetic of oneDNN's quantizing reorder (output scale inv_scale, destination zero point), rows split across
// the OpenMP threads.
template <typename T>
void quantize_nchw_to_nhwc(const float* x, T* q, int64_t batch, int64_t channels, int64_t height, int64_t width,
                           float inv_scale, int32_t zero_point);

}  // namespace mnet
