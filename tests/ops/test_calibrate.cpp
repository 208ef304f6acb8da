// SPDX-License-Identifier: Apache-2.0
// Calibration methods (include/mnet/quantize.h) on synthetic activations against naive oracles written from the
// header's words: sorted values for the percentile, a brute-force KL divergence over every candidate threshold for
// entropy. The activations are the graph input (any distribution the test feeds) and its ReLU (one-sided).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "graph/loader.h"
#include "mnet/quantize.h"
#include "support/expect_error.h"
#include "support/model_builder.h"
#include "support/test_data.h"

using namespace mnet;
using namespace mnet::test;

namespace {

constexpr int64_t kSide = 32;                          // input [1, 3, 32, 32]
constexpr size_t kPerImage = 3 * kSide * kSide;        // values per observed image
constexpr size_t kBins = 2048;                         // per side, as the header says
constexpr size_t kLevels = 256;                        // u8 values
constexpr double kEmptyLevelProbability = 1e-10;       // the smoothing of a bin whose level is empty
constexpr double kFloatTolerance = 1e-6;               // ranges come back as float

using Images = std::vector<std::vector<float>>;

// A float model: input -> relu; `relu` is given its output's name.
std::shared_ptr<const Model> relu_model(std::string* relu = nullptr) {
    ModelBuilder b(kSide, kSide, 1);
    const std::string out = b.activation(b.input(), "relu");
    if (relu) *relu = out;
    return b.build();
}

const std::string& relu_name() {
    static const std::string name = [] {
        std::string n;
        relu_model(&n);
        return n;
    }();
    return name;
}

// Every image observed in order, one per batch.
std::unique_ptr<Calibrator> calibrated(const Images& images) {
    auto c = std::make_unique<Calibrator>(relu_model(), 1, 1);
    Tensor src(Shape{1, 3, kSide, kSide});
    for (const std::vector<float>& image : images) {
        std::copy(image.begin(), image.end(), src.data.begin());
        c->observe(src, 1);
    }
    return c;
}

ActivationRange range_of(const Calibrator& c, const CalibrationOptions& o, const std::string& name) {
    for (const ActivationRange& r : c.ranges(o)) {
        if (r.name == name) return r;
    }
    FAIL("no range for " << name);
    return {};
}

std::vector<float> all_values(const Images& images, bool relu) {
    std::vector<float> v;
    for (const auto& image : images) {
        for (float x : image) v.push_back(relu ? std::max(x, 0.0f) : x);
    }
    return v;
}

// The bin width after every image: the first image's max |x|, doubled until it holds every value, over kBins.
double bin_width(const Images& images, bool relu) {
    auto max_abs = [&](const std::vector<float>& v) {
        double m = 0;
        for (float x : v) m = std::max(m, std::abs(double(relu ? std::max(x, 0.0f) : x)));
        return m;
    };
    double all = 0;
    for (const auto& image : images) all = std::max(all, max_abs(image));
    double h = max_abs(images.front());
    while (h < all) h *= 2;
    return h / kBins;
}

// --- percentile: sorted values --------------------------------------------------------------------------------

struct Expected {
    double lo, hi;
};

// The smallest value with `keep` values at or below it, and the largest with `keep` at or above it.
Expected sorted_percentile(std::vector<float> v, double percentile) {
    std::sort(v.begin(), v.end());
    const double n = double(v.size());
    const bool one_sided = v.front() >= 0;
    const double keep = n * (1 - (1 - percentile / 100) / (one_sided ? 1 : 2));
    const size_t k = static_cast<size_t>(std::ceil(keep));
    return {one_sided ? double(v.front()) : double(v[v.size() - k]), double(v[k - 1])};
}

// --- entropy: brute force ---------------------------------------------------------------------------------------

// KL(P || Q) written out bin by bin: P the window with the clipped values in its end bins; Q the window's own
// counts, uniform within each bin, summed over `levels` equal-width levels, each level's total spread evenly over
// the part of the level where P is not 0.
double naive_divergence(const std::vector<double>& p_counts, const std::vector<double>& own, size_t levels) {
    const size_t n = p_counts.size();
    const double level_width = double(n) / double(levels);  // in bins
    auto overlap = [&](size_t bin, size_t k) {               // of bin [bin, bin + 1) and level k
        const double lo = std::max(double(bin), double(k) * level_width);
        const double hi = std::min(double(bin + 1), double(k + 1) * level_width);
        return std::max(0.0, hi - lo);
    };
    auto levels_of = [&](size_t bin) {  // the levels a bin can meet
        const size_t k = static_cast<size_t>(double(bin) / level_width);
        return std::pair<size_t, size_t>(k == 0 ? 0 : k - 1, std::min(levels - 1, k + 1));
    };
    std::vector<double> mass(levels, 0.0), support(levels, 0.0);
    for (size_t b = 0; b < n; ++b) {
        const auto [k0, k1] = levels_of(b);
        for (size_t k = k0; k <= k1; ++k) {
            mass[k] += own[b] * overlap(b, k);
            if (p_counts[b] != 0) support[k] += overlap(b, k);
        }
    }
    std::vector<double> q(n, 0.0);
    for (size_t b = 0; b < n; ++b) {
        if (p_counts[b] == 0) continue;
        const auto [k0, k1] = levels_of(b);
        for (size_t k = k0; k <= k1; ++k) q[b] += support[k] > 0 ? overlap(b, k) * mass[k] / support[k] : 0.0;
    }
    double p_sum = 0, q_sum = 0;
    for (size_t b = 0; b < n; ++b) {
        p_sum += p_counts[b];
        q_sum += q[b];
    }
    if (q_sum == 0) return std::numeric_limits<double>::infinity();
    double kl = 0;
    for (size_t b = 0; b < n; ++b) {
        if (p_counts[b] == 0) continue;
        const double p = p_counts[b] / p_sum, qn = q[b] > 0 ? q[b] / q_sum : kEmptyLevelProbability;
        kl += p * std::log(p / qn);
    }
    return kl;
}

struct EntropyOracle {
    std::vector<double> divergence;  // by threshold in bins (infinity where not a candidate)
    size_t best = 0;                 // the first threshold of least divergence
    double width = 0;
};

EntropyOracle brute_force_entropy(const std::vector<float>& values, double w) {
    // Signed bins: [kBins + j] holds x >= 0 in [j, j + 1) widths, [kBins - 1 - j] x < 0 with -x there.
    std::vector<double> bins(2 * kBins, 0.0);
    bool negative = false;
    for (float x : values) {
        if (x == 0) continue;  // exact zeros take no part (u8 holds 0 exactly)
        const size_t j = std::min(static_cast<size_t>(std::floor(std::abs(double(x)) / w)), kBins - 1);
        if (x < 0) {
            bins[kBins - 1 - j] += 1;
            negative = true;
        } else {
            bins[kBins + j] += 1;
        }
    }
    size_t used = 0;
    for (size_t j = 0; j < kBins; ++j) {
        if (bins[kBins - 1 - j] > 0 || bins[kBins + j] > 0) used = j + 1;
    }
    EntropyOracle o;
    o.width = w;
    o.divergence.assign(kBins + 1, std::numeric_limits<double>::infinity());
    double least = std::numeric_limits<double>::infinity();
    for (size_t t = negative ? kLevels / 2 : kLevels; t <= used; ++t) {
        const size_t a = negative ? kBins - t : kBins, b = kBins + t;
        std::vector<double> own(bins.begin() + long(a), bins.begin() + long(b)), clipped = own;
        for (size_t i = 0; i < a; ++i) clipped.front() += bins[i];
        for (size_t i = b; i < 2 * kBins; ++i) clipped.back() += bins[i];
        o.divergence[t] = naive_divergence(clipped, own, kLevels);
        if (o.divergence[t] < least) {
            least = o.divergence[t];
            o.best = t;
        }
    }
    return o;
}

// A heavy-tailed distribution on the centres of bins of width 1/1024 (so the oracle's bins and the library's
// agree exactly): a Laplace-like bulk of about 40 bins plus 0.2% outliers up to the top; every image holds 2.0,
// the top of the histogram. `two_sided`: random signs.
Images synthetic(uint32_t seed, size_t images, bool two_sided, double scale_first = 1.0) {
    std::mt19937 rng(seed);
    std::exponential_distribution<double> bulk(1.0 / 40);
    std::uniform_int_distribution<int> outlier(600, 2047);
    std::bernoulli_distribution is_outlier(0.002), negative(two_sided ? 0.4 : 0.0);
    constexpr double kWidth = 1.0 / 1024;
    Images out(images, std::vector<float>(kPerImage));
    for (size_t i = 0; i < images; ++i) {
        for (float& x : out[i]) {
            const double bin = is_outlier(rng) ? outlier(rng) : std::min(2047.0, std::floor(bulk(rng)));
            x = float((bin + 0.5) * kWidth * (negative(rng) ? -1 : 1));
        }
        out[i][0] = 2.0f;
    }
    // Optionally the first image within a narrower range, so the histogram has to grow.
    if (scale_first < 1.0) {
        const float inside = float(scale_first * 2 - 0.5 * kWidth);  // the centre of the bin below the new top
        for (float& x : out[0]) x = std::clamp(x, -inside, inside);
        out[0][0] = float(scale_first * 2);
    }
    return out;
}

CalibrationOptions options(CalibrationMethod m, double percentile = 99.99) {
    CalibrationOptions o;
    o.method = m;
    o.percentile = percentile;
    return o;
}

}  // namespace

