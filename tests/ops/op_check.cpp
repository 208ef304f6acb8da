// SPDX-License-Identifier: Apache-2.0
#include "op_check.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "mnet/engine.h"
#include "ops/reference/reference.h"
#include "runtime/session_factory.h"
#include "support/model_builder.h"

namespace mnet::test {

namespace {

std::string shape_str(const Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

}  // namespace

Comparison compare(const Tensor& got, const Tensor& want) {
    INFO("engine shape " << shape_str(got.shape) << ", reference shape " << shape_str(want.shape));
    REQUIRE(got.shape == want.shape);
    REQUIRE(got.data.size() == want.data.size());
    Comparison c;
    for (size_t i = 0; i < want.data.size(); ++i) {
        const double ref = want.data[i];
        c.max_abs_ref = std::max(c.max_abs_ref, std::fabs(ref));
        const double err = std::fabs(static_cast<double>(got.data[i]) - ref);
        // NaN in the engine output must fail: a NaN error is never <= anything, so record it as infinite.
        if (!(err <= c.max_abs_error)) {
            c.max_abs_error = std::isnan(err) ? INFINITY : err;
            c.worst_index = static_cast<int64_t>(i);
        }
    }
    return c;
}

std::vector<Tensor> run_engine(const std::shared_ptr<const Model>& model, const Tensor& src, bool fuse_dw,
                               int threads) {
    SessionOptions options;
    options.precision = Precision::Fp32;  // against the float reference, quantization parameters or not
    options.batch = static_cast<int>(src.shape[0]);
    options.threads = threads;
    LoweringOptions lowering;
    lowering.fuse_dw = fuse_dw;
    const std::unique_ptr<Session> made = SessionFactory::make(model, options, lowering);
    Session& session = *made;
    session.run(src);
    std::vector<Tensor> outputs;
    for (size_t i = 0; i < session.output_count(); ++i) outputs.push_back(session.output(i));
    return outputs;
}

std::vector<Tensor> check_input_against_reference(const std::shared_ptr<const Model>& model, const Tensor& src,
                                                  bool fuse_dw) {
    const std::vector<Tensor> want = reference::run(*model, src);
    const std::vector<Tensor> got = run_engine(model, src, fuse_dw);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        const Comparison c = compare(got[i], want[i]);
        INFO("output " << i << " '" << model->outputs()[i].name << "' " << shape_str(want[i].shape)
                       << ": max abs error " << c.max_abs_error << " at flat index " << c.worst_index
                       << " (engine " << (c.worst_index >= 0 ? got[i].data[c.worst_index] : 0.0f) << ", reference "
                       << (c.worst_index >= 0 ? want[i].data[c.worst_index] : 0.0f) << "), max |ref| "
                       << c.max_abs_ref);
        CHECK(c.max_abs_error <= c.allowed(kRelTolerance));
    }
    return got;
}

std::vector<Tensor> check_against_reference(const std::shared_ptr<const Model>& model, int64_t batch, uint32_t seed,
                                            float lo, float hi, bool fuse_dw) {
    return check_input_against_reference(model, random_input(*model, batch, seed, lo, hi), fuse_dw);
}

}  // namespace mnet::test
