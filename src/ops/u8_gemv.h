// SPDX-License-Identifier: Apache-2.0
// A classifier's matrix-vector product read from its 8-bit weight integers instead of their float values.
//
// Why: at small batches the classifier (MobileNetV2: 1001 x 1280) reads every weight once per image and does
// nothing else, so it runs at memory speed; a quantized model's weights are (q - zero_point) * scale with q of
// 8 bits, the same values in a quarter of the bytes (docs/performance.md). The result equals the float product up
// to rounding order.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "model/model_def.h"

namespace mnet {

struct U8Matrix {
    int64_t rows = 0, cols = 0;
    std::vector<uint8_t> q;         // rows x cols, row-major
    std::vector<float> scale;       // per row
    std::vector<int32_t> zero_point;  // per row
};

// The integers behind `values` (rows x cols float weights, row-major) under `quant`, per tensor or per row
// (axis 0), when every value is exactly float((q - zero_point) * scale) for a u8 q; nullopt otherwise.
std::optional<U8Matrix> recover_u8(const std::vector<float>& values, int64_t rows, int64_t cols,
                                   const QuantParams& quant);

// True when this CPU runs u8_gemv's vector kernel (AVX2 and FMA).
bool u8_gemv_supported();

// y[n][r] = clamp(bias[r] + sum_c (q[r][c] - zero_point[r]) * scale[r] * x[n][c], lo, hi) for n < batch, rows
// split across the OpenMP threads. REQUIRES u8_gemv_supported(), cols % 16 == 0.
void u8_gemv(const U8Matrix& w, const float* bias, const float* x, float* y, int64_t batch, float lo, float hi);

}  // namespace mnet
