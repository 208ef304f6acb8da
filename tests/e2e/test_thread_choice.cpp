// SPDX-License-Identifier: Apache-2.0
// A session asked for threads = 0 chooses between one thread and its whole budget for a latency run with little
// work (SessionOptions::threads): when it times the two plans, that the timings decide, and that either plan gives
// the results the references allow. The timings are injected (PlanTimer): no result here depends on the clock.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <vector>

#include "mnet/engine.h"
#include "op_check.h"
#include "ops/reference/reference.h"
#include "runtime/session_factory.h"
#include "shared_models.h"
#include "support/model_builder.h"
#include "support/test_data.h"

using namespace mnet;
using namespace mnet::test;

namespace {

// The band of work (MACs x batch, an fp32 MAC counting 4) in which the two plans are timed (engine.h).
constexpr int64_t kMeasureFrom = 10'000'000;
constexpr int64_t kMeasureBelow = 200'000'000;
constexpr std::array<int64_t, 4> kNoPad{0, 0, 0, 0};
constexpr std::array<int64_t, 4> kSamePad{1, 1, 1, 1};
constexpr std::array<int64_t, 4> kTfStride2{0, 0, 1, 1};

int64_t work(const Model& model, Precision precision, int batch) {
    return model.total_macs() * batch * (precision == Precision::Int8 ? 1 : 4);
}

// Runs each plan it is given and answers with fixed times: `one_ms` for the one-thread plan, `budget_ms` for the
// other. Counts the timed runs by thread count.
struct FixedTimes {
    double one_ms = 1.0, budget_ms = 1.0;
    std::vector<int> calls;  // the thread count of each timed run, in order
    PlanTimer timer() {
        return [this](int threads, const std::function<void()>& run) {
            run();
            calls.push_back(threads);
            return threads == 1 ? one_ms : budget_ms;
        };
    }
};

std::shared_ptr<const Model> v3_small() {
    for (const SharedModel& m : shared_tflite_models()) {
        if (m.name.find("v3_small") != std::string::npos) return Model::load(converted_manifest(m));
    }
    throw std::runtime_error("no MobileNetV3-small among the shared models");
}

// A MobileNetV3-shaped fp32 graph at 96x96 (squeeze-and-excite, hard-swish, residual adds) whose work lies in the
// band: ~16 M MACs, 64 M counted.
std::shared_ptr<const Model> band_graph() {
    ModelBuilder b(96, 96, 11);
    std::string x = b.conv(b.input(), conv_spec(16, 3, 2, kTfStride2, 1, "hard_swish"));
    for (int i = 0; i < 3; ++i) {
        const int64_t c = b.shape(x)[1];
        std::string y = b.conv(x, conv_spec(c * 4, 1, 1, kNoPad, 1, "hard_swish"));
        y = b.conv(y, conv_spec(c * 4, 3, 1, kSamePad, c * 4, "hard_swish"));
        std::string se = b.global_avg_pool(y, true);
        se = b.conv(se, conv_spec(16, 1, 1, kNoPad, 1, "relu"));
        se = b.conv(se, conv_spec(c * 4, 1, 1, kNoPad, 1, "hard_sigmoid"));
        y = b.binary("mul", y, se);
        y = b.conv(y, conv_spec(c, 1, 1, kNoPad));
        x = b.binary("add", x, y);
    }
    std::string y = b.global_avg_pool(x, true);
    y = b.conv(y, conv_spec(10, 1, 1, kNoPad));
    y = b.reshape(y, {-1});
    return b.build({b.softmax(y)});
}

}  // namespace

