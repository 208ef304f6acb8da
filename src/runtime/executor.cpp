// SPDX-License-Identifier: Apache-2.0
// Session: the Plans for one batch size, thread count and batch mode, and the checks at its edges.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>

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

// Work per run below which a latency-mode run is not split across threads: MACs x batch, an fp32 MAC counting 4
// (oneDNN's int8 peak is 4.2x its fp32 peak on AVX-512 VNNI, docs/performance.md). Such a model's steps take a
// few microseconds each, and a second thread costs more in synchronisation and shared cache lines than it
// gives. Measured on AVX-512 VNNI at batch 1, one thread against two: V3-small int8 (56.5 M) 0.95 against 1.24
// ms; above the line, V3-small fp32 (226 M counted) 1.63 against 1.06 ms, V1 0.75/192 int8 (239 M) 1.64
// against 1.10 ms. One decision per session, so no step switches OpenMP's team size (which cost more than it
// saved when tried per step).
constexpr int64_t kMinSplitWork = 100'000'000;

int latency_threads(const Model& model, const SessionOptions& o, int threads) {
    const int64_t per_mac = o.precision == Precision::Int8 ? 1 : 4;
    const int64_t work = model.total_macs() * o.batch * per_mac;
    return work < kMinSplitWork ? 1 : threads;
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

    Impl(std::shared_ptr<const Model> m, const SessionOptions& o, const LoweringOptions& lowering)
        : model(std::move(m)), options(o), input_shape(model->input_shape()) {
        if (o.threads < 0) throw Error(ErrorCode::InvalidArgument, "thread count must not be negative");
        options.threads = o.threads > 0 ? o.threads : Executable::process_threads();
        options.mode = resolve_mode(o, options.threads);
        options.precision = effective_precision(*model, o.precision);
        input_shape[0] = o.batch;
        if (options.mode == BatchMode::Latency) {
            options.threads = latency_threads(*model, options, options.threads);
            plans.push_back(std::make_unique<Executable>(model_impl(*model), options, lowering));
            return;
        }
        const int streams = std::min(options.threads, options.batch);
        chunk = images_per_chunk(model_impl(*model).graph, options.batch, streams);
        plans.push_back(std::make_unique<Executable>(model_impl(*model), stream_options(options, chunk), lowering));
        for (int i = 1; i < streams; ++i) plans.push_back(std::make_unique<Executable>(*plans.front()));
        if (const int rest = options.batch % chunk) {  // only the last chunk is short: one stream at a time uses it
            last = std::make_unique<Executable>(model_impl(*model), stream_options(options, rest), lowering);
        }
        for (const Tensor& t : plans.front()->outputs()) {
            Shape shape = t.shape;
            shape[0] = o.batch;
            gathered.emplace_back(shape);
        }
    }

    void run_streams(const float* src);
};

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

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options)
    : Session(std::move(model), options, LoweringOptions{}) {}

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options, const LoweringOptions& lowering) {
    if (!model) throw Error(ErrorCode::InvalidArgument, "Session: no model");
    impl_ = std::make_unique<Impl>(std::move(model), options, lowering);
}

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
                                              const LoweringOptions& lowering) {
    return std::unique_ptr<Session>(new Session(std::move(model), options, lowering));
}

std::string mnet_version() { return MNET_VERSION_STRING; }

}  // namespace mnet
