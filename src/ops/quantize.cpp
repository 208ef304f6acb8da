// SPDX-License-Identifier: Apache-2.0
#include "ops/quantize.h"

#include <algorithm>
#include <cmath>

#include <immintrin.h>

#include "mnet/error.h"

namespace mnet {

namespace {

constexpr int kU8Max = kU8Range.hi;
// The source integers are recovered from floats that were computed as (q - zero_point) * scale in float: a
// genuine integer lands within a few ulps of one, anything farther was never on that grid.
constexpr double kIntegerTolerance = 1e-3;
// An exact pair of source integers may use the whole int16 headroom: floor(32767 / 255).
constexpr double kExactPairQMax = 128;
// s8's -128 is fine for an exact integer: only re-quantized channels keep their range symmetric.
constexpr double kExactLow = -kWeightQMax - 1.0;

// Inlined into both builds of quantize_channels below.
#define MNET_ALWAYS_INLINE inline __attribute__((always_inline))

// Session creation re-quantizes every weight (3.5 M in MobileNetV2), so these loops are written for the
// vectorizer: no calls, no early exits, reductions declared to OpenMP's simd (the one way GCC vectorizes a
// floating-point max without -ffast-math; nothing here is NaN, the loader refuses non-finite weights). The AVX2
// build rounds in intrinsics (round_to_s8_avx2).

// nearbyint(x) in the default rounding mode (to nearest, ties to even) for |x| < 2^51: the addition rounds x to an
// integer and the subtraction is exact. Used instead of std::nearbyint, a library call at the SSE2 baseline that
// keeps the loops scalar. Larger |x| are outside every range kept here and only their clamp matters.
constexpr double kRoundingBias = 6755399441055744.0;  // 1.5 * 2^52
MNET_ALWAYS_INLINE double round_to_nearest(double x) { return (x + kRoundingBias) - kRoundingBias; }

MNET_ALWAYS_INLINE int8_t to_s8(double r, double lowest) {
    return static_cast<int8_t>(std::min(std::max(r, lowest), double(kWeightQMax)));
}

// The source model's scale for output channel `oc`, or 0 when it has none that applies.
double source_scale(const std::optional<QuantParams>& source, int64_t oc, int64_t OC) {
    if (!source || source->scale.empty()) return 0;
    if (source->axis < 0 && source->scale.size() == 1) return source->scale[0];
    if (source->axis == 0 && static_cast<int64_t>(source->scale.size()) == OC) return source->scale[oc];
    return 0;
}

// Largest and smallest value of a channel. (With std::min and std::max GCC 12 leaves this loop scalar.)
MNET_ALWAYS_INLINE void min_max(const float* c, int64_t n, float* lo, float* hi) {
    float l = c[0], h = c[0];
#pragma omp simd reduction(min : l) reduction(max : h)
    for (int64_t i = 0; i < n; ++i) {
        l = c[i] < l ? c[i] : l;
        h = c[i] > h ? c[i] : h;
    }
    *lo = l;
    *hi = h;
}

// c / unit or c * (1 / unit). A division costs several multiplications' throughput and ran once to three times per
// weight (3.5 M in MobileNetV2) at every session creation. The product differs from the quotient by at most two
// roundings, a relative 2^-52: |k| < 2^9 wherever it decides anything (the callers bound it), an absolute 2^-43. So
// the loops below run on the product and report how close they came to a decision boundary (the integer
// tolerance, the pair limit, a rounding tie); only within kDecisionMargin of one, far wider than 2^-43, is the
// channel redone by division. Every result is therefore that of the division.
template <bool kDivide>
struct Units {
    double unit, inverse;
    MNET_ALWAYS_INLINE double operator()(float c) const { return kDivide ? c / unit : c * inverse; }
};
constexpr double kDecisionMargin = 1e-9;
using ByProduct = Units<false>;
using ByDivision = Units<true>;

MNET_ALWAYS_INLINE bool near(double value, double boundary) { return std::abs(value - boundary) <= kDecisionMargin; }

// Largest sum of same-signed |a|, |b| over a[t] / unit, b[t] / unit.
template <class U>
MNET_ALWAYS_INLINE double max_pair(const float* a, const float* b, int64_t n, U units) {
    double m = 0;
#pragma omp simd reduction(max : m)
    for (int64_t t = 0; t < n; ++t) {
        const double x = units(a[t]), y = units(b[t]);
        const double pos = std::max(x, 0.0) + std::max(y, 0.0), neg = std::max(-x, 0.0) + std::max(-y, 0.0);
        m = std::max(m, std::max(pos, neg));
    }
    return m;
}

// Largest sum of same-signed |k| over a (2j, 2j+1) input-channel pair at one tap of a channel, k = c / unit.
template <class U>
MNET_ALWAYS_INLINE double max_pair(const float* c, int64_t ICG, int64_t taps, U units) {
    double m = 0;
    if (taps == 1) {  // pointwise: the pairs are neighbours
#pragma omp simd reduction(max : m)
        for (int64_t j = 0; j < ICG / 2; ++j) {
            const double x = units(c[2 * j]), y = units(c[2 * j + 1]);
            const double pos = std::max(x, 0.0) + std::max(y, 0.0), neg = std::max(-x, 0.0) + std::max(-y, 0.0);
            m = std::max(m, std::max(pos, neg));
        }
        return m;
    }
    for (int64_t ic = 0; ic + 1 < ICG; ic += 2) m = std::max(m, max_pair(c + ic * taps, c + (ic + 1) * taps, taps, units));
    return m;
}

// q = c / unit rounded to the nearest integer and clamped to [lowest, 127]; returns the largest distance of a
// c / unit from its nearest integer (the integer tolerance decides on it; 0.5 is a tie, where the product and the
// quotient may round apart).
template <class U>
MNET_ALWAYS_INLINE double round_to_s8(const float* c, int64_t n, U units, double lowest, int8_t* q) {
    double worst = 0;
#pragma omp simd reduction(max : worst)
    for (int64_t i = 0; i < n; ++i) {
        const double k = units(c[i]), r = round_to_nearest(k);
        worst = std::max(worst, std::abs(k - r));
        q[i] = to_s8(r, lowest);
    }
    return worst;
}

// round_to_s8 in AVX2 intrinsics, eight values an iteration: GCC 12 builds the loop above with its OpenMP
// reduction kept in stack arrays and half-width vectors (~9 cycles a weight, 11 ms for MobileNetV2's). The same
// operations on the same doubles: _mm256_round_pd to nearest (ties to even) is round_to_nearest, and the clamped
// integers convert and pack exactly.
// Four floats as doubles, divided by or multiplied with `factor` (Units in four lanes).
template <bool kDivide>
__attribute__((target("avx2"), always_inline)) inline __m256d scaled4(__m128 x, __m256d factor) {
    const __m256d d = _mm256_cvtps_pd(x);
    return kDivide ? _mm256_div_pd(d, factor) : _mm256_mul_pd(d, factor);
}

template <bool kDivide>
__attribute__((target("avx2"), always_inline)) inline __m128i round_four_avx2(__m128 x, __m256d factor, __m256d low,
                                                                             __m256d high, __m256d& worst) {
    const __m256d k = scaled4<kDivide>(x, factor);
    const __m256d r = _mm256_round_pd(k, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    worst = _mm256_max_pd(worst, _mm256_andnot_pd(_mm256_set1_pd(-0.0), _mm256_sub_pd(k, r)));
    return _mm256_cvttpd_epi32(_mm256_min_pd(_mm256_max_pd(r, low), high));  // four int32
}

template <bool kDivide>
__attribute__((target("avx2"))) double round_to_s8_avx2(const float* c, int64_t n, Units<kDivide> units,
                                                        double lowest, int8_t* q) {
    const __m256d factor = _mm256_set1_pd(kDivide ? units.unit : units.inverse);
    const __m256d low = _mm256_set1_pd(lowest), high = _mm256_set1_pd(kWeightQMax);
    __m256d worst = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i lo4 = round_four_avx2<kDivide>(_mm_loadu_ps(c + i), factor, low, high, worst);
        const __m128i hi4 = round_four_avx2<kDivide>(_mm_loadu_ps(c + i + 4), factor, low, high, worst);
        const __m128i bytes = _mm_packs_epi16(_mm_packs_epi32(lo4, hi4), _mm_setzero_si128());
        _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), bytes);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, worst);
    double w = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
    return std::max(w, round_to_s8(c + i, n - i, units, lowest, q + i));
}

