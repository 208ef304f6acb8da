// SPDX-License-Identifier: Apache-2.0
// Producer/consumer design: workers claim input indices in order from a shared counter and preprocess each into
// slot (index % capacity) of a ring; a worker may claim index i only once the consumer has taken i - capacity,
// which bounds memory. The consumer takes slots strictly in index order, so results come out in input order
// however the workers interleave, and copies each image into the batch tensor, freeing the slot at once so
// decoding of the next batch overlaps inference of this one.
#include "cli/pipeline.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "cli/common_options.h"
#include "common/usage.h"
#include "core/file_io.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet/image.h"
#include "preprocess/decode_gate.h"

namespace mnet::cli {

namespace {

using Clock = std::chrono::steady_clock;

// How often blocked threads look at the signal flag and the progress bar is redrawn: responsive to Ctrl-C
// without measurable cost.
constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr double kRedrawSeconds = 0.1;
constexpr int kDefaultTerminalWidth = 80;
constexpr int kMaxDecodeWorkers = 4;
// The decode workers together hold at most this many decoded pixels (3 bytes each, about 300 MB), or
// --max-pixels when that is lower (docs/batch.md, "Streaming design"). It is the default per-image limit, so
// an image any run accepts by default never waits for more than the budget to free.
constexpr int64_t kDecodeBudgetPixels = kDefaultMaxImagePixels;

// Written by the signal handler, read by every pipeline thread: a lock-free atomic is both async-signal-safe
// and free of data races, which volatile sig_atomic_t is not across threads.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal flag must be lock-free");

void on_signal(int signo) { g_signal.store(signo); }

// Catches SIGINT and SIGTERM while a pipeline runs. SA_RESETHAND restores the default action after the first
// signal, so a second Ctrl-C kills a run that is slow to stop.
class SignalScope {
public:
    SignalScope() {
        g_signal = 0;
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~SignalScope() {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }
    SignalScope(const SignalScope&) = delete;
    SignalScope& operator=(const SignalScope&) = delete;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string format_duration(double seconds) {
    const long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600) {
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    }
    return buf;
}

// A one-line progress bar on stderr: count, percentage, rate, ETA. Callers clear it before printing other
// stderr lines so the two never interleave.
class Progress {
public:
    Progress(bool enabled, size_t total) : enabled_(enabled), total_(total), start_(Clock::now()) {}

    void update(size_t done, size_t failed, bool force = false) {
        if (!enabled_) return;
        const double elapsed = seconds_since(start_);
        if (!force && elapsed - last_draw_ < kRedrawSeconds) return;
        last_draw_ = elapsed;
        const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
        const std::string eta = rate > 0 ? format_duration(static_cast<double>(total_ - done) / rate) : "?";
        char tail[160];
        std::snprintf(tail, sizeof tail, " %zu/%zu %3.0f%% %.1f img/s ETA %s%s", done, total_,
                      total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0, rate,
                      eta.c_str(), failed ? (" (" + std::to_string(failed) + " failed)").c_str() : "");
        const int width = terminal_width();
        const int bar = std::min(40, width - static_cast<int>(std::strlen(tail)) - 3);
        std::string line = "\r";
        if (bar >= 10) {
            const int filled = total_ ? static_cast<int>(static_cast<double>(bar) * static_cast<double>(done) /
                                                         static_cast<double>(total_))
                                      : bar;
            line += "[" + std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(bar - filled), '.') + "]";
        }
        line += tail;
        line += "\033[K";  // erase what a longer previous line left
        std::fputs(line.c_str(), stderr);
        std::fflush(stderr);
        drawn_ = true;
    }

    void clear() {
        if (!drawn_) return;
        std::fputs("\r\033[K", stderr);
        drawn_ = false;
        last_draw_ = -1.0;
    }

private:
    static int terminal_width() {
        struct winsize ws {};
        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
        return kDefaultTerminalWidth;
    }

