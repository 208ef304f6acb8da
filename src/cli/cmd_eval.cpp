// SPDX-License-Identifier: Apache-2.0
// mnet eval: top-1/top-5 accuracy of a model on labelled images, streamed like `mnet batch` (docs/batch.md).
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/csv.h"
#include "cli/eval_data.h"
#include "cli/files_from.h"
#include "cli/output.h"
#include "common/exit_codes.h"
#include "cli/pipeline.h"
#include "cli/predictions.h"
#include "core/file_io.h"
#include "mnet/error.h"

namespace fs = std::filesystem;

namespace mnet::cli {

namespace {

constexpr int kTop5 = 5;

struct EvalOptions : PipelineFlags {
    std::string labels_csv;
    std::string per_class_csv;
    std::string misclassified_csv;
    OutputFlags out;
    bool all_files = false;
    std::string target;
};

struct ClassStats {
    size_t images = 0;  // evaluated (decoded) images
    size_t failed = 0;
    size_t top1 = 0;
    size_t top5 = 0;
};

struct Miss {
    std::string file;
    int64_t truth = 0;
    size_t true_rank = 0;  // 1-based rank of the true class
    float true_probability = 0.f;
    Prediction predicted;
};

struct Tally {
    std::map<int64_t, ClassStats> classes;
    std::vector<Miss> misses;
    std::vector<std::pair<std::string, std::string>> errors;
    size_t images = 0, top1 = 0, top5 = 0;
};

double percent(size_t part, size_t whole) {
    return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

void write_per_class_csv(const std::string& path, const Model& model, const Tally& t) {
    std::ostringstream out;
    out << "class_index,label,images,failed,top1_correct,top5_correct,top1_accuracy,top5_accuracy\n";
    for (const auto& [index, c] : t.classes) {
        out << index << ',' << csv_field(label_of(model, index)) << ',' << c.images << ',' << c.failed << ','
            << c.top1 << ',' << c.top5 << ',' << percent(c.top1, c.images) / 100.0 << ','
            << percent(c.top5, c.images) / 100.0 << '\n';
    }
    write_text(path, "--per-class", out.str());
}

void write_misclassified_csv(const std::string& path, const Model& model, const Tally& t) {
    std::ostringstream out;
    out << "file,true_index,true_label,true_rank,true_probability,predicted_index,predicted_label,"
           "predicted_probability,file_bytes\n";
    for (const Miss& m : t.misses) {
        out << csv_field(shown_file_name(m.file)) << ',' << m.truth << ',' << csv_field(label_of(model, m.truth)) << ',' << m.true_rank
            << ',' << nlohmann::json(m.true_probability).dump() << ',' << m.predicted.index << ','
            << csv_field(m.predicted.label) << ',' << nlohmann::json(m.predicted.probability).dump() << ','
            << file_bytes_field(m.file) << '\n';
    }
    write_text(path, "--misclassified", out.str());
}

// The files the run reads besides the model (noted as it loads): what no report may be written over.
std::vector<std::string> eval_inputs(const EvalOptions& opt, const LabelledSet& set) {
    std::vector<std::string> inputs;
    inputs.reserve(set.files.size() + 3);
    for (const InputFile& f : set.files) inputs.push_back(f.path);
    if (!opt.labels_csv.empty()) inputs.push_back(opt.labels_csv);
    if (!opt.target.empty()) inputs.push_back(opt.target);
    if (!is_stdout(opt.files_from)) inputs.push_back(opt.files_from);
    return inputs;
}

void print_text_report(const Model& model, Precision precision, const Tally& t, bool interrupted) {
    const size_t failed = t.errors.size();
    std::printf("model    %s (%s)\n", model.name().c_str(), precision_name(precision));
    std::printf("images   %zu evaluated, %zu failed, %zu classes%s\n", t.images, failed, t.classes.size(),
                interrupted ? " (interrupted: partial results)" : "");
    std::printf("top-1    %6.2f%%  (%zu/%zu)\n", percent(t.top1, t.images), t.top1, t.images);
    std::printf("top-5    %6.2f%%  (%zu/%zu)\n", percent(t.top5, t.images), t.top5, t.images);
    std::printf("\n%6s  %7s  %6s  %6s  %7s  %7s  %s\n", "class", "images", "top-1", "top-5", "top-1%", "top-5%",
                "label");
    for (const auto& [index, c] : t.classes) {
        std::printf("%6lld  %7zu  %6zu  %6zu  %6.1f%%  %6.1f%%  %s%s\n", static_cast<long long>(index), c.images,
                    c.top1, c.top5, percent(c.top1, c.images), percent(c.top5, c.images),
                    label_of(model, index).c_str(),
                    c.failed ? (" (" + std::to_string(c.failed) + " failed)").c_str() : "");
    }
    std::printf("\nmisclassified (top-1): %zu\n", t.misses.size());
    for (const Miss& m : t.misses) {
        std::printf("  %s: true %lld '%s' (rank %zu, p=%.4f), predicted %lld '%s' (p=%.4f)\n", io::printable(m.file).c_str(),
                    static_cast<long long>(m.truth), label_of(model, m.truth).c_str(), m.true_rank,
                    static_cast<double>(m.true_probability), static_cast<long long>(m.predicted.index),
                    m.predicted.label.c_str(), static_cast<double>(m.predicted.probability));
    }
    if (failed) {
        std::printf("\nfailed: %zu\n", failed);
        for (const auto& [file, error] : t.errors) std::printf("  %s\n", io::printable(error).c_str());
    }
}

void print_json_report(const Model& model, Precision precision, const Tally& t, bool interrupted) {
    using json = nlohmann::json;
    json classes = json::array();
    for (const auto& [index, c] : t.classes) {
        classes.push_back({{"index", index}, {"label", label_of(model, index)}, {"images", c.images},
                           {"failed", c.failed}, {"top1_correct", c.top1}, {"top5_correct", c.top5}});
    }
    json misses = json::array();
    for (const Miss& m : t.misses) {
        json miss = {{"true_index", m.truth}, {"true_label", label_of(model, m.truth)},
                     {"true_rank", m.true_rank}, {"true_probability", m.true_probability},
                     {"predicted_index", m.predicted.index}, {"predicted_label", m.predicted.label},
                     {"predicted_probability", m.predicted.probability}};
        set_file_fields(miss, m.file);
        misses.push_back(std::move(miss));
    }
    json errors = json::array();
    for (const auto& [file, error] : t.errors) {
        json record = {{"error", io::printable(error)}};
        set_file_fields(record, file);
        errors.push_back(std::move(record));
    }
    const json report = {{"model", model.name()},
                         {"precision", precision_name(precision)},
                         {"images", t.images},
                         {"failed", t.errors.size()},
                         {"interrupted", interrupted},
                         {"top1", {{"correct", t.top1}, {"accuracy", percent(t.top1, t.images) / 100.0}}},
                         {"top5", {{"correct", t.top5}, {"accuracy", percent(t.top5, t.images) / 100.0}}},
                         {"classes", classes},
                         {"misclassified", misses},
                         {"errors", errors}};
    std::printf("%s\n", report.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

int run_eval(const EvalOptions& opt) {
    const bool by_list = !opt.files_from.empty();
    if (by_list ? !opt.target.empty() || !opt.labels_csv.empty() : opt.target.empty() && opt.labels_csv.empty()) {
        throw Error(ErrorCode::InvalidArgument, "eval needs one of: a labelled folder DIR, --csv FILE (with an "
                                                "optional DIR), or --files-from LIST");
    }
    const bool json = opt.out.resolve() == "json";
    const auto model = load_model(opt.model);
    const Precision precision = resolve_precision(opt.precision, *model);
    const ClassMatcher matcher(*model);
    LabelledSet set;
    std::error_code ec;
    if (!opt.files_from.empty()) {
        set = load_labelled_list(read_files_from(opt.files_from), opt.files_from == "-" ? "standard input"
                                                                                       : opt.files_from, matcher);
    } else if (!opt.labels_csv.empty()) {
        const std::string base = opt.target.empty() ? fs::path(opt.labels_csv).parent_path().string() : opt.target;
        set = load_labelled_csv(opt.labels_csv, base, matcher);
    } else if (fs::is_directory(opt.target, ec)) {
        set = load_labelled_folder(opt.target, matcher, opt.all_files);
    } else if (fs::exists(fs::symlink_status(opt.target, ec))) {  // a CSV; anything else is refused by name
        set = load_labelled_csv(opt.target, fs::path(opt.target).parent_path().string(), matcher);
    } else {
        throw Error(ErrorCode::Io, opt.target + ": no such folder or file");
    }
    if (!opt.quiet && set.ignored_files) {
        std::fprintf(stderr, "mnet: eval: ignored %zu file%s directly in %s (images belong in class folders)\n",
                     set.ignored_files, set.ignored_files == 1 ? "" : "s", io::printable(opt.target).c_str());
    }
    if (!opt.quiet && set.skipped_extension) {
        std::fprintf(stderr, "mnet: eval: skipped %zu file%s without an image extension (--all-files tries them)\n",
                     set.skipped_extension, set.skipped_extension == 1 ? "" : "s");
    }
    if (set.files.empty()) throw Error(ErrorCode::InvalidArgument, opt.target + ": no labelled images found");
    // No report over a file the run reads (exit 2), and none that cannot be created (3): before any work.
    const std::vector<std::string> inputs = eval_inputs(opt, set);
    ResultOutput result(opt.out.path, inputs);
    check_writable(opt.per_class_csv, "--per-class", inputs);
    check_writable(opt.misclassified_csv, "--misclassified", inputs);

    Tally t;
    for (int64_t c : set.truth) t.classes[c];  // every class present, even if all its images fail
    const PipelineOptions popt = opt.options(precision);
    const PipelineStats stats = run_pipeline(model, set.files, popt, [&](const std::vector<ItemResult>& results) {
        for (const ItemResult& r : results) {
            const int64_t truth = set.truth[r.index];
            ClassStats& c = t.classes[truth];
            if (!r.error.empty()) {
                ++c.failed;
                t.errors.emplace_back(*r.path, r.error);
                continue;
            }
            // The full ranking (a sort of ~1000 floats, negligible next to inference) gives the true class's rank.
            const std::vector<Prediction> ranked = top_k(*model, r.scores, r.count, static_cast<int>(r.count));
            size_t rank = 0;
            while (rank < ranked.size() && ranked[rank].index != truth) ++rank;
            ++c.images;
            ++t.images;
            if (rank == 0) {
                ++c.top1;
                ++t.top1;
            } else {
                t.misses.push_back({*r.path, truth, rank + 1, rank < ranked.size() ? ranked[rank].probability : 0.f,
                                    ranked.at(0)});
            }
            if (rank < static_cast<size_t>(kTop5)) {
                ++c.top5;
                ++t.top5;
            }
        }
        return true;
    });
    if (!opt.quiet || stats.signal) print_summary("eval", stats);
    if (json) {
        print_json_report(*model, precision, t, stats.signal != 0);
    } else {
        print_text_report(*model, precision, t, stats.signal != 0);
    }
    result.commit();  // a report lost to a full disk is an error, before the CSV files are written
    if (!opt.per_class_csv.empty()) write_per_class_csv(opt.per_class_csv, *model, t);
    if (!opt.misclassified_csv.empty()) write_misclassified_csv(opt.misclassified_csv, *model, t);
    if (stats.signal) return exit_code_for_signal(stats.signal);
    return stats.failed > 0 ? kExitSomeInputsFailed : kExitOk;
}

}  // namespace

void setup_eval(CLI::App& app, int& status) {
    auto opt = std::make_shared<EvalOptions>();
    CLI::App* sub = app.add_subcommand(
        "eval",
        "Top-1/top-5 accuracy on labelled images: a folder with one subfolder per class, named by label\n"
        "('Egyptian cat', 'egyptian_cat', 'tabby' for 'tabby, tabby cat') or class index ('286'), or a CSV of\n"
        "file,label, or a --files-from list of images each labelled by its folder's name. Streams like batch; the\n"
        "report goes to stdout (docs/batch.md)\n"
        "  e.g. mnet eval val/\n"
        "       mnet eval --csv val_labels.csv --misclassified wrong.csv images/");
    add_pipeline_flags(sub, *opt);
    sub->add_option("--csv", opt->labels_csv,
                    "Read the labels from a CSV of file,label rows (optional header row file,label) instead of "
                    "class folders; relative files are under DIR, or beside the CSV without DIR, e.g. --csv "
                    "labels.csv");
    sub->add_option("--per-class", opt->per_class_csv,
                    "Also write the per-class counts as CSV with the columns class_index, label, images, "
                    "failed, top1_correct, top5_correct, top1_accuracy, top5_accuracy, e.g. --per-class classes.csv");
    sub->add_option("--misclassified", opt->misclassified_csv,
                    "Also write every top-1 miss as CSV with the columns file, true_index, true_label, true_rank, "
                    "true_probability, predicted_index, predicted_label, predicted_probability, file_bytes, e.g. "
                    "--misclassified wrong.csv");
    add_output_flags(sub, opt->out, {"text", "json"}, "json",
                     "text: totals, a per-class table, the misses and the failures; json: one document with the same "
                     "(model, precision, images, failed, interrupted, top1, top5, classes, misclassified, errors).");
    sub->add_flag("--all-files", opt->all_files, "Try every file in class folders, not only image extensions");
    sub->add_option("target", opt->target,
                    "DIR: a folder of class folders (or, with --csv, the folder the CSV's files are under); "
                    "a .csv file here is read like --csv");
    sub->callback([opt, &status] { status = run_eval(*opt); });
}

}  // namespace mnet::cli
