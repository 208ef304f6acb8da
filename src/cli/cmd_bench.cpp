// SPDX-License-Identifier: Apache-2.0
// mnet bench: end-to-end latency and throughput for each batch size and thread count, against the machine's
// measured fp32 (or int8) peak, with what it takes to reproduce the numbers.
#include <cstdio>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "common/exit_codes.h"
#include "cli/measure.h"
#include "cli/output.h"
#include "cli/stats.h"
#include "common/usage.h"
#include "mnet/engine.h"
#include "mnet/error.h"

namespace mnet::cli {

namespace {

using json = nlohmann::ordered_json;  // keys in the order written: the documented order

constexpr int kDefaultRuns = 50;
constexpr int kDefaultWarmup = 5;
constexpr int kMaxBatch = 4096;
constexpr double kPeakSeconds = 0.5;  // long enough for a stable median of the peak kernel, short beside a bench

struct BenchOptions {
    ModelFlags model;
    std::vector<int> batches{1};
    std::vector<int> threads{0};
    int runs = kDefaultRuns;
    int warmup = kDefaultWarmup;
    std::string precision;  // empty: the model's default; run_bench resolves it to "int8", "fp32" or "bf16"
    OutputFlags out;
    bool json = false;  // out.resolve() == "jsonl"
    uint32_t seed = 1;
    bool fuse_dw = LoweringOptions{}.fuse_dw;
    std::string mode = "auto";  // a key of kModes (checked by the option)
};

const std::map<std::string, BatchMode> kModes = {
    {"auto", BatchMode::Auto}, {"latency", BatchMode::Latency}, {"throughput", BatchMode::Throughput}};

const char* mode_name(BatchMode m) {
    return m == BatchMode::Latency ? "latency" : m == BatchMode::Throughput ? "throughput" : "auto";
}

struct BenchResult {
    int batch = 1;
    int threads = 1;       // asked, 0 resolved to the budget
    int threads_used = 1;  // as the session resolved it: with -t 0 a small latency run may use one (engine.h)
    ThreadChoice thread_choice;
    BatchMode mode = BatchMode::Auto;  // as the session resolved it
    Summary latency;       // ms per run of `batch` images
    double session_ms = 0; // creating the Session: primitives built, weights reordered
    double first_run_ms = 0;
    int64_t macs = 0;      // per run
    double gflops = 0;     // at the median latency
    double peak_gflops = 0;  // of the precision that ran (GOP/s for int8)
    double peak_fp32_gflops = 0, peak_int8_gops = 0;
    int64_t peak_rss = 0;
    bool rss_per_config = false;  // peak RSS of this configuration alone, not of the whole process so far

