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
// bin j, so bin i covers [(i - kBins), (i - kBins + 1)) bin widths.
struct SignedHistogram {
    std::vector<double> count;  // per bin
    std::vector<double> sum;    // [i]: count of bins [0, i)
    std::vector<double> xlx;    // per bin: c * ln(c), the P ln P term of every bin but a window's end bins

    // `zeros`: the exact zeros, counted in positive bin 0.
    SignedHistogram(const std::vector<uint64_t>& negative, const std::vector<uint64_t>& positive, uint64_t zeros)
        : count(2 * kBins), sum(2 * kBins + 1), xlx(2 * kBins) {
        for (size_t j = 0; j < kBins; ++j) {
            count[kBins - 1 - j] = static_cast<double>(negative[j]);
            count[kBins + j] = static_cast<double>(positive[j]);
        }
        count[kBins] += static_cast<double>(zeros);
        for (size_t i = 0; i < count.size(); ++i) {
            sum[i + 1] = sum[i] + count[i];
            xlx[i] = x_log_x(count[i]);
        }
    }

    static double x_log_x(double c) { return c > 0 ? c * std::log(c) : 0.0; }

    // KL(P || Q) of the window [a, b) (ActivationHistogram::entropy_range): P the window with the counts below it
    // added to bin a and those above to bin b - 1; Q the window's own counts, uniform within each bin, summed over
    // `levels` equal-width levels, each level's total spread evenly over the part of it where P is not 0. Positions
    // are counted in 1/levels of a bin, so a level is exactly n bins wide (n = b - a) and every overlap is a whole
    // number. +inf when the window holds no value.
    double divergence(size_t a, size_t b, size_t levels, std::vector<double>& mass, std::vector<double>& support,
                      std::vector<double>& p_sum, std::vector<double>& p_xlx) const {
        const double total = sum.back(), below = sum[a], above = total - sum[b], inside = sum[b] - sum[a];
        if (!(inside > 0)) return std::numeric_limits<double>::infinity();
        const size_t n = b - a, L = levels;
        const auto p_of = [&](size_t i) {  // P of window bin i
            return count[a + i] + (i == 0 ? below : 0.0) + (i + 1 == n ? above : 0.0);
        };
        // A window bin spans [i L, (i + 1) L), level k [k n, (k + 1) n): a bin meets one level, or two (n >= L).
        const auto first_level = [&](size_t i) { return i * L / n; };
        const auto overlap = [&](size_t i, size_t k) {
            return static_cast<double>(std::min((i + 1) * L, (k + 1) * n) - std::max(i * L, k * n));
        };
        std::fill(mass.begin(), mass.begin() + static_cast<long>(L), 0.0);
        std::fill(support.begin(), support.begin() + static_cast<long>(L), 0.0);
        std::fill(p_sum.begin(), p_sum.begin() + static_cast<long>(L), 0.0);
        std::fill(p_xlx.begin(), p_xlx.begin() + static_cast<long>(L), 0.0);
        for (size_t i = 0; i < n; ++i) {
            const double p = p_of(i), own = count[a + i];
            const size_t k0 = first_level(i), k1 = ((i + 1) * L - 1) / n;
            for (size_t k = k0; k <= k1; ++k) {
                const double ov = overlap(i, k);
                mass[k] += own * ov;
                if (p > 0) support[k] += ov;
            }
        }
        // sum over bins of P ln(P / q), q = Q normalised like P (P sums to `total`, Q to `inside`). A bin inside
        // one level shares its q: those bins are summed per level, one logarithm each; a bin across two levels
        // (or an end bin, whose P holds the clipped counts) gets its own.
        const double to_p_units = total / inside;
        const auto q_of = [&](size_t k) { return support[k] > 0 ? mass[k] / support[k] * to_p_units : 0.0; };
        const auto log_q = [&](double q) { return std::log(q > 0 ? q : kEmptyLevelProbability * total); };
        double kl = 0;
        for (size_t i = 0; i < n; ++i) {
            const double p = p_of(i);
            if (!(p > 0)) continue;
            const size_t k0 = first_level(i), k1 = ((i + 1) * L - 1) / n;
            if (k0 == k1 && i != 0 && i + 1 != n) {
                p_sum[k0] += p;
                p_xlx[k0] += xlx[a + i];
                continue;
            }
            double q = 0;
            for (size_t k = k0; k <= k1; ++k) q += overlap(i, k) / static_cast<double>(L) * q_of(k);
            kl += x_log_x(p) - p * log_q(q);
        }
        for (size_t k = 0; k < L; ++k) {
            if (p_sum[k] > 0) kl += p_xlx[k] - p_sum[k] * log_q(q_of(k));
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
        half_width_ = max_abs;  // the bins are empty: only zeros were seen, and they are counted apart
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
        ++count_;
        if (*p == 0) {
            ++zeros_;
            continue;
        }
        const size_t j = std::min(static_cast<size_t>(std::abs(double(*p)) * bins_per_unit), kBins - 1);
        ++(*p < 0 ? negative_ : positive_)[j];
    }
}

ValueRange ActivationHistogram::percentile_range(double percentile) const {
    const double w = bin_width();
    if (w == 0) return {min_, max_};
    const SignedHistogram h(negative_, positive_, zeros_);
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
    // Exact zeros are left out: u8 represents 0 exactly under any threshold (the range always contains it and the
    // zero point is an integer), while the comparison would spread a ReLU's spike of zeros over a whole level and
    // so favour the narrowest window. NVIDIA's pytorch-quantization entropy calibrator likewise replaces its zero
    // bin's count with its neighbour's.
    const SignedHistogram h(negative_, positive_, 0);
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
    std::vector<double> mass(kU8Levels), support(kU8Levels), p_sum(kU8Levels), p_xlx(kU8Levels);
    for (size_t i = first; i <= used; ++i) {
        const size_t a = one_sided ? kBins : kBins - i;
        const double kl = h.divergence(a, kBins + i, kU8Levels, mass, support, p_sum, p_xlx);
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
