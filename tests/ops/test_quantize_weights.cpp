// SPDX-License-Identifier: Apache-2.0
// Weight re-quantization (ops/quantize.h) against its contract written out channel by channel: source integers
// kept where they fit, otherwise scale = max(max|w| / 127, worst same-signed pair / 127) and rounding to nearest.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "ops/quantize.h"

using namespace mnet;

namespace {

// The scale a channel not on the source grid gets, straight from the header's words.
double fallback_scale(const std::vector<float>& w, int64_t oc, int64_t icg, int64_t taps, bool pair_limited) {
    double max_abs = 0, max_pair = 0;
    for (int64_t i = 0; i < icg * taps; ++i) max_abs = std::max(max_abs, std::abs(double(w[size_t(oc * icg * taps + i)])));
    for (int64_t ic = 0; pair_limited && ic + 1 < icg; ic += 2) {
        for (int64_t t = 0; t < taps; ++t) {
            const double a = w[size_t((oc * icg + ic) * taps + t)], b = w[size_t((oc * icg + ic + 1) * taps + t)];
            max_pair = std::max({max_pair, std::max(a, 0.0) + std::max(b, 0.0), std::max(-a, 0.0) + std::max(-b, 0.0)});
        }
    }
    const double s = std::max(max_abs / kWeightQMax, max_pair / kPairQMax);
    return s > 0 ? s : 1;
}

}  // namespace

TEST_CASE("quantize_weights keeps source integers that fit and re-quantizes the other channels", "[ops][int8]") {
    constexpr int64_t OC = 6, ICG = 5, KH = 3, KW = 3, taps = KH * KW, per_oc = ICG * taps;
    const double src_scale = 0.01;
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> small(-60, 60), large(-128, 127);
    std::uniform_real_distribution<float> real(-0.9f, 0.9f);
    std::vector<float> w(size_t(OC * per_oc));
    for (int64_t oc = 0; oc < OC; ++oc) {
        for (int64_t i = 0; i < per_oc; ++i) {
            float& v = w[size_t(oc * per_oc + i)];
            if (oc < 2) v = float(small(rng) * src_scale);       // on the grid, pairs within 128: kept
            else if (oc < 4) v = float(large(rng) * src_scale);  // on the grid, but pairs may pass 128
            else v = real(rng);                                  // off the grid
        }
    }
    std::fill(w.begin() + 5 * per_oc, w.end(), 0.0f);  // an all-zero channel
    QuantParams source;
    source.scale = {src_scale};
    source.axis = -1;
    for (const bool pair_limited : {true, false}) {
        CAPTURE(pair_limited);
        const QuantizedWeights q = quantize_weights(w, source, OC, ICG, KH, KW, pair_limited);
        REQUIRE(q.values.size() == w.size());
        int64_t exact = 0;
        for (int64_t oc = 0; oc < OC; ++oc) {
            CAPTURE(oc);
            const bool kept = q.scales[size_t(oc)] == float(src_scale);
            exact += kept;
            if (oc < 2 || (oc < 4 && !pair_limited)) CHECK(kept);
            const double scale = kept ? src_scale : fallback_scale(w, oc, ICG, taps, pair_limited);
            CHECK(q.scales[size_t(oc)] == float(scale));
            for (int64_t i = 0; i < per_oc; ++i) {
                const double want = std::clamp(std::nearbyint(w[size_t(oc * per_oc + i)] / scale),
                                               kept ? -128.0 : -127.0, 127.0);
                REQUIRE(q.values[size_t(oc * per_oc + i)] == int8_t(want));
            }
        }
        CHECK(q.exact_channels == exact);
    }
    CHECK(quantize_weights(w, std::nullopt, OC, ICG, KH, KW, true).exact_channels == 0);
}
