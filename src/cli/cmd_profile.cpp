// SPDX-License-Identifier: Apache-2.0
// mnet profile: where every millisecond of a run goes, step by step (nodes, fused groups, layout reorders).
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "common/exit_codes.h"
#include "cli/measure.h"
#include "cli/output.h"
#include "cli/profile_report.h"
#include "common/usage.h"
#include "core/file_io.h"
#include "mnet/engine.h"
#include "mnet/error.h"

namespace mnet::cli {

namespace {

constexpr int kDefaultRuns = 50;
constexpr int kDefaultWarmup = 5;
constexpr int kMaxBatch = 4096;

struct ProfileOptions {
    ModelFlags model;
    int runs = kDefaultRuns;
    int warmup = kDefaultWarmup;
    int batch = 1;
    int threads = 0;
    OutputFlags out;
    std::string svg;
    std::string image;
    uint32_t seed = 1;
    bool fuse_dw = LoweringOptions{}.fuse_dw;
    std::string precision;  // empty: the model's default
};

// A step's kind for the chart's colours: convolutions told apart by shape, since that is where MobileNet's time
// goes and the two kinds behave differently (pointwise is compute-bound, depthwise memory-bound).
std::string step_kind(const LayerTiming& t, const std::map<std::string, const LayerInfo*>& layers) {
    if (t.op == "reorder") return t.name.rfind("output:", 0) == 0 ? "output copy" : "reorder";
    const std::string first_op = t.op.substr(0, t.op.find('+'));
    if (first_op != "conv2d") return first_op;
    const auto it = layers.find(t.name.substr(0, t.name.find('+')));
    if (it == layers.end()) return "conv";
    const LayerInfo& l = *it->second;
    const std::string window = std::to_string(l.kernel_h) + "x" + std::to_string(l.kernel_w);
    if (l.groups > 1 && l.groups == l.in_channels) return "depthwise conv " + window;
    if (t.op.rfind("conv2d+dw", 0) == 0) return "conv " + window + " + depthwise";  // pw + dw (+ activation)
    return (l.groups > 1 ? "grouped conv " : "conv ") + window;
}

// The shape a "reorder:<value>" step writes, when the engine does not say: the value's own, at the batch.
Shape reorder_shape(const std::string& step, const std::map<std::string, Shape>& value_shapes, int batch) {
    const std::string prefix = "reorder:";
    if (step.rfind(prefix, 0) != 0) return {};
    const auto it = value_shapes.find(step.substr(prefix.size()));
    if (it == value_shapes.end() || it->second.empty()) return {};
    Shape s = it->second;
    s[0] = batch;
    return s;
}

// The timings of one run, checked against the first run's steps: a plan never changes between runs.
void check_same_steps(const std::vector<LayerTiming>& timings, const std::vector<StepProfile>& steps) {
    bool same = timings.size() == steps.size();
    for (size_t i = 0; same && i < steps.size(); ++i) same = timings[i].name == steps[i].step.name;
    if (!same) throw Error(ErrorCode::Internal, "profile: the executed steps changed between runs");
}

// The run's input; a bad IMAGE is a failed input image (status 1), as in classify.
Tensor profile_input(const Model& model, const ProfileOptions& opt) {
    try {
        return make_input(model, opt.batch, opt.image, opt.seed);
    } catch (const Error& e) {
        if (e.code() != ErrorCode::Io) throw;
        throw InputImageError(e.what());
    }
}

// Profiling off: no clock reads and no stream waits between steps, the time a user's run takes.
Summary time_unprofiled(const std::shared_ptr<const Model>& model, const SessionOptions& so, const Tensor& input,
                        const ProfileOptions& opt) {
    const std::unique_ptr<Session> made = make_session(model, so, opt.fuse_dw);
    Session& session = *made;
    session.run(input);  // the first run, like the profiled session's, is not part of the summary
    return time_runs(session, input, opt.warmup, opt.runs);
}

ProfileResult measure(const ProfileOptions& opt) {
    ProfileResult r;
    const auto load_start = Clock::now();
    const std::shared_ptr<const Model> model = load_model(opt.model);
    r.load_ms = ms_since(load_start);
    r.model = model->name();
    r.input = opt.image.empty() ? "random (seed " + std::to_string(opt.seed) + ")" : opt.image;
    r.batch = opt.batch;
    r.runs = opt.runs;
    r.warmup = opt.warmup;
    r.fuse_dw = opt.fuse_dw;
    r.macs = model->total_macs() * opt.batch;
    const Tensor input = profile_input(*model, opt);
    std::map<std::string, const LayerInfo*> layers;
    std::map<std::string, Shape> value_shapes;  // with batch 1
    for (const LayerInfo& l : model->layers()) {
        layers[l.name] = &l;
        value_shapes[l.output] = l.dst_shape;
    }
    for (const LayerInfo& l : model->layers()) {
        for (const std::string& in : l.inputs) {
            if (!value_shapes.count(in)) value_shapes[in] = model->input_shape();  // read, never written: the input
        }
    }

    SessionOptions so;
    so.batch = opt.batch;
    so.threads = opt.threads;  // 0: the session chooses (SessionOptions::threads)
    so.precision = resolve_precision(opt.precision, *model);
    r.precision = precision_name(so.precision);
    {
        so.profile = true;
        const auto session_start = Clock::now();
        const std::unique_ptr<Session> made = make_session(model, so, opt.fuse_dw);
        Session& session = *made;
        r.session_ms = ms_since(session_start);
        r.threads = session.options().threads;
        r.thread_choice = thread_choice(session);
        r.threads_reason = thread_choice_text(r.thread_choice);

        const auto first_start = Clock::now();
        session.run(input);
        r.first_run_ms = ms_since(first_start);
        for (const LayerTiming& t : session.timings()) {
            StepProfile s;
            s.step = t;
            if (s.step.dst_shape.empty()) s.step.dst_shape = reorder_shape(t.name, value_shapes, opt.batch);
            s.kind = step_kind(t, layers);
            s.first_ms = t.ms;
            s.ms.reserve(static_cast<size_t>(opt.runs));
            r.first_run_layer_sum_ms += t.ms;
            r.steps.push_back(std::move(s));
        }
        for (int i = 0; i < opt.warmup; ++i) session.run(input);

        std::vector<double> wall;
        const auto origin = Clock::now();
        for (int run = 0; run < opt.runs; ++run) {
            const auto start = Clock::now();
            session.run(input);
            wall.push_back(ms_since(start));
            r.run_start_ms.push_back(std::chrono::duration<double, std::milli>(start - origin).count());
            check_same_steps(session.timings(), r.steps);
            for (size_t i = 0; i < r.steps.size(); ++i) r.steps[i].ms.push_back(session.timings()[i].ms);
        }
        r.profiled_run = summarize(wall);
    }
    so.profile = false;
    so.threads = r.threads;  // the plan the profiled session chose, not a second choice
    r.end_to_end = time_unprofiled(model, so, input, opt);

    for (StepProfile& s : r.steps) {
        s.stats = summarize(s.ms);
        r.layer_sum_ms += s.stats.median;
    }
    for (StepProfile& s : r.steps) {
        s.share = r.layer_sum_ms > 0 ? s.stats.median / r.layer_sum_ms : 0;
        s.gflops = s.stats.median > 0 ? 2.0 * static_cast<double>(s.step.macs) / s.stats.median * 1e-6 : 0;
    }
    r.peak_rss = peak_rss_bytes();
    return r;
}

int run_profile(const ProfileOptions& opt) {
    const std::string format = opt.out.resolve();
    const std::string& output = opt.out.path;
    if (!opt.svg.empty() && is_stdout(opt.svg) && is_stdout(output)) {
        throw Error(ErrorCode::InvalidArgument, "--svg -: standard output already receives the profile; give -o FILE");
    }
    // The image and the model are read after this check: name them (the model as -m gave it, when a path).
    std::vector<std::string> inputs{opt.image, opt.model.name};
    ResultOutput out(output, inputs);
    if (!opt.svg.empty()) check_writable(opt.svg, "--svg", inputs);
    const ProfileResult r = measure(opt);
    std::string text;
    if (format == "csv") {
        text = profile_csv(r);
    } else if (format == "json") {
        text = profile_json(r);
    } else if (format == "trace") {
        text = profile_trace(r);
    } else {
        text = profile_table(r);
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    out.commit();
    if (!opt.svg.empty()) write_text(opt.svg, "--svg", profile_svg(r));  // --svg - goes to stdout, -o committed
    return kExitOk;
}

}  // namespace

void setup_profile(CLI::App& app, int& status) {
    auto opt = std::make_shared<ProfileOptions>();
    CLI::App* sub = app.add_subcommand(
        "profile",
        "Per-step timings: every executed layer, fused group and layout reorder, with its oneDNN kernel\n"
        "  e.g. mnet profile                                  table for the default model, random input\n"
        "       mnet profile -b 16 -t 2 --svg steps.svg       and a bar chart of the medians\n"
        "       mnet profile --format trace -o run.json       open in ui.perfetto.dev or chrome://tracing");
    add_model_option(sub, opt->model);
    sub->add_option("-n,--runs", opt->runs, "Timed runs (default 50), e.g. -n 200")->check(whole_number(1, 1000000));
    sub->add_option("--warmup", opt->warmup, "Untimed runs before them, after the first run (default 5)")
        ->check(whole_number(0, 1000000));
    sub->add_option("-b,--batch", opt->batch, "Images per run (default 1), e.g. -b 16")
        ->check(whole_number(1, kMaxBatch));
    add_threads_option(sub, opt->threads);
    add_output_flags(sub, opt->out, {"table", "csv", "json", "trace"}, "json",
                     "table; csv (one row per step); json (one document: steps and totals); trace (Chrome/Perfetto "
                     "trace events, one per step per run) (docs/profile.md).");
    sub->add_option("--svg", opt->svg, "Also draw the median time per step as an SVG bar chart, e.g. --svg steps.svg");
    sub->add_option("--seed", opt->seed, "Seed of the random input (default 1)");
    add_fuse_dw_flag(sub, opt->fuse_dw);
    add_precision_option(sub, opt->precision);
    sub->add_option("image", opt->image, "Run on this image (repeated to fill the batch) instead of random input");
    sub->callback([opt, &status] { status = run_profile(*opt); });
}

}  // namespace mnet::cli
