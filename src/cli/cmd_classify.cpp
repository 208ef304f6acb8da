// SPDX-License-Identifier: Apache-2.0
// mnet classify: top-k labels for each image, as a table or JSON lines.
#include <cstdio>
#include <exception>
#include <memory>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "common/exit_codes.h"
#include "cli/predictions.h"
#include "core/file_io.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet/image.h"

namespace mnet::cli {

namespace {

struct ClassifyOptions {
    std::string model;
    int top = 5;
    bool json = false;
    int threads = 0;
    std::string precision;  // empty: the model's default
    int64_t max_pixels = 0;  // set by add_max_pixels_option
    std::vector<std::string> images;
};

void print_table(const std::string& file, const std::vector<Prediction>& preds, Precision precision) {
    std::printf("%s\n", io::printable(file).c_str());
    size_t label_width = 5;
    for (const Prediction& p : preds) label_width = std::max(label_width, display_width(p.label));
    std::printf("  %4s  %-6s  %s  (%s)\n", "rank", "index", "probability  label", precision_name(precision));
    for (size_t i = 0; i < preds.size(); ++i) {
        std::printf("  %4zu  %-6lld  %11.6f  %s\n", i + 1, static_cast<long long>(preds[i].index),
                    static_cast<double>(preds[i].probability), preds[i].label.c_str());
    }
}

int run_classify(const ClassifyOptions& opt) {
    auto model = load_model(opt.model);
    SessionOptions so;
    so.threads = opt.threads;
    so.precision = resolve_precision(opt.precision, *model);
    Session session(model, so);
    Tensor input(model->input_shape());
    ImageLimits limits;
    limits.max_pixels = opt.max_pixels;
    int status = kExitOk;
    bool first = true;
    for (const std::string& file : opt.images) {
        std::string error;
        try {
            preprocess_file(file, model->preprocess(), input.data.data(), limits);
        } catch (const Error& e) {
            error = e.what();
        } catch (const std::exception& e) {  // e.g. std::bad_alloc reading a huge file: only this image fails
            error = file + ": " + e.what();
        }
        if (!error.empty()) {
            status = kExitSomeInputsFailed;
            if (opt.json) {
                std::printf("%s\n", error_json(file, error).c_str());
                flush_stdout();
            }
            std::fprintf(stderr, "mnet: error: %s\n", io::printable(error).c_str());
            continue;
        }
        session.run(input);
        const Tensor& out = session.output(0);
        auto preds = top_k(*model, out.data.data(), out.numel(), opt.top);
        if (opt.json) {
            std::printf("%s\n", predictions_json(file, preds, precision_name(so.precision)).c_str());
        } else {
            if (!first) std::printf("\n");
            print_table(file, preds, so.precision);
        }
        first = false;
        flush_stdout();  // a full disk stops the run at the first image it refuses
    }
    return status;
}

}  // namespace

void setup_classify(CLI::App& app, int& status) {
    auto opt = std::make_shared<ClassifyOptions>();
    CLI::App* sub = app.add_subcommand("classify", "Top-k ImageNet (or the model's own) labels for each image\n"
                                                   "  e.g. mnet classify -k 3 cat.jpg dog.png\n"
                                                   "       mnet classify --json -m mobilenet_v1_0.75_192_quant *.jpg");
    add_model_option(sub, opt->model);
    sub->add_option("-k,--top", opt->top, "How many labels per image (default 5)")->check(CLI::Range(1, 100000));
    sub->add_flag("--json", opt->json,
                  "One JSON object per image per line: {\"file\", \"precision\", \"predictions\":[{\"index\",\"label\","
                  "\"probability\"}]} or {\"file\", \"error\"}");
    add_threads_option(sub, opt->threads);
    add_precision_option(sub, opt->precision);
    add_max_pixels_option(sub, opt->max_pixels);
    sub->add_option("images", opt->images, "Image files (JPEG, PNG, BMP, WebP, TIFF, ...)")->required();
    sub->callback([opt, &status] { status = run_classify(*opt); });
}

}  // namespace mnet::cli
