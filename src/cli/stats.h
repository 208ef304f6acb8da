// SPDX-License-Identifier: Apache-2.0
// Summaries of timing samples for `mnet profile` and `mnet bench`.
#pragma once

#include <cstddef>
#include <vector>

namespace mnet::cli {

struct Summary {
    size_t count = 0;
    double min = 0, max = 0, mean = 0;
    double median = 0, p90 = 0, p99 = 0;
};

// The p-th percentile (0 <= p <= 100) of ascending `sorted` samples, interpolating linearly between the two
// nearest ranks (numpy's default, so numbers can be checked with numpy.percentile). REQUIRES: !sorted.empty().
double percentile(const std::vector<double>& sorted, double p);

// min, max, mean, median, p90 and p99 of `samples` (any order); all zero when empty.
Summary summarize(std::vector<double> samples);

}  // namespace mnet::cli
