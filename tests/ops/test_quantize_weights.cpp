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
        const QuantizedWeights q = quantize_weights(w.data(), w.size(), source, OC, ICG, KH, KW, pair_limited);
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
    CHECK(quantize_weights(w.data(), w.size(), std::nullopt, OC, ICG, KH, KW, true).exact_channels == 0);
}

namespace {

// The contract of quantize_weights as plain loops over doubles with std::nearbyint: the oracle for the
// vectorized implementation, which must agree bit for bit.
QuantizedWeights naive_quantize(const std::vector<float>& w, const std::optional<QuantParams>& source, int64_t OC,
                                int64_t ICG, int64_t taps, bool pair_limited) {
    const int64_t per_oc = ICG * taps;
    QuantizedWeights r;
    r.values.resize(w.size());
    r.scales.resize(size_t(OC));
    for (int64_t oc = 0; oc < OC; ++oc) {
        const float* c = w.data() + oc * per_oc;
        double src = 0;
        if (source && source->axis < 0 && source->scale.size() == 1) src = source->scale[0];
        if (source && source->axis == 0 && int64_t(source->scale.size()) == OC) src = source->scale[size_t(oc)];
        // Worst same-signed pair of c / unit.
        auto pair_of = [&](double unit) {
            double m = 0;
            for (int64_t ic = 0; pair_limited && ic + 1 < ICG; ic += 2) {
                for (int64_t t = 0; t < taps; ++t) {
                    const double a = c[ic * taps + t] / unit, b = c[(ic + 1) * taps + t] / unit;
                    m = std::max({m, std::max(a, 0.0) + std::max(b, 0.0), std::max(-a, 0.0) + std::max(-b, 0.0)});
                }
            }
            return m;
        };
        bool exact = src > 0 && pair_of(src) <= 128 + 1e-3;
        for (int64_t i = 0; exact && i < per_oc; ++i) {
            const double k = c[i] / src;
            exact = std::abs(k - std::nearbyint(k)) <= 1e-3 && k <= 127 + 1e-3 && k >= -128 - 1e-3;
        }
        double scale = src;
        if (exact) {
            ++r.exact_channels;
        } else {
            double max_abs = 0;
            for (int64_t i = 0; i < per_oc; ++i) max_abs = std::max(max_abs, std::abs(double(c[i])));
            scale = std::max(max_abs / kWeightQMax, pair_of(1.0) / kPairQMax);
            if (!(scale > 0)) scale = 1;
        }
        r.scales[size_t(oc)] = float(scale);
        for (int64_t i = 0; i < per_oc; ++i) {
            const double q = std::clamp(std::nearbyint(c[i] / scale), scale == src ? -128.0 : -127.0, 127.0);
            r.values[size_t(oc * per_oc + i)] = int8_t(q);
        }
    }
    return r;
}

}  // namespace