TEST_CASE("calibration: percentile ranges match sorted values to within a bin, with and without range growth",
          "[unit][quantize]") {
    const bool grow = GENERATE(false, true);
    const bool two_sided = GENERATE(false, true);
    const Images images = synthetic(7, 4, two_sided, grow ? 0.5 : 1.0);
    const auto c = calibrated(images);
    for (const double percentile : {50.0, 99.0, 99.9, 99.99, 100.0}) {
        for (const bool relu : {false, true}) {
            CAPTURE(grow, two_sided, percentile, relu);
            const std::vector<float> values = all_values(images, relu);
            const double w = bin_width(images, relu);
            const Expected e = sorted_percentile(values, percentile);
            const ActivationRange r = range_of(*c, options(CalibrationMethod::Percentile, percentile),
                                               relu ? relu_name() : "input");
            CAPTURE(r.lo, r.hi, e.lo, e.hi, w);
            const double max = *std::max_element(values.begin(), values.end());
            const double min = *std::min_element(values.begin(), values.end());
            CHECK(r.min == min);
            CHECK(r.max == max);
            // hi: the upper edge of the bin holding the oracle's value, never above the maximum.
            CHECK(r.hi >= e.hi - kFloatTolerance);
            CHECK(r.hi <= std::min(max, e.hi + w) + kFloatTolerance);
            CHECK(r.lo <= e.lo + kFloatTolerance);
            CHECK(r.lo >= std::max(min, e.lo - w) - kFloatTolerance);
            if (percentile == 100.0) CHECK((r.lo == min && r.hi == max));
        }
    }
}