// max_pair in AVX2 intrinsics, four pairs an iteration, for the CPUs without VNNI that limit pairs: the same
// operations on the same doubles (max is exact, so the order of the reduction does not matter).
__attribute__((target("avx2"), always_inline)) inline __m256d pair_max4(__m256d x, __m256d y, __m256d m) {
    const __m256d zero = _mm256_setzero_pd(), sign = _mm256_set1_pd(-0.0);
    const __m256d pos = _mm256_add_pd(_mm256_max_pd(x, zero), _mm256_max_pd(y, zero));
    const __m256d neg = _mm256_add_pd(_mm256_max_pd(_mm256_xor_pd(x, sign), zero), _mm256_max_pd(_mm256_xor_pd(y, sign), zero));
    return _mm256_max_pd(m, _mm256_max_pd(pos, neg));
}

template <bool kDivide>
__attribute__((target("avx2"))) double max_pair_avx2(const float* c, int64_t ICG, int64_t taps, Units<kDivide> units) {
    const __m256d factor = _mm256_set1_pd(kDivide ? units.unit : units.inverse);
    __m256d m = _mm256_setzero_pd();
    double tail = 0;
    if (taps == 1) {  // neighbours: eight floats hold four pairs, split into their first and second halves
        const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        const int64_t pairs = ICG / 2;
        int64_t j = 0;
        for (; j + 4 <= pairs; j += 4) {
            const __m256 v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(c + 2 * j), split);
            m = pair_max4(scaled4<kDivide>(_mm256_castps256_ps128(v), factor),
                          scaled4<kDivide>(_mm256_extractf128_ps(v, 1), factor), m);
        }
        tail = max_pair(c + 2 * j, 2 * (pairs - j), int64_t{1}, units);
    } else {
        for (int64_t ic = 0; ic + 1 < ICG; ic += 2) {
            const float* a = c + ic * taps;
            const float* b = a + taps;
            int64_t t = 0;
            for (; t + 4 <= taps; t += 4) {
                m = pair_max4(scaled4<kDivide>(_mm_loadu_ps(a + t), factor), scaled4<kDivide>(_mm_loadu_ps(b + t), factor), m);
            }
            tail = std::max(tail, max_pair(a + t, b + t, taps - t, units));
        }
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, m);
    return std::max(std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3])), tail);
}

