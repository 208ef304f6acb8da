// SPDX-License-Identifier: Apache-2.0
// mnet classify: top-k labels (or the feature vector) for each image, as a table or JSON lines.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <exception>
#include <memory>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/features.h"
#include "cli/output.h"
#include "cli/predictions.h"
#include "common/exit_codes.h"
#include "common/usage.h"
#include "core/file_io.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet/image.h"

namespace mnet::cli {

namespace {

constexpr size_t kMaxStdinImageBytes = size_t{64} << 20;  // larger than any camera JPEG; bounds the read
constexpr const char* kStdinName = "standard input";

struct ClassifyOptions {
    ModelFlags model;
    int top = 5;
    OutputFlags out;
    bool features = false;
    // One by default: a classify is a process start, a model load and a decode per photo around ~2 ms of
    // inference per image. A second OpenMP thread cost more than it saved there (MobileNetV2 int8, one photo,
    // whole process median 66.7 ms on two threads, 51.9 ms on one; with 4 and 16 photos one thread was no
    // slower; docs/performance.md).
    int threads = 1;
    std::string precision;  // empty: the model's default
    int64_t max_pixels = 0;  // set by add_max_pixels_option
    std::vector<std::string> images;
};

void print_table(const std::string& file, const std::vector<Prediction>& preds, Precision precision) {
    std::printf("%s\n", io::printable(file).c_str());
    std::printf("  %4s  %-6s  %s  (%s)\n", "rank", "index", "probability  label", precision_name(precision));
    for (size_t i = 0; i < preds.size(); ++i) {
        std::printf("  %4zu  %-6lld  %11.6f  %s\n", i + 1, static_cast<long long>(preds[i].index),
                    static_cast<double>(preds[i].probability), preds[i].label.c_str());
    }
}

// Standard input's bytes, at most kMaxStdinImageBytes.
std::vector<uint8_t> read_stdin() {
    std::vector<uint8_t> data;
    uint8_t buf[1 << 16];
    for (ssize_t n; (n = read(STDIN_FILENO, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(ErrorCode::Io, std::string(kStdinName) + ": cannot read (" + std::strerror(errno) + ")");
        if (data.size() + static_cast<size_t>(n) > kMaxStdinImageBytes) {
            throw Error(ErrorCode::Io, std::string(kStdinName) + ": more than " +
                                           std::to_string(kMaxStdinImageBytes >> 20) + " MiB, too large for an image");
        }
        data.insert(data.end(), buf, buf + n);
    }
    return data;
}

void preprocess_input(const std::string& file, const Model& model, float* dst, const ImageLimits& limits) {
    if (file != "-") return preprocess_file(file, model.preprocess(), dst, limits);
    const std::vector<uint8_t> data = read_stdin();
    preprocess_bytes(data.data(), data.size(), model.preprocess(), dst, kStdinName, limits);
}

int run_classify(const ClassifyOptions& opt) {
    const std::string format = opt.features ? "jsonl" : opt.out.resolve();
    if (std::count(opt.images.begin(), opt.images.end(), "-") > 1) {
        throw Error(ErrorCode::InvalidArgument, "'-' (an image from standard input) can be given once");
    }
    auto model = load_model(opt.model);
    const FeatureSource source = opt.features ? feature_source(model) : FeatureSource{model, 0, ""};
    std::vector<std::string> inputs = opt.images;  // the model's files are noted as it loads
    ResultOutput result(opt.out.path, inputs);
    SessionOptions so;
    so.threads = opt.threads;
    // With -t 0, timing two plans at creation (V3-small int8: a second plan and 12 runs, more than the session itself)
    // costs more than the faster plan saves over the few runs of a classify, whose images take longer to decode:
    // a small model runs on one thread instead, the cheaper session to create (engine.h).
    so.measure_threads = false;
    so.precision = resolve_precision(opt.precision, *model);
    Session session(source.model, so);
    Tensor input(model->input_shape());
    ImageLimits limits;
    limits.max_pixels = opt.max_pixels;
    int status = kExitOk;
    bool first = true;
    for (const std::string& arg : opt.images) {
        const std::string file = arg == "-" ? kStdinName : arg;
        std::string error;
        try {
            preprocess_input(arg, *model, input.data.data(), limits);
        } catch (const Error& e) {
            error = e.what();
        } catch (const std::exception& e) {  // e.g. std::bad_alloc reading a huge file: only this image fails
            error = file + ": " + e.what();
        }
        if (!error.empty()) {
            status = kExitSomeInputsFailed;
            if (format == "jsonl") {
                std::printf("%s\n", error_json(file, model->name(), error).c_str());
                flush_stdout();
            }
            std::fprintf(stderr, "mnet: error: %s\n", io::printable(error).c_str());
            continue;
        }
        session.run(input);
        const Tensor& out = session.output(source.output);
        if (opt.features) {
            std::printf("%s\n", features_json(file, model->name(), source.name, out.data.data(), out.numel()).c_str());
        } else if (format == "jsonl") {
            const auto preds = top_k(*model, out.data.data(), out.numel(), opt.top);
            std::printf("%s\n", predictions_json(file, model->name(), preds, precision_name(so.precision)).c_str());
        } else {
            if (!first) std::printf("\n");
            print_table(file, top_k(*model, out.data.data(), out.numel(), opt.top), so.precision);
        }
        first = false;
        flush_stdout();  // a full disk stops the run at the first image it refuses
    }
    result.commit();
    return status;
}

}  // namespace

void setup_classify(CLI::App& app, int& status) {
    auto opt = std::make_shared<ClassifyOptions>();
    CLI::App* sub = app.add_subcommand("classify", "Top-k ImageNet (or the model's own) labels for each image\n"
                                                   "  e.g. mnet classify -k 3 samples/dog.jpg\n"
                                                   "       mnet classify --json -o dog.jsonl samples/dog.jpg\n"
                                                   "       mnet classify - < samples/dog.jpg");
    add_model_option(sub, opt->model);
    sub->add_option("-k,--top", opt->top, "How many labels per image (default 5)")->check(whole_number(1, 100000));
    add_output_flags(sub, opt->out, {"table", "jsonl"}, "jsonl",
                     "table: rank, index, probability and label per image; jsonl: one JSON object per image per "
                     "line, {\"file\", \"model\", \"predictions\": [{\"index\", \"label\", \"probability\"}], "
                     "\"precision\"} or {\"file\", \"model\", \"error\"}.");
    sub->add_flag("--features", opt->features,
                  "Write the model's feature vector instead of labels, one JSON line per image: {\"file\", \"model\", "
                  "\"output\", \"features\": [...]}: its feature output (an embedding model), else the input of its "
                  "classifier layer (e.g. MobileNetV2's 1280 pooled values)");
    add_threads_option(sub, opt->threads)
        ->description("Compute threads (default 1: a few photos are decoded one after another, and a second thread "
                      "costs more to start than it saves; mnet batch uses every core); 0 = all cores, e.g. -t 2");
    add_precision_option(sub, opt->precision);
    add_max_pixels_option(sub, opt->max_pixels);
    sub->add_option("images", opt->images, "Image files (JPEG, PNG, BMP, WebP, TIFF, ...); - reads one from standard input")
        ->required();
    sub->callback([opt, &status] { status = run_classify(*opt); });
}

}  // namespace mnet::cli
