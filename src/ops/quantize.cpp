// SPDX-License-Identifier: Apache-2.0
#include "ops/quantize.h"

#include <algorithm>
#include <cmath>

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
// floating-point max without -ffast-math; nothing here is NaN, the loader refuses non-finite weights).

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

// Largest sum of same-signed |a|, |b| over a[t] / unit, b[t] / unit.
MNET_ALWAYS_INLINE double max_pair(const float* a, const float* b, int64_t n, double unit) {
    double m = 0;
#pragma omp simd reduction(max : m)
    for (int64_t t = 0; t < n; ++t) {
        const double x = a[t] / unit, y = b[t] / unit;
        const double pos = std::max(x, 0.0) + std::max(y, 0.0), neg = std::max(-x, 0.0) + std::max(-y, 0.0);
        m = std::max(m, std::max(pos, neg));
    }
    return m;
}

// Largest sum of same-signed |k| over a (2j, 2j+1) input-channel pair at one tap of a channel, k = c / unit.
MNET_ALWAYS_INLINE double max_pair(const float* c, int64_t ICG, int64_t taps, double unit) {
    double m = 0;
    if (taps == 1) {  // pointwise: the pairs are neighbours
#pragma omp simd reduction(max : m)
        for (int64_t j = 0; j < ICG / 2; ++j) {
            const double x = c[2 * j] / unit, y = c[2 * j + 1] / unit;
            const double pos = std::max(x, 0.0) + std::max(y, 0.0), neg = std::max(-x, 0.0) + std::max(-y, 0.0);
            m = std::max(m, std::max(pos, neg));
        }
        return m;
    }
    for (int64_t ic = 0; ic + 1 < ICG; ic += 2) m = std::max(m, max_pair(c + ic * taps, c + (ic + 1) * taps, taps, unit));
    return m;
}

// True when every c / unit is within kIntegerTolerance of an integer; q holds those integers, clamped to s8.
MNET_ALWAYS_INLINE bool integers(const float* c, int64_t n, double unit, int8_t* q) {
    double worst = 0;
#pragma omp simd reduction(max : worst)
    for (int64_t i = 0; i < n; ++i) {
        const double k = c[i] / unit, r = round_to_nearest(k);
        worst = std::max(worst, std::abs(k - r));
        q[i] = to_s8(r, kExactLow);
    }
    return worst <= kIntegerTolerance;
}

MNET_ALWAYS_INLINE void round_channel(const float* c, int64_t n, double scale, double lowest, int8_t* q) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) q[i] = to_s8(round_to_nearest(c[i] / scale), lowest);
}

// Every channel of `w` into `r` (sized by the caller).
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
                           lo / src >= kExactLow - kIntegerTolerance && integers(c, per_oc, src, q) &&
                           (!pair_limited || max_pair(c, ICG, taps, src) <= kExactPairQMax + kIntegerTolerance);
        double scale = src;
        if (exact) {
            ++r.exact_channels;
        } else {
            const double max_abs = std::max(-double(lo), double(hi));
            const double pair = pair_limited ? max_pair(c, ICG, taps, 1.0) : 0.0;  // in units of 1: exact
            scale = std::max(max_abs / kWeightQMax, pair / kPairQMax);
            if (!(scale > 0)) scale = 1;  // an all-zero channel: any scale represents it exactly
            round_channel(c, per_oc, scale, scale == src ? kExactLow : -double(kWeightQMax), q);
        }
        r.scales[oc] = static_cast<float>(scale);
    }
}

// The same loops compiled for AVX2 as well: four doubles per vector instead of two at the SSE2 baseline.
__attribute__((target("avx2"))) void quantize_channels_avx2(const float* w, const std::optional<QuantParams>& source,
                                                            int64_t OC, int64_t ICG, int64_t taps, bool pair_limited,
                                                            QuantizedWeights& r) {
    quantize_channels(w, source, OC, ICG, taps, pair_limited, r);
}

void quantize_channels_baseline(const float* w, const std::optional<QuantParams>& source, int64_t OC, int64_t ICG,
                                int64_t taps, bool pair_limited, QuantizedWeights& r) {
    quantize_channels(w, source, OC, ICG, taps, pair_limited, r);
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