// The routine for the build: kAvx2 in the AVX2 build of quantize_channels.
template <bool kAvx2, bool kDivide>
MNET_ALWAYS_INLINE double pair_extreme(const float* c, int64_t ICG, int64_t taps, Units<kDivide> units) {
    if constexpr (kAvx2) {
        return max_pair_avx2(c, ICG, taps, units);
    } else {
        return max_pair(c, ICG, taps, units);
    }
}

template <bool kAvx2, bool kDivide>
MNET_ALWAYS_INLINE double round_channel(const float* c, int64_t n, Units<kDivide> units, double lowest, int8_t* q) {
    if constexpr (kAvx2) {
        return round_to_s8_avx2(c, n, units, lowest, q);
    } else {
        return round_to_s8(c, n, units, lowest, q);
    }
}

// True when every c / src is within kIntegerTolerance of an integer and, if `pair_limited`, the pairs of those
// integers fit kExactPairQMax; q then holds the integers. The caller has checked that the extremes fit s8, which
// bounds |c / src| by 129.
template <bool kAvx2>
MNET_ALWAYS_INLINE bool on_source_grid(const float* c, int64_t ICG, int64_t taps, bool pair_limited, double src,
                                       int8_t* q) {
    const ByProduct fast{src, 1.0 / src};
    const ByDivision exact{src, 0.0};
    const int64_t n = ICG * taps;
    const bool by_product = std::isfinite(fast.inverse);  // a subnormal scale has no finite inverse
    double worst = by_product ? round_channel<kAvx2>(c, n, fast, kExactLow, q) : 0;
    if (!by_product || near(worst, kIntegerTolerance)) worst = round_channel<kAvx2>(c, n, exact, kExactLow, q);
    if (worst > kIntegerTolerance) return false;
    if (!pair_limited) return true;
    double pair = by_product ? pair_extreme<kAvx2>(c, ICG, taps, fast) : 0;
    if (!by_product || near(pair, kExactPairQMax + kIntegerTolerance)) pair = pair_extreme<kAvx2>(c, ICG, taps, exact);
    return pair <= kExactPairQMax + kIntegerTolerance;
}

// Rounds c / scale into q (scale >= max|c| / 127 bounds |c / scale| by 128).
template <bool kAvx2>
MNET_ALWAYS_INLINE void requantize(const float* c, int64_t n, double scale, double lowest, int8_t* q) {
    const ByProduct fast{scale, 1.0 / scale};
    if (!std::isfinite(fast.inverse) || near(round_channel<kAvx2>(c, n, fast, lowest, q), 0.5)) {
        round_channel<kAvx2>(c, n, ByDivision{scale, 0.0}, lowest, q);
    }
}

