// SPDX-License-Identifier: Apache-2.0
// Real pretrained MobileNets against the independent reference outputs in ../shared/testdata/reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "runtime/session_factory.h"
#include "mnet/engine.h"
#include "mnet/image.h"
#include "shared_models.h"
#include "support/test_data.h"

using namespace mnet;
using namespace mnet::test;

namespace {

constexpr double kProbTolerance = 1e-4;  // the bar: max |Δprob| against the float reference
constexpr int kTop = 5;
// The unfused depthwise path (the fused one is compared with it below).
const LoweringOptions kNoFuseDw = [] {
    LoweringOptions o;
    o.fuse_dw = false;
    return o;
}();

std::vector<int64_t> ranking(const float* p, size_t n) {
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    return order;
}

// Our top-5 must be the reference's, except that classes whose reference probabilities lie within the tolerance
// of each other may trade places.
void check_top5(const float* ours, const std::vector<float>& ref) {
    const auto ours_order = ranking(ours, ref.size());
    const auto ref_order = ranking(ref.data(), ref.size());
    for (int i = 0; i < kTop; ++i) {
        CAPTURE(i, ours_order[i], ref_order[i]);
        CHECK(std::abs(ref[ours_order[i]] - ref[ref_order[i]]) <= kProbTolerance);
    }
}

double max_abs_diff(const float* a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
    return m;
}

}  // namespace

TEST_CASE("shared TFLite models reproduce the float reference probabilities", "[e2e]") {
    for (const SharedModel& m : shared_tflite_models()) {
        auto model = Model::load(converted_manifest(m));
        SessionOptions options;
        options.precision = Precision::Fp32;  // a quantized model's float reference
        const std::unique_ptr<Session> made = SessionFactory::make(model, options, kNoFuseDw);
        Session& session = *made;
        double worst = 0;
        for (const ReferenceImage& img : m.images) {
            CAPTURE(m.name, img.stem);
            Tensor input(model->input_shape());
            input.data = read_f32_file(img.input_path);
            REQUIRE(input.data.size() == static_cast<size_t>(shape_numel(model->input_shape())));
            const std::vector<float> ref = read_f32_file(img.probs_path);
            session.run(input);
            const Tensor& out = session.output(0);
            REQUIRE(out.data.size() == ref.size());
            const double diff = max_abs_diff(out.data.data(), ref);
            worst = std::max(worst, diff);
            CHECK(diff <= kProbTolerance);
            check_top5(out.data.data(), ref);
        }
        std::printf("e2e: %-36s max |dprob| = %.3g over %zu images\n", m.name.c_str(), worst, m.images.size());
    }
}

TEST_CASE("a batch of images gives each image its own result, in either batch mode", "[e2e]") {
    const SharedModel m = shared_tflite_models().front();
    auto model = Model::load(converted_manifest(m));
    const int batch = static_cast<int>(m.images.size());
    SessionOptions options;
    options.precision = Precision::Fp32;
    options.batch = batch;
    options.threads = 2;
    const BatchMode mode = GENERATE(BatchMode::Latency, BatchMode::Throughput);
    options.mode = mode;
    CAPTURE(mode == BatchMode::Latency ? "latency" : "throughput");
    const std::unique_ptr<Session> made = SessionFactory::make(model, options, kNoFuseDw);
    Session& session = *made;
    REQUIRE(session.options().mode == mode);
    session.run(reference_batch(m, *model));
    const Tensor& out = session.output(0);
    const size_t classes = out.data.size() / static_cast<size_t>(batch);
    for (int b = 0; b < batch; ++b) {
        CAPTURE(m.name, m.images[b].stem);
        const auto ref = read_f32_file(m.images[b].probs_path);
        REQUIRE(ref.size() == classes);
        CHECK(max_abs_diff(out.data.data() + b * classes, ref) <= kProbTolerance);
    }
}