    double images_per_s() const { return latency.median > 0 ? 1000.0 * batch / latency.median : 0; }
    double percent_of_peak() const { return peak_gflops > 0 ? 100.0 * gflops / peak_gflops : 0; }
    // The time the MACs would take at the measured peak: the floor no schedule of this model can beat here.
    double floor_ms() const { return peak_gflops > 0 ? 2.0 * static_cast<double>(macs) / peak_gflops * 1e-6 : 0; }
};

// `threads` as -t gave it: 0 lets the session choose (SessionOptions::threads).
BenchResult bench_one(const std::shared_ptr<const Model>& model, int batch, int threads, const BenchOptions& opt,
                      std::pair<double, double> peaks, double bf16_peak) {
    BenchResult r;
    r.batch = batch;
    r.threads = resolve_threads(threads);
    const bool int8 = opt.precision == "int8", bf16 = opt.precision == "bf16";
    r.peak_fp32_gflops = peaks.first;
    r.peak_int8_gops = peaks.second;
    r.peak_gflops = int8 ? peaks.second : bf16 ? bf16_peak : peaks.first;
    r.macs = model->total_macs() * batch;
    const Tensor input = make_input(*model, batch, "", opt.seed);
    // The peak measurement and earlier configurations must not count toward this one's memory.
    r.rss_per_config = reset_peak_rss();

    SessionOptions so;
    so.batch = batch;
    so.threads = threads;
    so.mode = kModes.at(opt.mode);
    so.precision = int8 ? Precision::Int8 : bf16 ? Precision::Bf16 : Precision::Fp32;
    const auto session_start = Clock::now();
    const std::unique_ptr<Session> made = make_session(model, so, opt.fuse_dw);
    Session& session = *made;
    r.session_ms = ms_since(session_start);
    r.mode = session.options().mode;
    r.threads_used = session.options().threads;
    r.thread_choice = thread_choice(session);
    const auto first_start = Clock::now();
    session.run(input);
    r.first_run_ms = ms_since(first_start);
    r.latency = time_runs(session, input, opt.warmup, opt.runs);
    r.gflops = r.latency.median > 0 ? 2.0 * static_cast<double>(r.macs) / r.latency.median * 1e-6 : 0;
    r.peak_rss = peak_rss_bytes();
    return r;
}

json header_json(const Model& model, const BenchOptions& opt, const std::vector<int>& threads, double load_ms) {
    return {{"type", "header"},
            {"mnet_version", mnet_version()},
            {"onednn_version", onednn_version()},
            {"cpu_isa", cpu_isa()},
            {"cpu_model", cpu_model_name()},
            {"cpus", resolve_threads(0)},
            {"cpus_reason", threads_reason(0)},
            {"threads", threads},
            {"batches", opt.batches},
            {"model", model.name()},
            {"model_path", model.path()},
            {"model_macs", model.total_macs()},
            {"precision", opt.precision},
            {"fuse_dw", opt.fuse_dw},
            {"runs", opt.runs},
            {"warmup", opt.warmup},
            {"load_ms", load_ms}};
}

json result_json(const Model& model, const BenchOptions& opt, const BenchResult& r, double load_ms) {
    return {{"type", "result"},
            {"model", model.name()},
            {"precision", opt.precision},
            {"batch", r.batch},
            {"threads", r.threads},
            {"threads_used", r.threads_used},
            {"thread_choice", thread_choice_json(r.thread_choice)},
            {"mode", mode_name(r.mode)},
            {"runs", opt.runs},
            {"warmup", opt.warmup},
            {"latency_ms",
             {{"median", r.latency.median},
              {"p90", r.latency.p90},
              {"p99", r.latency.p99},
              {"min", r.latency.min},
              {"max", r.latency.max},
              {"mean", r.latency.mean}}},
            {"throughput_ips", r.images_per_s()},
            {"macs", r.macs},
            {"gflops", r.gflops},
            {"peak_gflops", r.peak_gflops},
            {"peak_fp32_gflops", r.peak_fp32_gflops},
            {"peak_int8_gops", r.peak_int8_gops},
            {"percent_of_peak", r.percent_of_peak()},
            {"floor_ms", r.floor_ms()},
            {"load_ms", load_ms},
            {"session_ms", r.session_ms},
            {"first_run_ms", r.first_run_ms},
            {"first_inference_ms", r.session_ms + r.first_run_ms},
            {"peak_rss_bytes", r.peak_rss},
            {"peak_rss_scope", r.rss_per_config ? "configuration" : "process"}};
}

void print_table_header(const Model& model, const BenchOptions& opt, double load_ms) {
    std::printf("%s: %s MACs per image, %s, %d runs after %d warm-up (times in ms)\n", model.name().c_str(),
                human_count(static_cast<double>(model.total_macs())).c_str(), opt.precision.c_str(), opt.runs,
                opt.warmup);
    std::printf("mnet %s, oneDNN %s (%s), %s, %d CPUs (%s)\n", mnet_version().c_str(), onednn_version().c_str(),
                cpu_isa().c_str(), cpu_model_name().c_str(), resolve_threads(0), threads_reason(0).c_str());
    std::printf("model load %.1f ms\n\n", load_ms);
    std::printf("%5s %7s %-10s  %8s %8s %8s %8s %8s  %9s  %7s %7s %6s %7s  %12s  %9s\n", "batch", "threads", "mode", "median",
                "p90", "p99", "min", "max", "images/s", "GFLOP/s", "peak", "%peak", "floor", "first infer.",
                "peak RSS");
}

void print_table_row(const BenchResult& r) {
    char first[32];
    std::snprintf(first, sizeof first, "%.1f+%.1f", r.session_ms, r.first_run_ms);
    std::printf("%5d %7d %-10s  %8.3f %8.3f %8.3f %8.3f %8.3f  %9.1f  %7.1f %7.1f %5.1f%% %7.3f  %12s  %9s\n",
                r.batch, r.threads_used, mode_name(r.mode), r.latency.median, r.latency.p90, r.latency.p99, r.latency.min, r.latency.max,
                r.images_per_s(), r.gflops, r.peak_gflops, r.percent_of_peak(), r.floor_ms(), first,
                human_bytes(r.peak_rss).c_str());
    flush_stdout();
}

int run_bench(const BenchOptions& flags) {
    const auto load_start = Clock::now();
    const std::shared_ptr<const Model> model = load_model(flags.model);
    const double load_ms = ms_since(load_start);
    BenchOptions opt = flags;
    opt.precision = precision_name(resolve_precision(flags.precision, *model));
    opt.json = opt.out.resolve() == "jsonl";
    ResultOutput result(opt.out.path);  // the model's files are noted as it loads
    std::vector<int> threads;  // for the header: 0 as the budget
    for (int t : opt.threads) threads.push_back(resolve_threads(t));

    if (opt.json) {
        std::printf("%s\n", header_json(*model, opt, threads, load_ms).dump().c_str());
        flush_stdout();
    } else {
        print_table_header(*model, opt, load_ms);
    }
    // By thread count, fp32 GFLOP/s and int8 GOP/s: measured once, right before its first configuration.
    std::map<int, std::pair<double, double>> peak;
    std::map<int, double> bf16_peak;  // measured only for a bf16 run
    std::vector<BenchResult> chosen;  // configurations whose session chose its threads, for the table's notes
    for (int batch : opt.batches) {
        for (int asked : opt.threads) {
            const int t = resolve_threads(asked);
            if (!peak.count(t)) peak[t] = {measure_fp32_peak_gflops(t, kPeakSeconds), measure_int8_peak_gops(t, kPeakSeconds)};
            if (opt.precision == "bf16" && !bf16_peak.count(t)) bf16_peak[t] = measure_bf16_peak_gflops(t, kPeakSeconds);
            const BenchResult r = bench_one(model, batch, asked, opt, peak[t], bf16_peak[t]);
            if (opt.json) {
                std::printf("%s\n", result_json(*model, opt, r, load_ms).dump().c_str());
                flush_stdout();
            } else {
                print_table_row(r);
                const ThreadChoice::Basis basis = r.thread_choice.basis;
                if (basis == ThreadChoice::Basis::Measured || basis == ThreadChoice::Basis::SmallWork) chosen.push_back(r);
            }
        }
    }
    if (!opt.json) {
        std::printf("\n");
        for (const BenchResult& r : chosen) {
            std::printf("batch %d, -t 0: %d thread%s (%s)\n", r.batch, r.threads_used, r.threads_used == 1 ? "" : "s",
                        thread_choice_text(r.thread_choice).c_str());
        }
        for (const auto& [t, p] : peak) {
            std::printf("machine peak, %d thread%s: fp32 %.1f GFLOP/s, int8 %.1f GOP/s (int8/fp32 %.2fx)", t,
                        t == 1 ? "" : "s", p.first, p.second, p.first > 0 ? p.second / p.first : 0.0);
            if (bf16_peak.count(t)) std::printf(", bf16 %.1f GFLOP/s", bf16_peak[t]);
            std::printf("\n");
        }
        std::printf("\nlatency per run of `batch` images; images/s and GFLOP/s at the median; peak = a large "
                    "oneDNN 1x1 convolution with the same threads\n(in int8: u8 x s8, GOP/s; in bf16: bf16 x bf16); "
                    "floor = the model's MACs at that peak; first "
                    "infer. = session creation + first run (ms);\nmode: latency = one pass over the batch on all "
                    "threads, throughput = one single-threaded stream per thread, a few images at a time\n");
    }
    result.commit();
    return kExitOk;
}

}  // namespace

void setup_bench(CLI::App& app, int& status) {
    auto opt = std::make_shared<BenchOptions>();
    CLI::App* sub = app.add_subcommand(
        "bench",
        "End-to-end latency and throughput for each batch size x thread count, against the machine's measured peak\n"
        "  e.g. mnet bench                              batch 1, all cores\n"
        "       mnet bench -b 1 16 -t 1 2 -n 100        four configurations\n"
        "       mnet bench --json -n 10 -o bench.jsonl");
    add_model_option(sub, opt->model);
    sub->add_option("-b,--batch", opt->batches, "Batch sizes (default 1), e.g. -b 1 16")
        ->check(whole_number(1, kMaxBatch))
        ->expected(1, -1);
    sub->add_option("-t,--threads", opt->threads, "Thread counts (default 0), e.g. -t 1 2; 0 = all cores, or one for a small model that measured faster on one")
        ->check(whole_number(0, 1024))
        ->expected(1, -1);
    sub->add_option("-n,--runs", opt->runs, "Timed runs per configuration (default 50)")->check(whole_number(1, 1000000));
    sub->add_option("--warmup", opt->warmup, "Untimed runs before them, after the first (default 5)")
        ->check(whole_number(0, 1000000));
    add_precision_option(sub, opt->precision);
    add_output_flags(sub, opt->out, {"table", "jsonl"}, "jsonl",
                     "table: a header and one row per configuration; jsonl: JSON lines, a header (versions, CPU, "
                     "ISA, threads, model), then one object per configuration (docs/profile.md).");
    sub->add_option("--seed", opt->seed, "Seed of the random input (default 1)");
    add_fuse_dw_flag(sub, opt->fuse_dw);
    sub->add_option("--mode", opt->mode,
                    "How a batch runs: latency (one pass, every layer on all threads), throughput (one single-threaded "
                    "stream per thread, a few images at a time), auto (default: throughput when the batch has at least "
                    "one image per thread)")
        ->option_text("auto|latency|throughput")
        // Kept a string and mapped in bench_one: CLI11 runs a transform before every check, so a Transformer to
        // BatchMode made one_of see "1" for "latency" and refuse every value.
        ->check(one_of({"auto", "latency", "throughput"}));
    sub->callback([opt, &status] { status = run_bench(*opt); });
}

}  // namespace mnet::cli