// Every channel of `w` into `r` (sized by the caller).
template <bool kAvx2>
MNET_ALWAYS_INLINE void quantize_channels(const float* w, const std::optional<QuantParams>& source, int64_t OC, int64_t ICG,
                               int64_t taps, bool pair_limited, QuantizedWeights& r) {
    const int64_t per_oc = ICG * taps;
    for (int64_t oc = 0; oc < OC; ++oc) {
        const float* c = w + oc * per_oc;
        int8_t* q = r.values.data() + oc * per_oc;
        float lo = 0, hi = 0;
        min_max(c, per_oc, &lo, &hi);
        // Division is monotone, so the extremes of c / src are lo / src and hi / src: a channel whose extremes
        // leave s8 is not tested element by element.
        const double src = source_scale(source, oc, OC);
        const bool exact = src > 0 && hi / src <= kWeightQMax + kIntegerTolerance &&
                           lo / src >= kExactLow - kIntegerTolerance && on_source_grid<kAvx2>(c, ICG, taps, pair_limited, src, q);
        double scale = src;
        if (exact) {
            ++r.exact_channels;
        } else {
            const double max_abs = std::max(-double(lo), double(hi));
            const double pair = pair_limited ? pair_extreme<kAvx2>(c, ICG, taps, ByProduct{1.0, 1.0}) : 0.0;  // c * 1: exact
            scale = std::max(max_abs / kWeightQMax, pair / kPairQMax);
            if (!(scale > 0)) scale = 1;  // an all-zero channel: any scale represents it exactly
            requantize<kAvx2>(c, per_oc, scale, scale == src ? kExactLow : -double(kWeightQMax), q);
        }
        r.scales[oc] = static_cast<float>(scale);
    }
}

// The same loops compiled for AVX2 as well: four doubles per vector instead of two at the SSE2 baseline.
__attribute__((target("avx2"))) void quantize_channels_avx2(const float* w, const std::optional<QuantParams>& source,
                                                            int64_t OC, int64_t ICG, int64_t taps, bool pair_limited,
                                                            QuantizedWeights& r) {
    quantize_channels<true>(w, source, OC, ICG, taps, pair_limited, r);
}

void quantize_channels_baseline(const float* w, const std::optional<QuantParams>& source, int64_t OC, int64_t ICG,
                                int64_t taps, bool pair_limited, QuantizedWeights& r) {
    quantize_channels<false>(w, source, OC, ICG, taps, pair_limited, r);
}

#undef MNET_ALWAYS_INLINE

}  // namespace

QuantizedWeights quantize_weights(const float* w, size_t count, const std::optional<QuantParams>& source, int64_t OC,
                                  int64_t ICG, int64_t KH, int64_t KW, bool pair_limited) {
    const int64_t taps = KH * KW, per_oc = ICG * taps;
    if (OC <= 0 || per_oc <= 0 || static_cast<int64_t>(count) != OC * per_oc) {
        throw Error(ErrorCode::Internal, "quantize_weights: " + std::to_string(count) + " values for [" +
                                             std::to_string(OC) + ", " + std::to_string(ICG) + ", " +
                                             std::to_string(KH) + ", " + std::to_string(KW) + "]");
    }
    QuantizedWeights r;
    r.values.resize(count);
    r.scales.resize(static_cast<size_t>(OC));
    static const bool avx2 = __builtin_cpu_supports("avx2");
    (avx2 ? quantize_channels_avx2 : quantize_channels_baseline)(w, source, OC, ICG, taps, pair_limited, r);
    return r;
}

QuantParams u8_params_for_range(float lo, float hi) {
    const double low = std::min(0.0, double(lo)), high = std::max(0.0, double(hi));
    QuantParams q;
    q.dtype = DType::U8;
    q.axis = -1;
    if (!(high > low) || !std::isfinite(high - low)) {
        q.scale = {1.0};  // nothing but zeros seen (or no finite range): any scale keeps 0 exact
        q.zero_point = {0};
        return q;
    }
    const double scale = (high - low) / kU8Max;
    q.scale = {scale};
    q.zero_point = {static_cast<int64_t>(std::clamp(std::nearbyint(-low / scale), 0.0, double(kU8Max)))};
    return q;
}

}  // namespace mnet
