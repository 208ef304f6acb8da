// SPDX-License-Identifier: Apache-2.0
// Session: the Plans for one batch size, thread count and batch mode, and the checks at its edges.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <vector>

#include "core/shape.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet_version.h"
#include "graph/loader.h"
#include "ops/executable.h"
#include "runtime/session_factory.h"

namespace mnet {

namespace {

// Latency unless the batch has more than one image and at least one per thread (see BatchMode).
BatchMode resolve_mode(const SessionOptions& o, int threads) {
    if (o.profile) return BatchMode::Latency;
    if (o.mode != BatchMode::Auto) return o.mode;
    return o.batch > 1 && o.batch >= threads ? BatchMode::Throughput : BatchMode::Latency;
}

// A latency-mode session asked for threads = 0 chooses between one thread and its whole budget by the work per
// run: MACs x batch, an fp32 MAC counting 4 (oneDNN's int8 peak is 4.2x its fp32 peak on AVX-512 VNNI,
// docs/performance.md). Which is faster near 100 M depends on the machine: V3-small int8 at batch 1 (56.5 M) ran
// 0.95 ms on one thread against 1.24 on two on the AMD Zen 4 guests, but 1.17 against 0.82 on the Intel Xeon
// guest. So in a band around that line both plans are built and timed on the session's own input shape. Below
// the band one thread, untimed: steps of a few microseconds, which a second thread mostly synchronises (no
// shared model is that small). From the band's top on, both machine kinds ran 27-35% faster on two threads
// (V3-small fp32, 226 M counted; V1 0.75/192 int8, 239 M), and MobileNetV2 1.0 (301 M) never pays for a second
// plan.
constexpr int64_t kMeasureFromWork = 10'000'000;
constexpr int64_t kMeasureBelowWork = 200'000'000;
// The timing: rounds in which each plan runs twice, untimed then timed, the order of the plans alternating. The
// untimed run puts the plan in the state it runs in when used alone: its OpenMP thread awake (after the other
// plan's run it may sleep, and on a busy machine waking it made two threads look slower than they then ran), its
// arena paged in, its weights in cache. At least kMinChoiceRounds rounds, more while the timed runs have taken under kChoiceBudgetMs, at most
// kMaxChoiceRounds: V3-small int8 at batch 1 stops after 3 rounds (12 runs, ~12 ms), a 10 M model after 7.
constexpr int kMinChoiceRounds = 3;
constexpr int kMaxChoiceRounds = 7;
constexpr double kChoiceBudgetMs = 5.0;
// One thread is kept only when its median is this much below the budget plan's: two threads are the plan that
// scales when the machine is quiet, so a near tie or noise keeps them. The margin the band was made for is larger
// (one thread 0.77x on Zen 4, two 0.70x on the Xeon).
constexpr double kOneThreadClearlyFaster = 0.9;

int64_t split_work(const Model& model, const SessionOptions& o) {
    const int64_t per_mac = o.precision == Precision::Int8 ? 1 : 4;
    return model.total_macs() * o.batch * per_mac;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double time_run(int /*threads*/, const std::function<void()>& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Fills in choice.one_thread_ms, budget_ms and rounds: `one` and `all` each run on zeros of `input_shape`.
void time_plans(Executable& one, Executable& all, const Shape& input_shape, const PlanTimer& timer,
                ThreadChoice& choice) {
    const std::vector<float> src(static_cast<size_t>(shape_numel(input_shape)), 0.0f);
    Executable* plans[] = {&one, &all};
    const int threads[] = {1, choice.budget};
    std::vector<double> ms[2];
    double spent = 0;
    for (int round = 0; round < kMaxChoiceRounds && (round < kMinChoiceRounds || spent < kChoiceBudgetMs); ++round) {
        for (int k = 0; k < 2; ++k) {
            const int i = (round + k) % 2;  // one thread first in even rounds, the budget plan first in odd ones
            plans[i]->run(src.data(), false, nullptr);
            const double t = timer(threads[i], [&] { plans[i]->run(src.data(), false, nullptr); });
            ms[i].push_back(t);
            spent += t;
        }
        choice.rounds = round + 1;
    }
    choice.one_thread_ms = median(ms[0]);
    choice.budget_ms = median(ms[1]);
}

// A throughput stream's plan: `images` at a time, one thread.
SessionOptions stream_options(SessionOptions o, int images) {
    o.batch = images;
    o.threads = 1;
    return o;
}

// The images a throughput stream runs at a time. One image's largest activation must stay in a core's share of
// the caches for streams to pay (MobileNetV2: 4.8 MB, and one image at a time is fastest); models with small
// activations also gain from batching, which spreads each layer's fixed cost. Chunks are made equal and their
// count a multiple of the streams so that no stream is left with a longer share. On AVX-512, two images at a time
// pay a little even when they overflow the caches (four no better than two): oneDNN then fuses six
// pointwise+depthwise pairs instead of three. docs/performance.md has the measurements.
int images_per_chunk(const Graph& graph, int batch, int streams) {
    constexpr int64_t kStreamCacheBytes = int64_t{4} << 20;
    int64_t largest = 1;
    for (const Value& v : graph.values) largest = std::max(largest, shape_numel(v.shape) * int64_t{sizeof(float)});
    const int64_t fit = std::max<int64_t>(kStreamCacheBytes / largest, Executable::min_stream_images());
    const int wanted = static_cast<int>(std::clamp<int64_t>(fit, 1, batch));
    int chunks = (batch + wanted - 1) / wanted;
    chunks = std::min(batch, (chunks + streams - 1) / streams * streams);
    return (batch + chunks - 1) / chunks;
}

}  // namespace

struct Session::Impl {
    std::shared_ptr<const Model> model;
    SessionOptions options;  // as resolved: threads and mode are never 0 / Auto
    // Latency mode: one plan for the whole batch. Throughput mode: one single-threaded plan per stream (replicas
    // of the first) for `chunk` images, one more for a shorter last chunk, and the batch's outputs gathered.
    std::vector<std::unique_ptr<Executable>> plans;
    int chunk = 0;
    std::unique_ptr<Executable> last;
    std::vector<Tensor> gathered;
    Shape input_shape;
    std::vector<LayerTiming> timings;
    ThreadChoice choice;

    Impl(std::shared_ptr<const Model> m, const SessionOptions& o, const LoweringOptions& lowering,
         const PlanTimer& timer)
        : model(std::move(m)), options(o), input_shape(model->input_shape()) {
        if (o.threads < 0) throw Error(ErrorCode::InvalidArgument, "thread count must not be negative");
        options.threads = o.threads > 0 ? o.threads : Executable::process_threads();
        options.mode = resolve_mode(o, options.threads);
        options.precision = effective_precision(*model, o.precision);
        input_shape[0] = o.batch;
        choice.budget = options.threads;
        choice.work = split_work(*model, options);
        choice.basis = o.threads > 0 ? ThreadChoice::Basis::Asked : ThreadChoice::Basis::Budget;
        if (options.mode == BatchMode::Latency) {
            plans.push_back(latency_plan(lowering, timer));
        } else {
            build_streams(lowering);
        }
        choice.threads = options.threads;
    }

    std::unique_ptr<Executable> latency_plan(const LoweringOptions& lowering, const PlanTimer& timer);
    void build_streams(const LoweringOptions& lowering);
    void run_streams(const float* src);
};

// The plan on `options.threads`, or on one thread when choice (threads = 0) says so; options.threads is then 1.
std::unique_ptr<Executable> Session::Impl::latency_plan(const LoweringOptions& lowering, const PlanTimer& timer) {
    const Model::Impl& graph = model_impl(*model);
    if (choice.basis == ThreadChoice::Basis::Asked || options.threads == 1 || choice.work >= kMeasureBelowWork) {
        return std::make_unique<Executable>(graph, options, lowering);
    }
    // Untimed in the band too: one thread is the cheaper session to create (V3-small's whole `mnet classify` took
    // 62 ms on one thread against 81 on two, loaded machine), and a few runs cannot win back a wrong guess.
    if (choice.work < kMeasureFromWork || !options.measure_threads) {
        choice.basis = ThreadChoice::Basis::SmallWork;
        options.threads = 1;
        return std::make_unique<Executable>(graph, options, lowering);
    }
    choice.basis = ThreadChoice::Basis::Measured;
    SessionOptions single = options;
    single.threads = 1;
    auto all = std::make_unique<Executable>(graph, options, lowering);
    auto one = std::make_unique<Executable>(graph, single, lowering);
    time_plans(*one, *all, input_shape, timer ? timer : PlanTimer(time_run), choice);
    if (choice.one_thread_ms >= kOneThreadClearlyFaster * choice.budget_ms) return all;
    options.threads = 1;
    return one;  // the budget plan, its primitives and activation arena are freed here
}

void Session::Impl::build_streams(const LoweringOptions& lowering) {
    const Model::Impl& graph = model_impl(*model);
    const int streams = std::min(options.threads, options.batch);
    chunk = images_per_chunk(graph.graph, options.batch, streams);
    plans.push_back(std::make_unique<Executable>(graph, stream_options(options, chunk), lowering));
    for (int i = 1; i < streams; ++i) plans.push_back(std::make_unique<Executable>(*plans.front()));
    if (const int rest = options.batch % chunk) {  // only the last chunk is short: one stream at a time uses it
        last = std::make_unique<Executable>(graph, stream_options(options, rest), lowering);
    }
    for (const Tensor& t : plans.front()->outputs()) {
        Shape shape = t.shape;
        shape[0] = options.batch;
        gathered.emplace_back(shape);
    }
}

// Each stream takes the next chunk of images not yet taken, so a stream slowed by a busy core does fewer. oneDNN
// runs a primitive single-threaded when called inside an OpenMP parallel region.
void Session::Impl::run_streams(const float* src) {
    const int images = options.batch;
    const size_t image_floats = static_cast<size_t>(shape_numel(input_shape)) / static_cast<size_t>(images);
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr failure;
#pragma omp parallel num_threads(static_cast<int>(plans.size()))
    {
        Executable& own = *plans[static_cast<size_t>(omp_get_thread_num())];
        try {
            for (int first = chunk * next++; first < images && !failed; first = chunk * next++) {
                Executable& plan = first + chunk > images ? *last : own;
                plan.run(src + static_cast<size_t>(first) * image_floats, false, nullptr);
                for (size_t k = 0; k < gathered.size(); ++k) {
                    const std::vector<float>& rows = plan.outputs()[k].data;
                    const size_t row = gathered[k].data.size() / static_cast<size_t>(images);
                    std::copy(rows.begin(), rows.end(), gathered[k].data.begin() + static_cast<ptrdiff_t>(first * row));
                }
            }
        } catch (...) {
#pragma omp critical(mnet_stream_failure)
            if (!failure) failure = std::current_exception();
            failed = true;
        }
    }
    if (failure) std::rethrow_exception(failure);
}

Precision effective_precision(const Model& model, Precision requested) {
    if (requested != Precision::Auto) return requested;
    return model.has_quantization() ? Precision::Int8 : Precision::Fp32;
}

namespace {

std::unique_ptr<Session::Impl> new_impl(std::shared_ptr<const Model> model, const SessionOptions& options,
                                        const LoweringOptions& lowering, const PlanTimer& timer) {
    if (!model) throw Error(ErrorCode::InvalidArgument, "Session: no model");
    return std::make_unique<Session::Impl>(std::move(model), options, lowering, timer);
}

}  // namespace

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options)
    : impl_(new_impl(std::move(model), options, LoweringOptions{}, PlanTimer{})) {}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Session::~Session() = default;

void Session::run(const Tensor& src) {
    if (src.shape != impl_->input_shape || src.numel() != shape_numel(impl_->input_shape)) {
        throw Error(ErrorCode::InvalidArgument, "input shape " + shape_str(src.shape) + " does not match the session's " +
                                                    shape_str(impl_->input_shape));
    }
    if (impl_->options.mode == BatchMode::Throughput) {
        impl_->run_streams(src.data.data());
    } else {
        impl_->plans.front()->run(src.data.data(), impl_->options.profile, &impl_->timings);
    }
}

const Tensor& Session::output(size_t i) const {
    const std::vector<Tensor>& outputs =
        impl_->options.mode == BatchMode::Throughput ? impl_->gathered : impl_->plans.front()->outputs();
    if (i >= outputs.size()) throw Error(ErrorCode::InvalidArgument, "output index " + std::to_string(i) + " out of range");
    return outputs[i];
}

size_t Session::output_count() const { return impl_->plans.front()->outputs().size(); }
const std::vector<LayerTiming>& Session::timings() const { return impl_->timings; }
const SessionOptions& Session::options() const { return impl_->options; }
const Model& Session::model() const { return *impl_->model; }

std::unique_ptr<Session> SessionFactory::make(std::shared_ptr<const Model> model, const SessionOptions& options,
                                              const LoweringOptions& lowering, const PlanTimer& timer) {
    return std::unique_ptr<Session>(new Session(new_impl(std::move(model), options, lowering, timer)));
}

const ThreadChoice& SessionFactory::thread_choice(const Session& session) { return session.impl_->choice; }

const char* basis_name(ThreadChoice::Basis basis) {
    switch (basis) {
        case ThreadChoice::Basis::Asked: return "asked";
        case ThreadChoice::Basis::Budget: return "budget";
        case ThreadChoice::Basis::SmallWork: return "small-work";
        case ThreadChoice::Basis::Measured: return "measured";
    }
    return "?";
}

std::string mnet_version() { return MNET_VERSION_STRING; }

}  // namespace mnet
