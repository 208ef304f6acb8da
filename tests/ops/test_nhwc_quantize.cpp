// SPDX-License-Identifier: Apache-2.0
// The int8 graph's input quantizer against a naive loop: index arithmetic written out, nearbyint for rounding.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "ops/nhwc_quantize.h"

using namespace mnet;

namespace {

template <typename T>
std::vector<T> naive(const std::vector<float>& x, int64_t n, int64_t c, int64_t h, int64_t w, float inv, int32_t zp) {
    std::vector<T> q(x.size());
    for (int64_t in = 0; in < n; ++in)
        for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t ih = 0; ih < h; ++ih)
                for (int64_t iw = 0; iw < w; ++iw) {
                    const float v = x[static_cast<size_t>(((in * c + ic) * h + ih) * w + iw)] * inv + float(zp);
                    const double r = std::isnan(v) ? double(std::numeric_limits<T>::min()) : std::nearbyint(double(v));
                    const double s = std::min<double>(std::max<double>(r, std::numeric_limits<T>::min()),
                                                      std::numeric_limits<T>::max());
                    q[static_cast<size_t>(((in * h + ih) * w + iw) * c + ic)] = static_cast<T>(s);
                }
    return q;
}

template <typename T>
void check(int64_t n, int64_t c, int64_t h, int64_t w, float scale, int32_t zp, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<float> x(static_cast<size_t>(n * c * h * w));
    for (float& v : x) {
        // Mostly in range, some far outside (saturation), some exactly halfway between two steps (ties to even).
        const int kind = static_cast<int>(rng() % 8);
        if (kind == 0) {
            v = std::uniform_real_distribution<float>(-1000.f, 1000.f)(rng) * scale;
        } else if (kind == 1) {
            v = (static_cast<float>(static_cast<int>(rng() % 300) - 150) + 0.5f) * scale;
        } else {
            v = std::uniform_real_distribution<float>(-130.f, 130.f)(rng) * scale;
        }
    }
    x[0] = std::numeric_limits<float>::quiet_NaN();
    const float inv = 1.f / scale;
    std::vector<T> got(x.size());
    quantize_nchw_to_nhwc(x.data(), got.data(), n, c, h, w, inv, zp);
    const std::vector<T> want = naive<T>(x, n, c, h, w, inv, zp);
    size_t wrong = 0;
    for (size_t i = 0; i < got.size(); ++i) wrong += got[i] != want[i];
    CAPTURE(n, c, h, w, scale, zp);
    CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("nhwc_quantize: float NCHW to u8/s8 NHWC equals a naive loop (rounding, saturation, NaN)", "[ops][int8]") {
    check<uint8_t>(1, 3, 224, 224, 0.0078125f, 128, 1);  // MobileNet's [-1, 1] input
    check<uint8_t>(2, 3, 7, 5, 0.013f, 3, 2);
    check<uint8_t>(2, 3, 3, 37, 0.013f, 3, 6);  // three channels: two 16-pixel shuffles and a tail of five
    check<uint8_t>(3, 5, 4, 9, 0.5f, 0, 3);
    check<int8_t>(1, 3, 224, 224, 0.0078125f, -1, 4);
    check<int8_t>(2, 1, 3, 17, 0.021f, 10, 5);
}