TEST_CASE("quantize_weights equals a naive loop bit for bit: halfway cases, saturation, tolerance edges",
          "[ops][int8]") {
    // Channel kinds: each channel of a tensor draws one, so one tensor mixes kept and re-quantized channels.
    enum Kind { kSmallGrid, kFullGrid, kNearGrid, kOffGridEdge, kOutOfRange, kHalfway, kHalfwayOddStep, kReal, kZero, kPairHeavy, kPairEdge, kKinds };
    std::mt19937 rng(19);
    struct Shape4 {
        int64_t OC, ICG, KH, KW;
    };
    const Shape4 shapes[] = {{16, 32, 1, 1}, {8, 33, 1, 1}, {12, 1, 3, 3}, {6, 5, 3, 3}, {5, 3, 2, 5}, {7, 2, 1, 1}};
    for (const Shape4& s : shapes) {
        const int64_t taps = s.KH * s.KW, per_oc = s.ICG * taps;
        for (const int source_kind : {0, 1, 2}) {  // none, per tensor, per channel
            std::vector<double> scales(size_t(s.OC));
            std::uniform_real_distribution<double> scale_dist(1e-3, 0.05);
            for (double& v : scales) v = source_kind == 2 ? scale_dist(rng) : 0.0078125;
            std::vector<float> w(size_t(s.OC * per_oc));
            for (int64_t oc = 0; oc < s.OC; ++oc) {
                const double src = scales[size_t(oc)];
                const Kind kind = Kind(std::uniform_int_distribution<int>(0, kKinds - 1)(rng));
                std::uniform_int_distribution<int> small(-60, 60), full(-128, 127), wide(-300, 300);
                std::uniform_real_distribution<double> real(-1.0, 1.0), off(0.0009, 0.0011);
                // A power-of-two step whose 127 multiples are exact in float: max|w| = 127 * step makes the
                // re-quantization scale exactly `step`, and (n + 1/2) * step lands exactly halfway.
                const double step = 1.0 / 256;
                // The same with an odd multiple of a power of two as the step: (n + 1/2) * step / step is an exact
                // tie, while times the rounded 1 / step it may land either side of it (quantize_weights multiplies
                // by the inverse and must fall back to dividing there).
                const double odd_step = double(2 * (rng() % 40) + 3) / 4096;
                for (int64_t i = 0; i < per_oc; ++i) {
                    float& v = w[size_t(oc * per_oc + i)];
                    switch (kind) {
                        case kSmallGrid: v = float(small(rng) * src); break;
                        case kFullGrid: v = float(full(rng) * src); break;
                        case kNearGrid: v = float((small(rng) + (rng() % 2 ? 1 : -1) * 0.0005) * src); break;
                        case kOffGridEdge: v = float((small(rng) + (rng() % 2 ? 1 : -1) * off(rng)) * src); break;
                        case kOutOfRange: v = float(wide(rng) * src); break;
                        case kHalfway: v = float((full(rng) % 127 + 0.5) * step); break;
                        case kHalfwayOddStep: v = float((full(rng) % 127 + 0.5) * odd_step); break;
                        case kReal: v = float(real(rng)); break;
                        case kZero: v = 0.f; break;
                        case kPairHeavy: v = float((i % 2 ? 100 : 90) * (rng() % 2 ? 1 : -1) * src); break;
                        case kPairEdge: v = float((oc % 2 ? 64 : 64 + int(i == 0)) * (i / taps / 2 % 2 ? 1 : -1) * src); break;
                        case kKinds: break;
                    }
                }
                if (kind == kHalfway) w[size_t(oc * per_oc)] = float(127 * step);
                if (kind == kHalfwayOddStep) w[size_t(oc * per_oc)] = float(127 * odd_step);
                if (kind == kOutOfRange) w[size_t(oc * per_oc)] = float(-129 * src);  // saturates when re-scaled
            }
            std::optional<QuantParams> source;
            if (source_kind > 0) {
                source = QuantParams{};
                source->scale = source_kind == 1 ? std::vector<double>{scales[0]} : scales;
                source->zero_point.assign(source->scale.size(), 0);
                source->axis = source_kind == 1 ? -1 : 0;
            }
            for (const bool pair_limited : {true, false}) {
                CAPTURE(s.OC, s.ICG, s.KH, s.KW, source_kind, pair_limited);
                const QuantizedWeights got = quantize_weights(w.data(), w.size(), source, s.OC, s.ICG, s.KH, s.KW, pair_limited);
                const QuantizedWeights want = naive_quantize(w, source, s.OC, s.ICG, taps, pair_limited);
                CHECK(got.exact_channels == want.exact_channels);
                REQUIRE(got.scales == want.scales);
                for (size_t i = 0; i < w.size(); ++i) {
                    CAPTURE(i, w[i]);
                    REQUIRE(int(got.values[i]) == int(want.values[i]));
                }
            }
        }
    }
}
