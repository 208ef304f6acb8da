// SPDX-License-Identifier: Apache-2.0
// Running a test model through the engine and the reference interpreter and comparing the two.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "mnet/model.h"
#include "mnet/tensor.h"

namespace mnet::test {

// The op tests' tolerance: max |engine - reference| <= kRelTolerance * max(1, max |reference|).
constexpr double kRelTolerance = 1e-4;

struct Comparison {
    double max_abs_error = 0.0;
    double max_abs_ref = 0.0;
    int64_t worst_index = -1;
    double allowed(double rel) const { return rel * (max_abs_ref > 1.0 ? max_abs_ref : 1.0); }
};

// REQUIREs equal shapes; then measures max |got - want| and where it is.
Comparison compare(const Tensor& got, const Tensor& want);

// The engine's outputs for `src` (batch = src.shape[0]).
std::vector<Tensor> run_engine(const std::shared_ptr<const Model>& model, const Tensor& src, bool fuse_dw = false,
                               int threads = 0);

// Runs the engine and the reference on the same random input and REQUIREs every output within kRelTolerance.
// Returns the engine outputs, for further checks.
std::vector<Tensor> check_against_reference(const std::shared_ptr<const Model>& model, int64_t batch, uint32_t seed,
                                            float lo = -1.0f, float hi = 1.0f, bool fuse_dw = false);

// The same for a given input.
std::vector<Tensor> check_input_against_reference(const std::shared_ptr<const Model>& model, const Tensor& src,
                                                  bool fuse_dw = false);

}  // namespace mnet::test
