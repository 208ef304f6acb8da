// SPDX-License-Identifier: Apache-2.0
// Precision::Bf16 on the shared real models: against the independent float reference outputs in
// ../shared/testdata/reference (not against the engine's fp32), and the refusal on a CPU without bf16.
// Where support/bf16_cpu.h says this CPU (or the oneDNN cap the test runs under) has no bf16, every case here
// asserts the refusal instead: no machine passes them by skipping.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "mnet/bench.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "shared_models.h"
#include "support/bf16_cpu.h"
#include "support/expect_error.h"
#include "support/test_data.h"

using namespace mnet;
using namespace mnet::test;

namespace {

// bf16 keeps 8 significant bits: each rounding of an activation or weight is off by at most u = 2^-8 of the
// value, so a dot product's relative error is about 2u per layer. Over the ~50 layers of a MobileNet the errors
// add up like a random walk: relative logit error ~ 2u * sqrt(50) ~ 5.5%, and a probability moves by at most a
// quarter of its logits' change (d softmax / d logit <= 1/4), so a logit of size ~10 may move a probability by ~0.1
// in the worst case. Measured on the shared models: at most 0.025 (docs/performance.md, "bf16").
constexpr double kBf16Unit = 1.0 / 256;  // 2^-8
constexpr double kProbTolerance = 2 * kBf16Unit * 7.1 * 10 / 4;  // 2u * sqrt(50) * logit 10 / 4 = 0.139

size_t argmax(const float* p, size_t n) { return static_cast<size_t>(std::max_element(p, p + n) - p); }

void expect_refusal(const std::shared_ptr<const Model>& model, int batch) {
    SessionOptions options;
    options.precision = Precision::Bf16;
    options.batch = batch;
    expect_error([&] { Session session(model, options); }, ErrorCode::Unsupported,
                 {"bf16 precision: ", cpu_isa(), "bf16 needs AVX512_BF16 or AMX"});
}

}  // namespace

TEST_CASE("bf16: shared TFLite models stay within bf16's tolerance of the float reference, top-1 agreeing",
          "[e2e][bf16]") {
    const bool bf16 = expect_bf16();
    for (const SharedModel& m : shared_tflite_models()) {
        auto model = Model::load(converted_manifest(m));
        CAPTURE(m.name, cpu_isa());
        if (!bf16) {
            expect_refusal(model, 1);
            continue;
        }
        SessionOptions options;
        options.precision = Precision::Bf16;
        Session session(model, options);
        REQUIRE(session.options().precision == Precision::Bf16);
        double worst = 0;
        int agree = 0;
        for (const ReferenceImage& img : m.images) {
            CAPTURE(img.stem);
            Tensor input(model->input_shape());
            input.data = read_f32_file(img.input_path);
            const std::vector<float> ref = read_f32_file(img.probs_path);
            session.run(input);
            const Tensor& out = session.output(0);
            REQUIRE(out.data.size() == ref.size());
            double diff = 0;
            for (size_t i = 0; i < ref.size(); ++i) diff = std::max(diff, std::abs(double(out.data[i]) - ref[i]));
            worst = std::max(worst, diff);
            CHECK(diff <= kProbTolerance);
            const bool same = argmax(out.data.data(), ref.size()) == argmax(ref.data(), ref.size());
            CHECK(same);
            agree += same;
        }
        std::printf("bf16: %-36s max |dprob| = %.3g vs the float reference, top-1 %d of %zu\n", m.name.c_str(), worst,
                    agree, m.images.size());
    }
}

TEST_CASE("bf16: a batch gives each image its result, in either batch mode", "[e2e][bf16]") {
    const SharedModel m = shared_tflite_models().front();
    auto model = Model::load(converted_manifest(m));
    const int batch = static_cast<int>(m.images.size());
    if (!expect_bf16()) {
        expect_refusal(model, batch);
        return;
    }
    const BatchMode mode = GENERATE(BatchMode::Latency, BatchMode::Throughput);
    CAPTURE(m.name, mode == BatchMode::Latency ? "latency" : "throughput");
    SessionOptions options;
    options.precision = Precision::Bf16;
    options.batch = batch;
    options.threads = 2;
    options.mode = mode;
    Session session(model, options);
    REQUIRE(session.options().mode == mode);
    session.run(reference_batch(m, *model));
    const Tensor& out = session.output(0);
    const size_t classes = out.data.size() / static_cast<size_t>(batch);
    for (int b = 0; b < batch; ++b) {
        CAPTURE(m.images[b].stem);
        const auto ref = read_f32_file(m.images[b].probs_path);
        REQUIRE(ref.size() == classes);
        const float* p = out.data.data() + b * classes;
        double diff = 0;
        for (size_t i = 0; i < classes; ++i) diff = std::max(diff, std::abs(double(p[i]) - ref[i]));
        CHECK(diff <= kProbTolerance);
        CHECK(argmax(p, classes) == argmax(ref.data(), classes));
    }
}

// Registered a second time with ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI (tests.cmake): oneDNN then reports no bf16 on
// any CPU, and the session must refuse, naming the instruction set oneDNN runs.
TEST_CASE("bf16: the session refuses exactly where oneDNN cannot run bf16", "[e2e][bf16]") {
    const SharedModel m = shared_tflite_models().front();
    auto model = Model::load(converted_manifest(m));
    CAPTURE(cpu_isa());
    if (!expect_bf16()) {
        expect_refusal(model, 1);
        return;
    }
    SessionOptions options;
    options.precision = Precision::Bf16;
    options.threads = 1;
    options.profile = true;
    Session session(model, options);
    session.run(Tensor(model->input_shape()));
    // The convolutions run on bf16 with oneDNN's native kernels (never a reference or emulated one), the softmax
    // on f32.
    int bf16_convolutions = 0;
    for (const LayerTiming& t : session.timings()) {
        CAPTURE(t.name, t.impl, t.type);
        CHECK(t.impl.rfind("ref", 0) != 0);
        if (t.op.rfind("conv2d", 0) == 0 && t.type == "bf16") {
            ++bf16_convolutions;
            CHECK(t.impl.find("bf16") != std::string::npos);
        }
        if (t.op == "softmax") CHECK(t.type == "f32");
    }
    CHECK(bf16_convolutions >= 27);  // V1 (the first model) has 27 convolutions before its classifier
}