TEST_CASE("calibration: entropy picks the threshold a brute-force KL search over every candidate picks",
          "[unit][quantize]") {
    const bool two_sided = GENERATE(false, true);
    const bool grow = GENERATE(false, true);
    const Images images = synthetic(11, 4, two_sided, grow ? 0.5 : 1.0);
    const auto c = calibrated(images);
    for (const bool relu : {false, true}) {
        CAPTURE(two_sided, grow, relu);
        const std::vector<float> values = all_values(images, relu);
        const double w = bin_width(images, relu);
        REQUIRE(w == 1.0 / 1024);
        const EntropyOracle o = brute_force_entropy(values, w);
        REQUIRE(o.best > 0);
        const ActivationRange r = range_of(*c, options(CalibrationMethod::Entropy), relu ? relu_name() : "input");
        const double threshold = r.hi;  // the threshold: clipping cuts the top (2.0 is the maximum)
        const size_t chosen = static_cast<size_t>(std::lround(threshold / w));
        CAPTURE(r.lo, r.hi, o.best, chosen, o.divergence[o.best]);
        REQUIRE(chosen < o.divergence.size());
        CHECK(std::abs(threshold - double(chosen) * w) < kFloatTolerance);
        // After growth the first image's maximum (1.0, the first top edge) sits one bin lower in the library's
        // merged bins than in the oracle's (one value of 12288), hence a tolerance, not an exact tie.
        CHECK(o.divergence[chosen] <= o.divergence[o.best] * (1 + 1e-9) + (grow ? 1e-6 : 0.0));
        // Clipping is real here: the outliers reach 2.0, the bulk ends near 0.3.
        CHECK(threshold < 1.9);
        if (two_sided && !relu) CHECK(r.lo == Approx(-threshold));
    }
}