    bool enabled_;
    size_t total_;
    Clock::time_point start_;
    double last_draw_ = -1.0;
    bool drawn_ = false;
};

struct Slot {
    std::vector<float> data;
    std::string error;
    bool ready = false;
};

// Thrown by Ring::enter to drop a file whose decoding a signal or the end of the run made pointless.
struct Abandoned {};

// State shared by the decode workers and the consumer; every field below `mu` is guarded by it. As the workers'
// DecodeGate it keeps the pixels being decoded at one time within `budget_pixels`.
struct Ring final : DecodeGate {
    const std::vector<InputFile>& inputs;
    const Preprocess& pp;
    const ImageLimits& limits;
    const JpegDecoding jpeg;
    std::vector<Slot> slots;
    std::mutex mu;
    std::condition_variable slot_ready;  // a worker filled a slot
    std::condition_variable slot_free;   // the consumer emptied one
    size_t next_claim = 0;               // next index a worker takes
    size_t consumed = 0;                 // indices below this are taken by the consumer
    bool stop = false;
    const int64_t budget_pixels;
    int64_t decoding_pixels = 0;           // declared pixels of the images being decoded now
    std::condition_variable budget_freed;  // a worker finished decoding

    Ring(const std::vector<InputFile>& in, const Preprocess& p, const ImageLimits& l, JpegDecoding j,
         size_t capacity, size_t image_floats)
        : inputs(in), pp(p), limits(l), jpeg(j), slots(capacity),
          budget_pixels(std::min(l.max_pixels, kDecodeBudgetPixels)) {
        for (Slot& s : slots) s.data.resize(image_floats);
    }

    // Waits until the image fits in the budget next to those being decoded; one larger than the whole budget
    // waits until it is decoded alone. No deadlock: a worker inside the budget waits for nothing until leave().
    void enter(int64_t pixels) override {
        std::unique_lock<std::mutex> lock(mu);
        while (decoding_pixels > 0 && decoding_pixels + pixels > budget_pixels) {
            if (stop || g_signal) throw Abandoned{};
            budget_freed.wait_for(lock, kPollInterval);
        }
        decoding_pixels += pixels;
    }

    void leave(int64_t pixels) override {
        {
            std::lock_guard<std::mutex> lock(mu);
            decoding_pixels -= pixels;
        }
        budget_freed.notify_all();
    }

