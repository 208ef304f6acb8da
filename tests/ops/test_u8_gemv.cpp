// SPDX-License-Identifier: Apache-2.0
// The 8-bit-weight classifier kernel against a naive double-precision loop over the float weights it replaces.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "ops/u8_gemv.h"

using namespace mnet;

namespace {

struct Case {
    std::vector<uint8_t> q;
    std::vector<float> values;  // float((q - zero_point) * scale), as an importer dequantizes
    QuantParams quant;
};

Case make_case(int64_t rows, int64_t cols, bool per_row, uint32_t seed) {
    std::mt19937 rng(seed);
    Case c;
    c.quant.dtype = DType::U8;
    c.quant.axis = per_row ? 0 : -1;
    for (int64_t r = 0; r < (per_row ? rows : 1); ++r) {
        c.quant.scale.push_back(std::uniform_real_distribution<double>(1e-4, 1e-2)(rng));
        c.quant.zero_point.push_back(static_cast<int64_t>(rng() % 256));
    }
    for (int64_t i = 0; i < rows * cols; ++i) {
        const size_t p = per_row ? static_cast<size_t>(i / cols) : 0;
        c.q.push_back(static_cast<uint8_t>(rng() % 256));
        c.values.push_back(static_cast<float>(static_cast<double>(c.q.back() - c.quant.zero_point[p]) * c.quant.scale[p]));
    }
    return c;
}

}  // namespace

TEST_CASE("recover_u8 finds a quantized tensor's integers, and only when they are exact", "[ops][u8_gemv]") {
    const bool per_row = GENERATE(false, true);
    Case c = make_case(5, 32, per_row, 7);
    auto m = recover_u8(c.values, 5, 32, c.quant);
    REQUIRE(m);
    CHECK(m->q == c.q);
    SECTION("a value off the integer grid keeps the float weights") {
        c.values[17] = std::nextafter(c.values[17], 1e9f);
        CHECK_FALSE(recover_u8(c.values, 5, 32, c.quant));
    }
    SECTION("s8 and s32 parameters, and a shape that does not match, are not taken") {
        QuantParams s8 = c.quant;
        s8.dtype = DType::S8;
        CHECK_FALSE(recover_u8(c.values, 5, 32, s8));
        CHECK_FALSE(recover_u8(c.values, 4, 40, per_row ? c.quant : s8));
    }
}

TEST_CASE("u8_gemv equals the float matrix-vector product, clamped", "[ops][u8_gemv]") {
    REQUIRE(u8_gemv_supported());  // mnet targets x86-64 with AVX2, as oneDNN's fast kernels here do
    const int64_t rows = 37, cols = 48, batch = GENERATE(1, 3);
    const bool per_row = GENERATE(false, true);
    const Case c = make_case(rows, cols, per_row, 11);
    const auto m = recover_u8(c.values, rows, cols, c.quant);
    REQUIRE(m);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-2.f, 6.f);
    std::vector<float> x(static_cast<size_t>(batch * cols)), bias(static_cast<size_t>(rows));
    for (float& v : x) v = u(rng);
    for (float& v : bias) v = u(rng);
    const float lo = -0.5f, hi = 0.75f;  // tight enough that some outputs clamp, some do not
    std::vector<float> y(static_cast<size_t>(batch * rows), NAN);
    u8_gemv(*m, bias.data(), x.data(), y.data(), batch, lo, hi);
    int clamped = 0;
    for (int64_t n = 0; n < batch; ++n) {
        for (int64_t r = 0; r < rows; ++r) {
            double sum = bias[r];
            for (int64_t k = 0; k < cols; ++k) sum += double(c.values[r * cols + k]) * x[n * cols + k];
            const double expected = std::clamp(sum, double(lo), double(hi));
            clamped += expected != sum;
            CAPTURE(n, r, sum);
            CHECK(std::abs(y[n * rows + r] - expected) <= 1e-5 * std::max(1.0, std::abs(sum)));
        }
    }
    CHECK(clamped > 0);
    CHECK(clamped < batch * rows);
}
