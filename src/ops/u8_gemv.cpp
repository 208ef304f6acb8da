// SPDX-License-Identifier: Apache-2.0
#include "ops/u8_gemv.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace mnet {

std::optional<U8Matrix> recover_u8(const std::vector<float>& values, int64_t rows, int64_t cols,
                                   const QuantParams& quant) {
    const bool per_row = quant.axis == 0 && static_cast<int64_t>(quant.scale.size()) == rows;
    const bool per_tensor = quant.scale.size() == 1;
    if (quant.dtype != DType::U8 || (!per_row && !per_tensor) || quant.zero_point.size() != quant.scale.size() ||
        static_cast<int64_t>(values.size()) != rows * cols) {
        return std::nullopt;
    }
    U8Matrix m;
    m.rows = rows;
    m.cols = cols;
    m.q.resize(values.size());
    for (int64_t r = 0; r < rows; ++r) {
        const size_t p = per_row ? static_cast<size_t>(r) : 0;
        const double scale = quant.scale[p];
        const int64_t zp = quant.zero_point[p];
        if (!(scale > 0) || zp < kU8Range.lo || zp > kU8Range.hi) return std::nullopt;
        m.scale.push_back(static_cast<float>(scale));
        m.zero_point.push_back(static_cast<int32_t>(zp));
        for (int64_t c = 0; c < cols; ++c) {
            const size_t i = static_cast<size_t>(r * cols + c);
            const double q = std::nearbyint(values[i] / scale) + static_cast<double>(zp);
            if (!(q >= kU8Range.lo && q <= kU8Range.hi) || static_cast<float>((q - static_cast<double>(zp)) * scale) != values[i]) {
                return std::nullopt;  // not this tensor's integers: the float weights stay
            }
            m.q[i] = static_cast<uint8_t>(q);
        }
    }
    return m;
}

bool u8_gemv_supported() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

namespace {

__attribute__((target("avx2,fma"))) float row_dot(const uint8_t* q, int32_t zero_point, const float* x, int64_t cols) {
    const __m256i zp = _mm256_set1_epi32(zero_point);
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    for (int64_t c = 0; c < cols; c += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + c));
        const __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(v), zp));
        const __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)), zp));
        a = _mm256_fmadd_ps(lo, _mm256_loadu_ps(x + c), a);
        b = _mm256_fmadd_ps(hi, _mm256_loadu_ps(x + c + 8), b);
    }
    a = _mm256_add_ps(a, b);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(s);
}

}  // namespace

void u8_gemv(const U8Matrix& w, const float* bias, const float* x, float* y, int64_t batch, float lo, float hi) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < w.rows; ++r) {
        const uint8_t* row = w.q.data() + r * w.cols;
        for (int64_t n = 0; n < batch; ++n) {
            const float dot = row_dot(row, w.zero_point[r], x + n * w.cols, w.cols);
            y[n * w.rows + r] = std::clamp(bias[r] + w.scale[r] * dot, lo, hi);
        }
    }
}

}  // namespace mnet