TEST_CASE("photos through the front end and the engine give the reference top-5", "[e2e]") {
    for (const SharedModel& m : shared_tflite_models()) {
        auto model = Model::load(converted_manifest(m));
        SessionOptions options;
        options.precision = Precision::Fp32;  // a quantized model's float reference
        const std::unique_ptr<Session> made = SessionFactory::make(model, options, kNoFuseDw);
        Session& session = *made;
        for (const ReferenceImage& img : m.images) {
            CAPTURE(m.name, img.stem);
            session.run(load_image(img.image_path, model->preprocess()));
            const auto ref = read_f32_file(img.probs_path);
            CHECK(max_abs_diff(session.output(0).data.data(), ref) <= kProbTolerance);
            check_top5(session.output(0).data.data(), ref);
        }
    }
}

TEST_CASE("each fusion (and the u8 classifier) changes no result of a real model beyond 1e-5", "[e2e][fuse][slow]") {
    constexpr double kFusionTolerance = 1e-5;
    for (const SharedModel& m : shared_tflite_models()) {
        auto model = Model::load(converted_manifest(m));
        const int batch = GENERATE(1, 3);
        const int threads = GENERATE(1, 2);  // layouts and oneDNN's kernels differ with the thread count
        SessionOptions plain;
        plain.precision = Precision::Fp32;
        plain.batch = batch;
        plain.threads = threads;
        plain.mode = BatchMode::Latency;
        const LoweringOptions unfused{false, false, false, false}, all_lowering;
        LoweringOptions add = unfused, act = unfused, u8 = unfused, dw = unfused;
        dw.fuse_dw = true;
        add.fuse_add = true;
        act.fuse_activation = true;
        u8.u8_classifier = true;
        Shape shape = model->input_shape();
        shape[0] = batch;
        Tensor input(shape);
        const auto one = read_f32_file(m.images[0].input_path);
        for (int b = 0; b < batch; ++b) std::copy(one.begin(), one.end(), input.data.begin() + b * static_cast<std::ptrdiff_t>(one.size()));
        const std::unique_ptr<Session> base = SessionFactory::make(model, plain, unfused);
        base->run(input);
        const std::tuple<const char*, SessionOptions, LoweringOptions> variants[] = {
            {"fuse_dw", plain, dw},       {"fuse_add", plain, add},         {"fuse_activation", plain, act},
            {"u8_classifier", plain, u8}, {"all", plain, all_lowering}};
        for (const auto& [name, options, lowering] : variants) {
            CAPTURE(m.name, batch, threads, name);
            const std::unique_ptr<Session> fused = SessionFactory::make(model, options, lowering);
            fused->run(input);
            const auto& expected = base->output(0).data;
            CHECK(max_abs_diff(fused->output(0).data.data(), expected) <= kFusionTolerance);
        }
    }
}

// oneDNN falls back to a slow generic kernel ("ref...") without complaint when no optimised one fits a layer's
// layout or post-ops; the performance claims assume that never happens on the shared models.
TEST_CASE("no step of a shared model runs a reference (ref) implementation in fp32", "[e2e][perf][slow]") {
    for (const SharedModel& m : shared_tflite_models()) {
        auto model = Model::load(converted_manifest(m));
        const int batch = GENERATE(1, 16);
        const int threads = GENERATE(1, 2);  // the activation layout follows the thread count
        SessionOptions options;
        options.precision = Precision::Fp32;
        options.batch = batch;
        options.threads = threads;
        options.profile = true;  // every step reports its implementation
        Session session(model, options);
        Shape shape = model->input_shape();
        shape[0] = batch;
        session.run(Tensor(shape));
        REQUIRE_FALSE(session.timings().empty());
        int u8_steps = 0;
        for (const LayerTiming& t : session.timings()) {
            CAPTURE(m.name, batch, threads, t.name, t.impl);
            CHECK(t.impl.rfind("ref", 0) != 0);
            u8_steps += t.impl == "mnet:u8_gemv:avx2";
        }
        // Every shared TFLite model has a u8-quantized classifier (V3's squeeze-and-excitation layers are such
        // products too): at batch 1 they read the 8-bit weights, at batch 16 oneDNN's GEMM runs them.
        if (batch == 1) CHECK(u8_steps >= 1);
        if (batch == 16) CHECK(u8_steps == 0);
    }
}
