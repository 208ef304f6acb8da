// SPDX-License-Identifier: Apache-2.0
#include "runtime/activation_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mnet {

namespace {

constexpr size_t kBins = kHistogramBins;
static_assert(kBins % 2 == 0, "doubling the range merges bin pairs");
static_assert(kBins >= kU8Levels, "the entropy search starts at one bin per level");

// The normalised quantized probability given to a bin that holds values but whose group of bins is empty in the
// window (only clipped values landed there). TensorRT smooths such a zero with 1e-4 of a count, about 1e-10 of a
// calibration set of a million values per tensor.
constexpr double kEmptyLevelProbability = 1e-10;

// The histogram as one signed array of 2 * kBins bins: [kBins - 1 - j] is negative bin j, [kBins + j] positive
// bin j, so bin i covers [(i - kBins), (i - kBins + 1)) bin widths. Prefix sums make each candidate window of the
// entropy search cost one pass over the levels instead of one over the bins.
struct SignedHistogram {
    std::vector<double> count;    // per bin
    std::vector<double> sum;      // [i]: count of bins [0, i)
    std::vector<double> sum_xlx;  // [i]: sum of c * ln(c) over bins [0, i)
    std::vector<double> nonzero;  // [i]: bins in [0, i) with a nonzero count

    SignedHistogram(const std::vector<uint64_t>& negative, const std::vector<uint64_t>& positive)
        : count(2 * kBins), sum(2 * kBins + 1), sum_xlx(2 * kBins + 1), nonzero(2 * kBins + 1) {
        for (size_t j = 0; j < kBins; ++j) {
            count[kBins - 1 - j] = static_cast<double>(negative[j]);
            count[kBins + j] = static_cast<double>(positive[j]);
        }
        for (size_t i = 0; i < count.size(); ++i) {
            sum[i + 1] = sum[i] + count[i];
            sum_xlx[i + 1] = sum_xlx[i] + xlx(count[i]);
            nonzero[i + 1] = nonzero[i] + (count[i] > 0 ? 1 : 0);
        }
    }

    static double xlx(double c) { return c > 0 ? c * std::log(c) : 0.0; }

    // KL(P || Q) of the window [a, b) (ActivationHistogram::entropy_range): P the window with the counts below it
    // added to bin a and those above to bin b - 1, Q the window's own counts merged into `levels` groups and spread
    // over the bins where P is nonzero. Written per group: sum over a group of P ln(P / q) is
    // sum P ln P - (sum P) ln q, with q the group's even share. +inf when the window holds no value.
    double divergence(size_t a, size_t b, size_t levels) const {
        const double total = sum.back();
        const double below = sum[a], above = total - sum[b];
        const double inside = sum[b] - sum[a];
        if (!(inside > 0)) return std::numeric_limits<double>::infinity();
        const size_t per_level = (b - a) / levels;
        double kl = 0;  // in counts: sum of P ln(P / q) over the window, q unnormalised
        for (size_t k = 0; k < levels; ++k) {
            const size_t lo = a + k * per_level, hi = k + 1 == levels ? b : lo + per_level;
            const double own = sum[hi] - sum[lo];  // Q's mass: the window's own counts
            double mass = own, xlx_sum = sum_xlx[hi] - sum_xlx[lo], bins = nonzero[hi] - nonzero[lo];
            // The clipped counts join the end bins of P (and may make them nonzero).
            auto add_clipped = [&](size_t bin, double clipped) {
                if (!(clipped > 0)) return;
                bins += count[bin] > 0 ? 0 : 1;
                xlx_sum += xlx(count[bin] + clipped) - xlx(count[bin]);
                mass += clipped;
            };
            if (k == 0) add_clipped(a, below);
            if (k + 1 == levels) add_clipped(b - 1, above);
            if (!(mass > 0)) continue;
            // q per nonzero bin, normalised like P (P sums to `total`, Q to `inside`), with TensorRT-style
            // smoothing where Q is empty.
            const double q = own > 0 ? own / bins * (total / inside) : kEmptyLevelProbability * total;
            kl += xlx_sum - mass * std::log(q);
        }
        return kl / total;
    }
};

}  // namespace