    void work() {
        for (;;) {
            size_t i = 0;
            {
                std::unique_lock<std::mutex> lock(mu);
                while (!stop && !g_signal && next_claim < inputs.size() && next_claim >= consumed + slots.size()) {
                    slot_free.wait_for(lock, kPollInterval);
                }
                if (stop || g_signal || next_claim >= inputs.size()) return;
                i = next_claim++;
            }
            Slot& slot = slots[i % slots.size()];
            std::string error = inputs[i].error;
            if (error.empty()) {
                try {
                    preprocess_file(inputs[i].path, pp, slot.data.data(), limits, *this, jpeg);
                } catch (const Abandoned&) {
                    return;  // the slot stays not ready: an interrupted run's output ends before it
                } catch (const Error& e) {
                    error = e.what();
                } catch (const std::exception& e) {  // e.g. std::bad_alloc: still only this file's failure
                    error = inputs[i].path + ": " + e.what();
                }
            }
            {
                std::lock_guard<std::mutex> lock(mu);
                slot.error = std::move(error);
                slot.ready = true;
            }
            slot_ready.notify_all();
        }
    }
};

// Stops and joins the workers on every exit path, exceptions included.
class Workers {
public:
    Workers(Ring& ring, int count) : ring_(ring) {
        for (int i = 0; i < count; ++i) threads_.emplace_back([this] { ring_.work(); });
    }
    ~Workers() {
        {
            std::lock_guard<std::mutex> lock(ring_.mu);
            ring_.stop = true;
        }
        ring_.slot_free.notify_all();
        ring_.budget_freed.notify_all();
        for (std::thread& t : threads_) t.join();
    }
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;

private:
    Ring& ring_;
    std::vector<std::thread> threads_;
};

}  // namespace

int available_cores() { return cpu_budget().cpus; }

int default_decode_workers(int threads) {
    const int cores = available_cores();
    const int half = std::clamp(cores / 2, 1, kMaxDecodeWorkers);
    // One inference thread waits at no OpenMP barrier, so a decode worker that preempts it stalls nothing: the
    // workers may then take every core, one thread more than the cores, and the scheduler gives a core to the
    // inference only while it has a batch to run. Decoding a photo costs several times its inference
    // (docs/batch.md "Threads and batch size"), so on 2 cores one worker held the rate at one core's decoding
    // speed. Two or more inference threads would be stalled at their barriers by an extra runnable thread, so
    // then the cores are split.
    const bool one_inference_thread = threads == 1 || (threads < 0 && cores - half <= 1);
    return one_inference_thread ? std::min(cores, kMaxDecodeWorkers) : half;
}

int inference_threads(int threads, int decode_workers) {
    if (threads >= 0) return threads;
    return std::max(1, available_cores() - decode_workers);
}

PipelineOptions PipelineFlags::options(Precision resolved) const {
    PipelineOptions o;
    o.batch = batch;
    o.threads = threads;
    o.decode_workers = decode_workers;
    o.progress = !quiet && stderr_is_terminal();
    o.verbose = verbose;
    o.limits.max_pixels = max_pixels;
    o.jpeg = jpeg_decode == "scaled" ? JpegDecoding::DctScaled : JpegDecoding::Exact;
    o.precision = resolved;
    return o;
}

void add_pipeline_flags(CLI::App* sub, PipelineFlags& flags) {
    constexpr int kMaxBatch = 4096;
    constexpr int kMaxWorkersFlag = 256;
    add_model_option(sub, flags.model);
    sub->add_option("-b,--batch", flags.batch,
                    "Images per inference run (default " + std::to_string(kDefaultBatch) +
                        "; the last partial batch is zero-padded), e.g. -b 16")
        ->check(whole_number(1, kMaxBatch));
    add_threads_option(sub, flags.threads)
        ->description("Inference threads (default: the cores the decode workers leave, at least 1; 0 = all cores), "
                      "e.g. -t 2");
    add_precision_option(sub, flags.precision);
    sub->add_option("-j,--decode-workers", flags.decode_workers,
                    "Threads decoding and preprocessing images while the model runs (0 = min(4, cores) when the "
                    "inference runs on one thread, as by default on up to 3 cores, else min(4, cores/2)), e.g. -j 2")
        ->check(whole_number(0, kMaxWorkersFlag));
    sub->add_flag("-q,--quiet", flags.quiet,
                  "No progress bar, notes or summary on stderr; failed files are still reported");
    sub->add_flag("-v,--verbose", flags.verbose,
                  "Say on stderr how many inference threads and decode workers run, and why (CPU affinity, cgroup "
                  "CPU quota, OMP_NUM_THREADS)");
    add_max_pixels_option(sub, flags.max_pixels);
    sub->add_option("--files-from", flags.files_from,
                    "Also take the image paths listed in this file, one per line exactly as written (- reads "
                    "standard input; relative to the current folder), e.g. find /data -name '*.jpg' | mnet " +
                        std::string(sub->get_name()) + " --files-from - ...");
    sub->add_option("--jpeg-decode", flags.jpeg_decode,
                    "exact (default): JPEGs decoded at full size, bit for bit the reference preprocessing. scaled: "
                    "decoded at 1/2, 1/4 or 1/8 size by libjpeg's DCT scaling when the crop still covers the model "
                    "input (never upscaled), which cuts the decoding cost; NOT bit-exact with the reference "
                    "preprocessing, so probabilities differ slightly from classify's (docs/batch.md)")
        ->option_text("exact|scaled")
        ->check(one_of({"exact", "scaled"}));
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

int exit_code_for_signal(int signal) { return 128 + signal; }

PipelineStats run_pipeline(const std::shared_ptr<const Model>& model, const std::vector<InputFile>& inputs,
                           const PipelineOptions& options, const BatchSink& sink) {
    if (options.batch < 1) throw Error(ErrorCode::InvalidArgument, "batch size must be at least 1");
    SignalScope signals;
    PipelineStats stats;
    stats.total = inputs.size();
    const Clock::time_point start = Clock::now();
    const Shape in_shape = model->input_shape();
    const size_t image_floats = static_cast<size_t>(shape_numel(in_shape));
    const size_t batch = static_cast<size_t>(options.batch);
    const int workers = options.decode_workers > 0 ? options.decode_workers : default_decode_workers(options.threads);
    // One batch ahead (decoded while the current one runs, since the consumer frees slots as it copies them
    // into the batch tensor) plus two images per worker in flight.
    const size_t capacity = batch + 2 * static_cast<size_t>(workers);

    Ring ring(inputs, model->preprocess(), options.limits, options.jpeg, capacity, image_floats);
    Workers threads(ring, workers);  // decoding starts while the Session is built
    SessionOptions session_options;
    session_options.batch = options.batch;
    session_options.threads = inference_threads(options.threads, workers);
    session_options.precision = options.precision;
    if (options.verbose) {
        const int shown = session_options.threads > 0 ? session_options.threads : cpu_budget().threads;
        std::fprintf(stderr, "mnet: %d inference thread%s (%s) + %d decode worker%s (%s); CPU budget %d: %s\n",
                     shown, shown == 1 ? "" : "s",
                     options.threads > 0    ? "-t"
                     : options.threads == 0 ? "-t 0: all the budget"
                                            : "the CPUs the workers leave, at least 1",
                     workers, workers == 1 ? "" : "s",
                     options.decode_workers > 0       ? "-j"
                     : session_options.threads == 1 ? "one inference thread: min(4, CPUs)"
                                                    : "min(4, CPUs / 2)",
                     available_cores(),
                     cpu_budget().reason.c_str());
    }
    Session session(model, session_options);
    stats.setup_seconds = seconds_since(start);

    Shape batch_shape = in_shape;
    batch_shape[0] = options.batch;
    Tensor src(batch_shape);
    Progress progress(options.progress, inputs.size());
    std::vector<ItemResult> results;
    std::vector<size_t> rows;  // results[i] came from row rows[i] of the batch, or SIZE_MAX when it failed
    size_t next = 0;
    while (next < inputs.size() && !g_signal) {
        results.clear();
        rows.clear();
        size_t good = 0;
        bool cut = false;
        while (good < batch && next < inputs.size()) {
            std::unique_lock<std::mutex> lock(ring.mu);
            Slot& slot = ring.slots[next % capacity];
            while (!slot.ready && !g_signal) {
                ring.slot_ready.wait_for(lock, kPollInterval);
                if (!slot.ready) {
                    lock.unlock();
                    progress.update(stats.processed, stats.failed);
                    lock.lock();
                }
            }
            if (!slot.ready) {  // interrupted: drop the partly gathered batch, keep the output a clean prefix
                cut = true;
                break;
            }
            ItemResult r;
            r.index = next;
            r.path = &inputs[next].path;
            r.error = std::move(slot.error);
            if (r.error.empty()) {
                std::memcpy(src.data.data() + good * image_floats, slot.data.data(), image_floats * sizeof(float));
                rows.push_back(good++);
            } else {
                rows.push_back(SIZE_MAX);
            }
            results.push_back(std::move(r));
            slot.ready = false;
            ring.consumed = ++next;
            lock.unlock();
            ring.slot_free.notify_all();
        }
        if (cut) break;
        if (good > 0) {
            // Padding the final batch (rather than a second Session for the remainder) keeps every image on the
            // same compiled primitives, so a file's result does not depend on its batch or shard.
            std::fill(src.data.begin() + static_cast<std::ptrdiff_t>(good * image_floats), src.data.end(), 0.0f);
            session.run(src);
            const Tensor& dst = session.output(options.output);
            const int64_t count = dst.numel() / options.batch;
            for (size_t i = 0; i < results.size(); ++i) {
                if (rows[i] == SIZE_MAX) continue;
                results[i].scores = dst.data.data() + static_cast<int64_t>(rows[i]) * count;
                results[i].count = count;
            }
        }
        size_t failed = 0;
        for (const ItemResult& r : results) {
            if (r.error.empty()) continue;
            ++failed;
            if (options.report_errors) {
                progress.clear();
                std::fprintf(stderr, "mnet: error: %s\n", io::printable(r.error).c_str());
            }
        }
        if (!sink(results)) {
            stats.sink_stopped = true;
            break;
        }
        // Counted once delivered, so "stopped after N files" names exactly the records the output holds.
        stats.processed += results.size();
        stats.failed += failed;
        progress.update(stats.processed, stats.failed);
    }
    progress.update(stats.processed, stats.failed, true);
    progress.clear();
    stats.signal = g_signal.load();
    stats.seconds = seconds_since(start) - stats.setup_seconds;
    return stats;
}

void print_summary(const char* what, const PipelineStats& stats) {
    const size_t ok = stats.processed - stats.failed;
    const double rate = stats.seconds > 0 ? static_cast<double>(ok) / stats.seconds : 0.0;
    std::fprintf(stderr, "mnet: %s: %zu image%s, %zu failed, %.1f images/s, wall time %.2f s (session setup %.2f s)\n",
                 what, ok, ok == 1 ? "" : "s", stats.failed, rate, stats.seconds + stats.setup_seconds,
                 stats.setup_seconds);
    if (stats.signal) {
        std::fprintf(stderr, "mnet: %s: interrupted by %s after %zu of %zu files; every result up to there is "
                     "complete\n",
                     what, stats.signal == SIGINT ? "SIGINT" : stats.signal == SIGTERM ? "SIGTERM" : "a signal",
                     stats.processed, stats.total);
    }
}

}  // namespace mnet::cli