TEST_CASE("threads = 0 times two plans only for a latency run whose work is in the band, a count asked for is kept",
          "[e2e][threads]") {
    const int budget = cpu_budget().threads;
    for (const SharedModel& m : shared_tflite_models()) {
        auto model = Model::load(converted_manifest(m));
        for (const Precision precision : {Precision::Int8, Precision::Fp32}) {
            for (const int batch : {1, 3}) {
                const int64_t expected_work = work(*model, precision, batch);
                const bool in_band = expected_work >= kMeasureFrom && expected_work < kMeasureBelow;
                CAPTURE(m.name, precision == Precision::Int8 ? "int8" : "fp32", batch, expected_work, budget);
                SessionOptions o;
                o.precision = precision;
                o.batch = batch;
                o.mode = BatchMode::Latency;
                FixedTimes times;
                const auto session = SessionFactory::make(model, o, {}, times.timer());
                const ThreadChoice& choice = SessionFactory::thread_choice(*session);
                CHECK(choice.work == expected_work);
                CHECK(choice.budget == budget);
                CHECK(choice.threads == session->options().threads);
                const bool measured = in_band && budget > 1;
                CHECK(!times.calls.empty() == measured);
                CHECK((choice.basis == ThreadChoice::Basis::Measured) == measured);
                if (!measured) CHECK(choice.basis == ThreadChoice::Basis::Budget);  // the shared models: not under
                CHECK(session->options().threads == budget);  // equal times keep the budget

                // A count asked for is used as given, in the band or not, and nothing is timed.
                for (const int asked : {1, 2}) {
                    o.threads = asked;
                    FixedTimes none;
                    const auto fixed = SessionFactory::make(model, o, {}, none.timer());
                    CHECK(fixed->options().threads == asked);
                    CHECK(SessionFactory::thread_choice(*fixed).basis == ThreadChoice::Basis::Asked);
                    CHECK(none.calls.empty());
                }
            }
        }
    }
    // The one the band was made for: V3-small in int8 at batch 1 (56.5 M).
    const auto v3 = v3_small();
    CHECK(work(*v3, Precision::Int8, 1) >= kMeasureFrom);
    CHECK(work(*v3, Precision::Int8, 1) < kMeasureBelow);
}

TEST_CASE("threads = 0 gives a small latency run or measure_threads off one thread untimed, throughput streams the budget",
          "[e2e][threads]") {
    const int budget = cpu_budget().threads;
    ModelBuilder b(16, 16, 3);
    const std::string x = b.conv(b.input(), conv_spec(8, 3, 1, kSamePad, 1, "relu"));
    auto tiny = b.build({b.global_avg_pool(x, true)});
    REQUIRE(work(*tiny, Precision::Fp32, 1) < kMeasureFrom);
    SessionOptions o;
    o.precision = Precision::Fp32;
    FixedTimes times;
    const auto small = SessionFactory::make(tiny, o, {}, times.timer());
    CHECK(small->options().threads == 1);
    CHECK(SessionFactory::thread_choice(*small).basis ==
          (budget > 1 ? ThreadChoice::Basis::SmallWork : ThreadChoice::Basis::Budget));

    // V3-small int8 at a batch of one image per thread or more: throughput streams, one per thread of the budget.
    o.precision = Precision::Int8;
    o.batch = std::max(2, budget);
    const auto streams = SessionFactory::make(v3_small(), o, {}, times.timer());
    CHECK(streams->options().mode == BatchMode::Throughput);
    CHECK(streams->options().threads == budget);
    CHECK(SessionFactory::thread_choice(*streams).basis == ThreadChoice::Basis::Budget);

    // In the band, with the timing turned off (what `mnet classify` asks): one thread, untimed.
    o.batch = 1;
    o.measure_threads = false;
    const auto untimed = SessionFactory::make(v3_small(), o, {}, times.timer());
    CHECK(untimed->options().threads == 1);
    CHECK(SessionFactory::thread_choice(*untimed).basis ==
          (budget > 1 ? ThreadChoice::Basis::SmallWork : ThreadChoice::Basis::Budget));
    CHECK(times.calls.empty());
}