ActivationHistogram::ActivationHistogram()
    : min_(std::numeric_limits<float>::infinity()),
      max_(-std::numeric_limits<float>::infinity()),
      negative_(kBins, 0),
      positive_(kBins, 0) {}

void ActivationHistogram::grow_to(double max_abs) {
    if (max_abs <= half_width_) return;
    if (half_width_ == 0) {
        half_width_ = max_abs;  // the bins so far hold only zeros, in positive bin 0 under any width
        return;
    }
    while (half_width_ < max_abs) {
        for (std::vector<uint64_t>* side : {&negative_, &positive_}) {
            std::vector<uint64_t>& v = *side;
            for (size_t j = 0; j < kBins / 2; ++j) v[j] = v[2 * j] + v[2 * j + 1];
            std::fill(v.begin() + kBins / 2, v.end(), 0);
        }
        half_width_ *= 2;
    }
}

void ActivationHistogram::add(const float* begin, const float* end) {
    double max_abs = 0;
    for (const float* p = begin; p != end; ++p) {
        if (!std::isfinite(*p)) continue;
        min_ = std::min(min_, *p);
        max_ = std::max(max_, *p);
        max_abs = std::max(max_abs, std::abs(double(*p)));
    }
    grow_to(max_abs);
    const double bins_per_unit = half_width_ > 0 ? kBins / half_width_ : 0.0;
    for (const float* p = begin; p != end; ++p) {
        if (!std::isfinite(*p)) continue;
        const size_t j = std::min(static_cast<size_t>(std::abs(double(*p)) * bins_per_unit), kBins - 1);
        ++(*p < 0 ? negative_ : positive_)[j];
        ++count_;
    }
}

ValueRange ActivationHistogram::percentile_range(double percentile) const {
    const double w = bin_width();
    if (w == 0) return {min_, max_};
    const SignedHistogram h(negative_, positive_);
    const double total = static_cast<double>(count_);
    const bool one_sided = min_ >= 0;
    const double cut = (1 - percentile / 100) * total / (one_sided ? 1 : 2);
    const double keep = total - cut;
    // The first bin at which `keep` values are at or below its upper edge, and the last at which `keep` are at or
    // above its lower edge.
    size_t top = 2 * kBins - 1, bottom = 0;
    for (size_t i = 0; i < 2 * kBins; ++i) {
        if (h.sum[i + 1] >= keep) {
            top = i;
            break;
        }
    }
    for (size_t i = 2 * kBins; i-- > 0;) {
        if (total - h.sum[i] >= keep) {
            bottom = i;
            break;
        }
    }
    const auto edge = [&](size_t i) { return (static_cast<double>(i) - static_cast<double>(kBins)) * w; };
    ValueRange r;
    r.lo = one_sided ? min_ : std::max(double(min_), edge(bottom));
    r.hi = std::min(double(max_), edge(top + 1));
    return r;
}

ValueRange ActivationHistogram::entropy_range() const {
    const double w = bin_width();
    if (w == 0) return {min_, max_};
    const SignedHistogram h(negative_, positive_);
    // Bins in use on each side: up to the last nonzero one.
    size_t used = 0;
    for (size_t j = 0; j < kBins; ++j) {
        if (negative_[j] > 0 || positive_[j] > 0) used = j + 1;
    }
    const bool one_sided = min_ >= 0;
    // A one-sided window [0, T] spends all kU8Levels on T; a two-sided [-T, T] half of them on each side.
    const size_t first = one_sided ? kU8Levels : kU8Levels / 2;
    if (used <= first) return {min_, max_};
    size_t best = used;
    double best_kl = std::numeric_limits<double>::infinity();
    for (size_t i = first; i <= used; ++i) {
        const double kl = one_sided ? h.divergence(kBins, kBins + i, kU8Levels)
                                    : h.divergence(kBins - i, kBins + i, kU8Levels);
        if (kl < best_kl) {
            best_kl = kl;
            best = i;
        }
    }
    const double threshold = static_cast<double>(best) * w;
    ValueRange r;
    r.lo = one_sided ? min_ : std::max(double(min_), -threshold);
    r.hi = std::min(double(max_), threshold);
    return r;
}

}  // namespace mnet
