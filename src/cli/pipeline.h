// SPDX-License-Identifier: Apache-2.0
// The streaming engine of `mnet batch` and `mnet eval`: decode workers feed a bounded ring of preprocessed
// images, the calling thread runs them through one Session in batches and hands results over in input order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/file_list.h"
#include "cli/model_source.h"
#include "mnet/engine.h"
#include "mnet/model.h"
#include "mnet/image.h"
#include "preprocess/decode_gate.h"

namespace mnet::cli {

constexpr int kDefaultBatch = 8;  // see docs/batch.md "Performance": within a few % of the best on 2-8 cores

struct PipelineOptions {
    int batch = kDefaultBatch;  // images per Session run; the last partial batch is zero-padded
    int threads = -1;           // inference threads: 0 = all cores, -1 = the cores the decode workers leave
    int decode_workers = 0;     // decode/preprocess threads, 0 = default_decode_workers()
    bool progress = false;      // draw a progress bar on stderr (callers pass stderr_is_terminal())
    bool report_errors = true;  // one "mnet: error: ..." line on stderr per failed file
    bool verbose = false;       // say on stderr how many threads run and why
    ImageLimits limits;         // images past these are failed files (--max-pixels)
    JpegDecoding jpeg = JpegDecoding::Exact;  // --jpeg-decode
    Precision precision = Precision::Fp32;
    size_t output = 0;          // the model output results carry (batch --features: a feature output)
};

// The flags `mnet batch` and `mnet eval` share, as given; add_pipeline_flags registers them.
struct PipelineFlags {
    ModelFlags model;
    std::string precision;  // empty: the model's default (resolve_precision)
    int batch = kDefaultBatch;
    int threads = -1;  // see inference_threads()
    int decode_workers = 0;
    bool quiet = false;
    bool verbose = false;
    int64_t max_pixels = 0;  // set by add_max_pixels_option
    std::string files_from;  // --files-from: a list file, "-" for stdin; empty: not given
    std::string jpeg_decode = "exact";  // --jpeg-decode exact|scaled

    // The pipeline these flags ask for, running in `resolved` (resolve_precision of the flag and the model).
    PipelineOptions options(Precision resolved) const;
};

// -m, -b, -t, --precision, -j, -q, -v, --max-pixels, --files-from and --jpeg-decode.
void add_pipeline_flags(CLI::App* sub, PipelineFlags& flags);

// One input's outcome. `scores` (count values, the row of output PipelineOptions::output) is valid only inside the sink
// call; it is null when `error` is non-empty.
struct ItemResult {
    size_t index = 0;          // position in the input list
    const std::string* path = nullptr;
    std::string error;         // empty on success
    const float* scores = nullptr;
    int64_t count = 0;
};

// Receives the results of one batch, in input order, with the failed files in their places. Return false to
// stop the pipeline (e.g. the output cannot be written).
using BatchSink = std::function<bool(const std::vector<ItemResult>&)>;

struct PipelineStats {
    size_t total = 0;        // inputs given
    size_t processed = 0;    // inputs with a result or an error record (a prefix of the list)
    size_t failed = 0;       // of processed
    double seconds = 0.0;    // from the first decode to the last result
    double setup_seconds = 0.0;  // building the Session
    int signal = 0;          // SIGINT/SIGTERM that stopped the run, 0 if none
    bool sink_stopped = false;
};

// Runs `inputs` through `model`. Results reach `sink` on the calling thread, batch by batch, strictly in input
// order, so output written from the sink is deterministic whatever the worker timing. Memory is bounded by
// 2 * batch + 2 * workers preprocessed images (the ring and the batch tensor), however long the list, plus the
// images being decoded: together at most min(limits.max_pixels, 100 M) pixels, or one larger image alone.
// SIGINT and SIGTERM are caught for the duration: no new file is started, the batch being inferred is
// delivered, and the stats name the signal (a second signal kills the process as usual).
// Throws mnet::Error from Session creation or inference (Backend); per-file decode failures are results.
PipelineStats run_pipeline(const std::shared_ptr<const Model>& model, const std::vector<InputFile>& inputs,
                           const PipelineOptions& options, const BatchSink& sink);

// The cores this process may use: mnet::cpu_budget().cpus, its affinity mask (Slurm cpusets, taskset) capped
// by its cgroup CPU quota (Kubernetes limits), at least 1.
int available_cores();

// The decode workers for `threads` (PipelineOptions::threads) when -j is not given: min(4, available_cores())
// when the inference runs on one thread (threads 1, and the default -1 on up to 3 cores), else
// min(4, available_cores() / 2), at least 1. Decoding a photo costs several times its inference.
int default_decode_workers(int threads);

// The inference threads for `threads` (PipelineOptions::threads) next to `decode_workers` workers: -1 gives
// available_cores() - workers, at least 1. OpenMP threads spin at their barriers, so one preempted by a decode
// worker stalls the others: on 2 cores, 2 inference threads + 1 worker ran at a fraction of 1 + 1.
int inference_threads(int threads, int decode_workers);

bool stderr_is_terminal();

// "mnet: <what>: 100 images, 3 failed, 1.52 s, 65.8 images/s" on stderr, plus a line for an interruption.
void print_summary(const char* what, const PipelineStats& stats);

// 128 + the signal number, as shells report a process killed by it: 130 for SIGINT, 143 for SIGTERM.
int exit_code_for_signal(int signal);

}  // namespace mnet::cli