TEST_CASE("calibration: the logits (what a softmax reads, through a reshape) keep min/max under every method",
          "[unit][quantize]") {
    ModelBuilder b(kSide, kSide, 1);
    const std::string flat = b.reshape(b.input(), {int64_t(kPerImage)});
    b.softmax(flat);
    Calibrator c(b.build(), 1, 1);
    const Images images = synthetic(11, 2, true);  // entropy clips this input to below 1.9 of 2.0 (above)
    Tensor src(Shape{1, 3, kSide, kSide});
    for (const auto& image : images) {
        std::copy(image.begin(), image.end(), src.data.begin());
        c.observe(src, 1);
    }
    for (const CalibrationOptions& o : {options(CalibrationMethod::Percentile, 99.0), options(CalibrationMethod::Entropy)}) {
        for (const std::string& name : {std::string("input"), flat}) {
            const ActivationRange r = range_of(c, o, name);
            CAPTURE(calibration_method_name(o.method), name, r.lo, r.hi, r.min, r.max);
            CHECK(r.quantized);
            CHECK(r.lo == r.min);
            CHECK(r.hi == r.max);
        }
    }
}

TEST_CASE("calibration: the written parameters are the u8 parameters of the chosen range", "[unit][quantize]") {
    const Images images = synthetic(5, 2, true);
    const auto c = calibrated(images);
    const std::string dir = make_temp_dir("calibrate");
    for (const CalibrationOptions& o :
         {options(CalibrationMethod::MinMax), options(CalibrationMethod::Percentile, 99.0),
          options(CalibrationMethod::Entropy)}) {
        CAPTURE(calibration_method_name(o.method));
        const std::string path = dir + "/q_" + calibration_method_name(o.method) + ".json";
        c->write(path, "q", o);
        const auto q = Model::load(path);
        for (const ActivationRange& r : c->ranges(o)) {
            CAPTURE(r.name, r.lo, r.hi);
            REQUIRE(r.quantized);
            // docs/int8.md: widened to contain 0, scale (hi - lo) / 255, zero point round(-lo / scale).
            const double lo = std::min(0.0, double(r.lo)), hi = std::max(0.0, double(r.hi));
            const double scale = (hi - lo) / 255;
            const ModelDef& def = model_impl(*q).def;
            const QuantParams& p = r.name == "input" ? *def.input.quant : *def.nodes.at(0).dst_quant;
            REQUIRE(p.scale.size() == 1);
            CHECK(p.dtype == DType::U8);
            CHECK(p.scale[0] == Approx(scale).epsilon(1e-6));
            CHECK(p.zero_point.at(0) == std::lround(-lo / scale));
        }
    }
}

TEST_CASE("calibration: bad percentiles and writing before any image are refused", "[unit][quantize]") {
    Calibrator c(relu_model(), 1, 1);
    expect_error([&] { c.write("/nonexistent/q.json", "q"); }, ErrorCode::InvalidArgument, {"no image"});
    CHECK(c.ranges().empty());
    for (const double p : {49.9, 100.01, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
        CAPTURE(p);
        expect_error([&] { c.ranges(options(CalibrationMethod::Percentile, p)); }, ErrorCode::InvalidArgument,
                     {"percentile", "outside [50, 100]"});
    }
    // The percentile is not looked at by the other methods.
    CHECK_NOTHROW(c.ranges(options(CalibrationMethod::Entropy, 1.0)));
}
