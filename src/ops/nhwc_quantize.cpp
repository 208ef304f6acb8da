// SPDX-License-Identifier: Apache-2.0
#include "ops/nhwc_quantize.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include <immintrin.h>

namespace mnet {

namespace {

// One 16-byte output vector: each channel's bytes moved to their places (the masks' 0x80 entries write 0), then OR'd.
__attribute__((target("avx2"))) inline __m128i mix3(__m128i r, __m128i g, __m128i b, __m128i mr, __m128i mg,
                                                   __m128i mb) {
    return _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(r, mr), _mm_shuffle_epi8(g, mg)), _mm_shuffle_epi8(b, mb));
}

// Interleaves three channel rows into RGB triplets, 16 pixels at a time; returns the pixels done. The compiler
// leaves a stride-3 store loop scalar (docs/performance.md has the measurement).
__attribute__((target("avx2"))) inline int64_t interleave3(const uint8_t* r, const uint8_t* g, const uint8_t* b,
                                                          uint8_t* dst, int64_t width) {
    constexpr char Z = -128;  // a shuffle index with the high bit set writes 0
    const __m128i r0 = _mm_setr_epi8(0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z, Z, 5);
    const __m128i g0 = _mm_setr_epi8(Z, 0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z, Z);
    const __m128i b0 = _mm_setr_epi8(Z, Z, 0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z);
    const __m128i r1 = _mm_setr_epi8(Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z, 10, Z);
    const __m128i g1 = _mm_setr_epi8(5, Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z, 10);
    const __m128i b1 = _mm_setr_epi8(Z, 5, Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z);
    const __m128i r2 = _mm_setr_epi8(Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15, Z, Z);
    const __m128i g2 = _mm_setr_epi8(Z, Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15, Z);
    const __m128i b2 = _mm_setr_epi8(10, Z, Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15);
    int64_t w = 0;
    for (; w + 16 <= width; w += 16) {
        const __m128i R = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + w));
        const __m128i G = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + w));
        const __m128i B = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + w));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * w), mix3(R, G, B, r0, g0, b0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * w + 16), mix3(R, G, B, r1, g1, b1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * w + 32), mix3(R, G, B, r2, g2, b2));
    }
    return w;
}

// kShuffle: interleave three channels with SSSE3 byte shuffles (only in the AVX2 build of these loops).
template <typename T, bool kShuffle = false>
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
                int64_t w = 0;
                if constexpr (kShuffle) w = interleave3(r, g, b, dst, width);
                for (; w < width; ++w) {
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
// (An AVX-512 build of them measured no faster.)
template <typename T>
__attribute__((target("avx2"))) void quantize_rows_avx2(const float* x, T* q, int64_t batch, int64_t channels,
                                                         int64_t height, int64_t width, float inv_scale,
                                                         int32_t zero_point) {
    quantize_rows<T, true>(x, q, batch, channels, height, width, inv_scale, zero_point);
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