TEST_CASE("threads = 0 in the band: the median times decide, one thread only when clearly faster",
          "[e2e][threads]") {
    const int budget = cpu_budget().threads;
    if (budget < 2) WARN("a budget of one thread: nothing to choose, every case below expects the budget");
    const auto model = v3_small();
    SessionOptions o;
    o.precision = Precision::Int8;
    struct Case {
        double one_ms, budget_ms;
        int expected;  // with a budget of two or more
    };
    // One thread is kept only below 0.9x the budget plan's median.
    const Case cases[] = {{0.80, 1.00, 1}, {0.89, 1.00, 1}, {0.91, 1.00, budget}, {1.00, 1.00, budget},
                          {1.30, 1.00, budget}};
    for (const Case& c : cases) {
        CAPTURE(c.one_ms, c.budget_ms);
        FixedTimes times{c.one_ms, c.budget_ms, {}};
        const auto session = SessionFactory::make(model, o, {}, times.timer());
        const ThreadChoice& choice = SessionFactory::thread_choice(*session);
        if (budget < 2) {
            CHECK(session->options().threads == 1);
            CHECK(times.calls.empty());
            continue;
        }
        CHECK(session->options().threads == c.expected);
        CHECK(choice.threads == c.expected);
        CHECK(choice.one_thread_ms == c.one_ms);
        CHECK(choice.budget_ms == c.budget_ms);
        // Rounds of one timed run of each plan, at least three, the order alternating.
        CHECK(choice.rounds >= 3);
        REQUIRE(times.calls.size() == static_cast<size_t>(2 * choice.rounds));
        for (int r = 0; r < choice.rounds; ++r) {
            CAPTURE(r);
            CHECK(times.calls[2 * r] == (r % 2 == 0 ? 1 : budget));
            CHECK(times.calls[2 * r + 1] == (r % 2 == 0 ? budget : 1));
        }
    }

    // A median, not a mean: one slow run of the one-thread plan (a preemption) does not decide.
    if (budget >= 2) {
        int one_runs = 0;
        const PlanTimer outlier = [&](int threads, const std::function<void()>& run) {
            run();
            if (threads != 1) return 1.0;
            return ++one_runs == 2 ? 50.0 : 0.5;
        };
        const auto session = SessionFactory::make(model, o, {}, outlier);
        CHECK(session->options().threads == 1);
        CHECK(SessionFactory::thread_choice(*session).one_thread_ms == 0.5);
    }
}

TEST_CASE("either plan of an fp32 graph in the band matches the reference interpreter", "[e2e][threads]") {
    const auto model = band_graph();
    const int64_t graph_work = work(*model, Precision::Fp32, 1);
    CAPTURE(graph_work);
    REQUIRE(graph_work >= kMeasureFrom);
    REQUIRE(graph_work < kMeasureBelow);
    const Tensor x = random_input(*model, 1, 41, -2.0f, 2.0f);
    const Tensor want = reference::run(*model, x)[0];
    for (const bool one_faster : {true, false}) {
        CAPTURE(one_faster);
        SessionOptions o;
        o.precision = Precision::Fp32;
        FixedTimes times{one_faster ? 0.5 : 1.0, one_faster ? 1.0 : 0.5, {}};
        const auto session = SessionFactory::make(model, o, {}, times.timer());
        CHECK(session->options().threads == (one_faster ? 1 : cpu_budget().threads));
        session->run(x);
        const Comparison c = compare(session->output(0), want);
        INFO("max abs error " << c.max_abs_error << " at " << c.worst_index);
        CHECK(c.max_abs_error <= c.allowed(kRelTolerance));
    }
}

TEST_CASE("the one-thread and the budget plan give V3-small int8 the same results bit for bit", "[e2e][threads]") {
    const auto model = v3_small();
    const SharedModel m = [] {
        for (const SharedModel& s : shared_tflite_models()) {
            if (s.name.find("v3_small") != std::string::npos) return s;
        }
        throw std::runtime_error("no MobileNetV3-small");
    }();
    SessionOptions o;
    o.precision = Precision::Int8;
    FixedTimes one_faster{0.5, 1.0, {}}, budget_faster{1.0, 0.5, {}};
    const auto one = SessionFactory::make(model, o, {}, one_faster.timer());
    const auto all = SessionFactory::make(model, o, {}, budget_faster.timer());
    CHECK(one->options().threads == 1);
    CHECK(all->options().threads == cpu_budget().threads);
    for (const ReferenceImage& img : m.images) {
        CAPTURE(img.stem);
        Tensor input(model->input_shape());
        input.data = read_f32_file(img.input_path);
        one->run(input);
        all->run(input);
        CHECK(one->output(0).data == all->output(0).data);
    }
}
