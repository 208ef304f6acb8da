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

// The source model's scale for output channel `oc`, or 0 when it has none that applies.
double source_scale(const std::optional<QuantParams>& source, int64_t oc, int64_t OC) {
    if (!source || source->scale.empty()) return 0;
    if (source->axis < 0 && source->scale.size() == 1) return source->scale[0];
    if (source->axis == 0 && static_cast<int64_t>(source->scale.size()) == OC) return source->scale[oc];
    return 0;
}

// Largest |k| of a channel.
double max_abs(const double* k, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(k[i]));
    return m;
}

// Largest sum of same-signed |k| over a (2j, 2j+1) input-channel pair at one tap of a channel.
double max_pair(const double* k, int64_t ICG, int64_t taps) {
    double m = 0;
    for (int64_t ic = 0; ic + 1 < ICG; ic += 2) {
        for (int64_t t = 0; t < taps; ++t) {
            const double a = k[ic * taps + t], b = k[(ic + 1) * taps + t];
            const double pos = std::max(a, 0.0) + std::max(b, 0.0);
            const double neg = std::max(-a, 0.0) + std::max(-b, 0.0);
            m = std::max({m, pos, neg});
        }
    }
    return m;
}

// True when every value `k` (a channel divided by the source scale) is an integer within the s8 limits and its
// worst pair (`pair`, in the same units) within the exact-pair limit; then `rounded` holds those integers.
bool on_grid(const double* k, int64_t n, double pair, double* rounded) {
    if (pair > kExactPairQMax + kIntegerTolerance) return false;
    for (int64_t i = 0; i < n; ++i) {
        const double r = std::nearbyint(k[i]);
        // s8's -128 is fine for an exact integer: only re-quantized channels keep their range symmetric.
        if (std::abs(k[i] - r) > kIntegerTolerance || k[i] > kWeightQMax + kIntegerTolerance ||
            k[i] < -kWeightQMax - 1 - kIntegerTolerance) {
            return false;
        }
        rounded[i] = r;
    }
    return true;
}

}  // namespace

QuantizedWeights quantize_weights(const std::vector<float>& w, const std::optional<QuantParams>& source, int64_t OC,
                                  int64_t ICG, int64_t KH, int64_t KW, bool pair_limited) {
    const int64_t taps = KH * KW, per_oc = ICG * taps;
    if (OC <= 0 || per_oc <= 0 || static_cast<int64_t>(w.size()) != OC * per_oc) {
        throw Error(ErrorCode::Internal, "quantize_weights: " + std::to_string(w.size()) + " values for [" +
                                             std::to_string(OC) + ", " + std::to_string(ICG) + ", " +
                                             std::to_string(KH) + ", " + std::to_string(KW) + "]");
    }
    QuantizedWeights r;
    r.values.resize(w.size());
    r.scales.resize(static_cast<size_t>(OC));
    // Each weight divided by its scale and rounded once, the quotients serving the pair statistic, the grid test
    // and the result alike (session creation spent ~70% of its instructions here when each step redid them).
    std::vector<double> k(static_cast<size_t>(per_oc)), rounded(static_cast<size_t>(per_oc));
    for (int64_t oc = 0; oc < OC; ++oc) {
        const float* c = w.data() + oc * per_oc;
        double scale = 0;
        const double src = source_scale(source, oc, OC);
        bool exact = false;
        if (src > 0) {
            for (int64_t i = 0; i < per_oc; ++i) k[static_cast<size_t>(i)] = c[i] / src;
            const double pair = pair_limited ? max_pair(k.data(), ICG, taps) : 0.0;
            exact = on_grid(k.data(), per_oc, pair, rounded.data());
        }
        if (exact) {
            scale = src;
            ++r.exact_channels;
        } else {
            for (int64_t i = 0; i < per_oc; ++i) k[static_cast<size_t>(i)] = c[i];  // in units of 1: exact
            const double pair = pair_limited ? max_pair(k.data(), ICG, taps) : 0.0;
            scale = std::max(max_abs(k.data(), per_oc) / kWeightQMax, pair / kPairQMax);
            if (!(scale > 0)) scale = 1;  // an all-zero channel: any scale represents it exactly
            for (int64_t i = 0; i < per_oc; ++i) rounded[static_cast<size_t>(i)] = std::nearbyint(c[i] / scale);
        }
        r.scales[oc] = static_cast<float>(scale);
        const double lowest = scale == src ? -kWeightQMax - 1.0 : -double(kWeightQMax);
        for (int64_t i = 0; i < per_oc; ++i) {
            const double q = std::clamp(rounded[static_cast<size_t>(i)], lowest, double(kWeightQMax));
            r.values[oc * per_oc + i] = static_cast<int8_t>(q);
        }
    }
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
