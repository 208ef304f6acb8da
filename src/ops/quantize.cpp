// SPDX-License-Identifier: Apache-2.0
#include "ops/quantize.h"

#include <algorithm>
#include <cmath>

#include "mnet/error.h"

namespace mnet {

namespace {

constexpr int kU8Max = 255;
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

struct ChannelStats {
    double max_abs = 0;   // largest |w|
    double max_pair = 0;  // largest sum of same-signed |w| over a (2j, 2j+1) input-channel pair at one tap
};

// Statistics of one channel's values `k`, already divided by the unit they are measured in.
ChannelStats channel_stats(const double* k, int64_t ICG, int64_t taps, bool pair_limited) {
    ChannelStats s;
    for (int64_t i = 0; i < ICG * taps; ++i) s.max_abs = std::max(s.max_abs, std::abs(k[i]));
    if (!pair_limited) return s;
    for (int64_t ic = 0; ic + 1 < ICG; ic += 2) {
        for (int64_t t = 0; t < taps; ++t) {
            const double a = k[ic * taps + t], b = k[(ic + 1) * taps + t];
            const double pos = std::max(a, 0.0) + std::max(b, 0.0);
            const double neg = std::max(-a, 0.0) + std::max(-b, 0.0);
            s.max_pair = std::max({s.max_pair, pos, neg});
        }
    }
    return s;
}

// True when every value `k` (a channel divided by the source scale) is an integer within the s8 and pair limits.
bool on_grid(const double* k, int64_t n, const ChannelStats& in_units) {
    if (in_units.max_pair > kExactPairQMax + kIntegerTolerance) return false;
    for (int64_t i = 0; i < n; ++i) {
        // s8's -128 is fine for an exact integer: only re-quantized channels keep their range symmetric.
        if (std::abs(k[i] - std::nearbyint(k[i])) > kIntegerTolerance || k[i] > kWeightQMax + kIntegerTolerance ||
            k[i] < -kWeightQMax - 1 - kIntegerTolerance) {
            return false;
        }
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
    // One division per weight: each channel divided by its scale once, the quotients serving the statistics, the
    // grid test and the rounding alike (session creation spent ~70% of its instructions here with four).
    std::vector<double> k(static_cast<size_t>(per_oc));
    for (int64_t oc = 0; oc < OC; ++oc) {
        const float* c = w.data() + oc * per_oc;
        double scale = 0;
        const double src = source_scale(source, oc, OC);
        bool divided = false;  // k holds c / scale
        if (src > 0) {
            for (int64_t i = 0; i < per_oc; ++i) k[static_cast<size_t>(i)] = c[i] / src;
            divided = on_grid(k.data(), per_oc, channel_stats(k.data(), ICG, taps, pair_limited));
        }
        if (divided) {
            scale = src;
            ++r.exact_channels;
        } else {
            for (int64_t i = 0; i < per_oc; ++i) k[static_cast<size_t>(i)] = c[i];  // in units of 1: exact
            const ChannelStats s = channel_stats(k.data(), ICG, taps, pair_limited);
            scale = std::max(s.max_abs / kWeightQMax, s.max_pair / kPairQMax);
            if (!(scale > 0)) scale = 1;  // an all-zero channel: any scale represents it exactly
            for (int64_t i = 0; i < per_oc; ++i) k[static_cast<size_t>(i)] = c[i] / scale;
        }
        r.scales[oc] = static_cast<float>(scale);
        const double lowest = scale == src ? -kWeightQMax - 1.0 : -double(kWeightQMax);
        for (int64_t i = 0; i < per_oc; ++i) {
            const double q = std::clamp(std::nearbyint(k[static_cast<size_t>(i)]), lowest, double(kWeightQMax));
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
