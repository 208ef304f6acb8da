// SPDX-License-Identifier: Apache-2.0
// The values one activation took over the calibration images, in bounded memory, and the ranges the calibration
// methods of include/mnet/quantize.h (CalibrationMethod) choose from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnet {

// Bins on each side of 0: TensorRT's and ONNX Runtime's entropy calibrators use 2048 bins over [0, max|x|]. A
// growing range keeps at least half of them in use (ActivationHistogram::add), i.e. at least 4 bins per u8 step
// at the widest threshold the entropy search tries.
constexpr size_t kHistogramBins = 2048;

// Representable values of a u8 activation: the entropy search quantizes each candidate window into this many
// levels (TensorRT's 128 are those of |x| in s8).
constexpr size_t kU8Levels = 256;

struct ValueRange {
    double lo = 0, hi = 0;
};

// Exact minimum and maximum plus a histogram of the finite values (exact zeros counted apart), symmetric about 0: `kHistogramBins` bins of
// width `bin_width()` on each side, 0 the edge between the two sides. The covered half-width starts at the first
// nonzero batch's max |x| and doubles (merging bin pairs, which keeps every count exact) when a later value lies
// beyond it. Memory: two fixed arrays, whatever the number of values.
class ActivationHistogram {
public:
    ActivationHistogram();

    // Counts the values [begin, end): NaN and infinities widen nothing and go in no bin.
    void add(const float* begin, const float* end);

    float min() const { return min_; }  // +inf before any finite value
    float max() const { return max_; }  // -inf before any finite value
    uint64_t count() const { return count_; }  // finite values counted
    double bin_width() const { return half_width_ / kHistogramBins; }  // 0 while every value seen was 0

    // The smallest range holding `percentile` % of the values (up to a bin), inside [min, max]: with no negative
    // value seen the (100 - percentile) % cut is all at the top and lo is min; otherwise half of it is cut at each
    // end (ONNX Runtime's asymmetric percentile). Each end is the outer edge of the bin where that share is
    // reached. REQUIRES: count() > 0 and 0 < percentile <= 100.
    ValueRange percentile_range(double percentile) const;

    // TensorRT's entropy calibration adapted to u8: for each candidate threshold T (a whole number of bins, from
    // kU8Levels bins up to the widest value; on both sides, from kU8Levels / 2), the histogram inside the window,
    // the values beyond it added to its end bins (clipping), is compared by KL divergence with its quantized
    // version: the window's own counts, taken as uniform within each bin, summed over kU8Levels equal-width
    // levels, each level's total spread evenly over the part of it where the window's histogram is not 0 (a bin
    // that only clipped values reach, in a level holding nothing, counts as 1e-10 of the values). TensorRT merges
    // whole bins and gives the remainder to the last level; equal widths avoid the sawtooth that bias gives the
    // divergence (a window of 2 * 256 - 1 bins has 255 levels of one bin, reproduced exactly). The window is
    // [0, T] with no negative value seen (a ReLU output: 256 levels, zero point 0) and [-T, T] otherwise; T
    // minimises the divergence (the first of equal minima), and the result is that window inside [min, max]. Exact
    // zeros take no part: u8 holds 0 exactly under every threshold, and a ReLU's spike of zeros spread over a
    // level would favour the narrowest window. A histogram narrower than the first candidate, or of zeros only,
    // gives [min, max]. REQUIRES: count() > 0.
    ValueRange entropy_range() const;

private:
    void grow_to(double max_abs);

    float min_, max_;
    uint64_t count_ = 0;
    uint64_t zeros_ = 0;              // exact zeros (in no bin: entropy_range leaves them out)
    double half_width_ = 0;           // the bins cover (-half_width_, half_width_); 0 until a nonzero value
    std::vector<uint64_t> negative_;  // [j]: values x < 0 with -x in [j, j + 1) bin widths
    std::vector<uint64_t> positive_;  // [j]: values x > 0 in [j, j + 1) bin widths (the last bin holds the max)
};

}  // namespace mnet
