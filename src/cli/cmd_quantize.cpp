// SPDX-License-Identifier: Apache-2.0
// mnet quantize: a float model plus calibration images in, the same model with int8 quantization parameters out.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "common/exit_codes.h"
#include "cli/file_list.h"
#include "cli/quantize_report.h"
#include "common/usage.h"
#include "core/file_io.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet/quantize.h"
#include "mnet/image.h"

namespace mnet::cli {

namespace {

constexpr int kDefaultCalibrationBatch = 8;
constexpr int kMaxBatch = 4096;
// Fewer calibration images than this get a warning: min/max ranges from a handful of photos rarely cover what
// the model will see (docs/int8.md).
constexpr int64_t kMinCalibrationImages = 100;
// The fp32-vs-int8 report compares at most this many calibration images (two sessions run each).
constexpr size_t kDefaultReportImages = 32;

struct QuantizeOptions {
    ModelFlags model;
    std::vector<std::string> calibrate;
    std::string output;
    std::string name;
    int batch = kDefaultCalibrationBatch;
    int threads = 0;
    bool recursive = false;
    bool show_ranges = false;
    int report_images = static_cast<int>(kDefaultReportImages);  // 0: no report
    int64_t max_pixels = 0;  // set by add_max_pixels_option
    std::string calibration = "minmax";  // a calibration_method_name
    double percentile = CalibrationOptions().percentile;
    bool percentile_given = false;
};

constexpr CalibrationMethod kMethods[] = {CalibrationMethod::MinMax, CalibrationMethod::Percentile,
                                          CalibrationMethod::Entropy};

std::vector<std::string> method_names() {
    std::vector<std::string> names;
    for (CalibrationMethod m : kMethods) names.emplace_back(calibration_method_name(m));
    return names;
}

// The library's options from the flags (the method name was checked at parse time).
CalibrationOptions calibration_options(const QuantizeOptions& opt) {
    CalibrationOptions c;
    for (CalibrationMethod m : kMethods) {
        if (opt.calibration == calibration_method_name(m)) c.method = m;
    }
    if (opt.percentile_given && c.method != CalibrationMethod::Percentile) {
        throw Error(ErrorCode::InvalidArgument, "--percentile applies to --calibration percentile only, not to " +
                                                    opt.calibration);
    }
    c.percentile = opt.percentile;
    return c;
}

// The range columns of --ranges: a number, or "float" for an output that stays float.
std::string range_cell(const ActivationRange& r, float value) {
    if (!r.quantized) return "float";
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", static_cast<double>(value));
    return text;
}

int run_quantize(const QuantizeOptions& opt) {
    if (std::filesystem::path(opt.output).extension() != ".json") {
        throw Error(ErrorCode::InvalidArgument, "-o " + opt.output + ": the new manifest's name must end in .json");
    }
    const CalibrationOptions calibration = calibration_options(opt);
    const auto model = load_model(opt.model);
    const FileList list = list_files(opt.calibrate, ListOptions{opt.recursive, false});
    if (list.files.empty()) {
        const std::string where = opt.calibrate.size() == 1 ? " " + opt.calibrate[0] : "";
        throw Error(ErrorCode::InvalidArgument, "--calibrate" + where + ": no image files found" +
                                                    std::string(list.skipped_subfolders ? " (add -r for subfolders)" : ""));
    }
    // Neither the manifest nor its weights file may replace a calibration image (the model is refused by the
    // writer, which knows every file read).
    std::vector<std::string> images;
    for (const InputFile& f : list.files) images.push_back(f.path);
    io::refuse_overwriting_input(opt.output, "-o", images);
    io::refuse_overwriting_input(std::filesystem::path(opt.output).replace_extension(".bin").string(),
                                 "the weights file of -o " + opt.output, images);
    Calibrator calibrator(model, opt.batch, opt.threads);
    Shape shape = model->input_shape();
    shape[0] = opt.batch;
    Tensor batch(shape);
    const size_t per_image = batch.data.size() / static_cast<size_t>(opt.batch);
    ImageLimits limits;
    limits.max_pixels = opt.max_pixels;
    int filled = 0;
    size_t failed = 0;
    std::vector<std::vector<float>> kept;  // the first report_images preprocessed images, for the report
    std::string first_error;
    int status = kExitOk;
    for (const InputFile& f : list.files) {
        try {
            if (!f.error.empty()) throw Error(ErrorCode::Io, f.error);
            preprocess_file(f.path, model->preprocess(), batch.data.data() + per_image * static_cast<size_t>(filled),
                            limits);
        } catch (const Error& e) {
            // A calibration set with a broken file still calibrates; the file is named and the status says so
            // (a single file: in the one error line below).
            if (list.files.size() > 1) std::fprintf(stderr, "mnet: error: %s\n", io::printable(e.what()).c_str());
            if (first_error.empty()) first_error = e.what();
            ++failed;
            status = kExitSomeInputsFailed;
            continue;
        }
        if (kept.size() < static_cast<size_t>(opt.report_images)) {
            const float* image = batch.data.data() + per_image * static_cast<size_t>(filled);
            kept.emplace_back(image, image + per_image);
        }
        if (++filled == opt.batch) {
            calibrator.observe(batch, filled);
            filled = 0;
        }
    }
    if (filled > 0) {
        // The rest of the batch still holds earlier images; observe() looks at the first `filled` only.
        calibrator.observe(batch, filled);
    }
    if (calibrator.images() == 0) {
        throw InputImageError("--calibrate: no image could be decoded" +
                              (list.files.size() == 1 ? " (" + first_error + ")" : std::string()));
    }

    if (calibrator.images() < kMinCalibrationImages) {
        std::fprintf(stderr, "mnet: quantize: warning: %lld calibration image%s; ranges from fewer than %lld typical "
                             "inputs rarely cover what the model will see\n",
                     static_cast<long long>(calibrator.images()), calibrator.images() == 1 ? "" : "s",
                     static_cast<long long>(kMinCalibrationImages));
    }
    const std::string name = opt.name.empty() ? model->name() + "_int8" : opt.name;
    calibrator.write(opt.output, name, calibration);
    if (!kept.empty()) print_quantize_report(compare_quantized(model, Model::load(opt.output), kept, opt.threads));
    if (opt.show_ranges) {
        // The observed range, then the one the parameters cover (the same under minmax, or the input's for a pool).
        std::printf("%-12s %-12s %-12s %-12s  activation\n", "min", "max", "range.lo", "range.hi");
        for (const ActivationRange& r : calibrator.ranges(calibration)) {
            std::printf("%-12.6g %-12.6g %-12s %-12s  %s\n", static_cast<double>(r.min), static_cast<double>(r.max),
                        range_cell(r, r.lo).c_str(), range_cell(r, r.hi).c_str(), r.name.c_str());
        }
    }
    std::string method = opt.calibration;
    if (calibration.method == CalibrationMethod::Percentile) {
        char p[32];
        std::snprintf(p, sizeof p, " --percentile %g", calibration.percentile);
        method += p;
    }
    std::fprintf(stderr, "mnet: quantize: %lld calibration image%s (%zu failed); wrote %s (model '%s', u8 activations "
                         "from --calibration %s)\n",
                 static_cast<long long>(calibrator.images()), calibrator.images() == 1 ? "" : "s", failed,
                 io::printable(opt.output).c_str(), io::printable(name).c_str(), method.c_str());
    return status;
}

}  // namespace

void setup_quantize(CLI::App& app, int& status) {
    auto opt = std::make_shared<QuantizeOptions>();
    CLI::App* sub = app.add_subcommand(
        "quantize",
        "Post-training quantization: run a float model over calibration images, record each activation's\n"
        "values, choose a range for each (--calibration), and write the model again with u8 quantization\n"
        "parameters for --precision int8\n"
        "  e.g. mnet quantize -m model.json --calibrate photos/ -o model_int8.json --calibration entropy");
    add_model_option(sub, opt->model);
    sub->add_option("--calibrate", opt->calibrate,
                    "Calibration images: files or folders (a few hundred typical inputs; fewer than " +
                        std::to_string(kMinCalibrationImages) + " get a warning), e.g. --calibrate photos/")
        ->required()
        ->expected(1, -1);
    sub->add_option("-o,--output", opt->output,
                    "The quantized model's manifest (.json); its weights file is written beside it, e.g. -o q.json")
        ->required();
    sub->add_option("--name", opt->name, "The new model's name (default: the model's, plus _int8)");
    sub->add_option("-b,--batch", opt->batch, "Images per calibration run (default 8)")->check(whole_number(1, kMaxBatch));
    add_threads_option(sub, opt->threads);
    sub->add_flag("-r,--recursive", opt->recursive, "Also use the images in subfolders of --calibrate folders");
    sub->add_option("--calibration", opt->calibration,
                    "How each activation's range is chosen: minmax (every calibration value representable; the "
                    "default), percentile (the range holding --percentile % of the values), entropy (the clipping "
                    "whose quantized histogram is closest to the observed one, KL divergence as in TensorRT); "
                    "docs/int8.md compares them")
        ->option_text("minmax|percentile|entropy")
        ->check(one_of(method_names()));
    CLI::Option* percentile =
        sub->add_option("--percentile", opt->percentile,
                        "With --calibration percentile: the share of each activation's values its range holds, "
                        "from 50 to 100 (default 99.999); the rest saturate")
            ->option_text("P")
            ->check(decimal_number(kMinPercentile, 100));
    sub->add_flag("--ranges", opt->show_ranges,
                  "Print every activation's observed min and max, and the range its parameters cover, on standard "
                  "output");
    sub->add_option("--report-images", opt->report_images,
                    "Compare the new model in int8 with the float one in fp32 on the first N calibration images: "
                    "per layer cosine similarity and relative error, and top-1 agreement, on standard output "
                    "(default " + std::to_string(kDefaultReportImages) + "; 0: no report)")
        ->check(whole_number(0, 100000));
    add_max_pixels_option(sub, opt->max_pixels);
    sub->callback([opt, percentile, &status] {
        opt->percentile_given = percentile->count() > 0;
        status = run_quantize(*opt);
    });
}

}  // namespace mnet::cli
