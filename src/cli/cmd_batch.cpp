// SPDX-License-Identifier: Apache-2.0
// mnet batch: every image in some folders, streamed through the engine, one result line per file
// (docs/batch.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "common/exit_codes.h"
#include "cli/file_list.h"
#include "cli/features.h"
#include "cli/files_from.h"
#include "cli/output.h"
#include "cli/pipeline.h"
#include "cli/predictions.h"
#include "cli/resume.h"
#include "common/usage.h"
#include "core/file_io.h"
#include "mnet/error.h"

namespace mnet::cli {

namespace {

struct BatchOptions : PipelineFlags {
    OutputFlags out;
    bool features = false;
    bool recursive = false;
    bool all_files = false;
    int top = 5;
    std::string shard;
    long shard_count = 0;
    std::string resume;  // --resume OUT.jsonl: append to OUT what it does not hold yet
    std::vector<std::string> inputs;
};

// Where results go: a file or standard output, written with write(2) one whole batch at a time so a failure is
// seen at once (SIGPIPE is ignored) and, for a regular file, a partly written batch can be cut off again.
class Output {
public:
    // `append` keeps what the file holds (--resume); otherwise it is truncated.
    Output(const std::string& path, bool append) : name_(is_stdout(path) ? "standard output" : path) {
        if (is_stdout(path)) {
            fd_ = STDOUT_FILENO;
        } else {
            // Streamed to its final name (not io::AtomicFile): the results finished before a signal or a failure
            // must stay, and --resume continues this very file. O_NONBLOCK: a FIFO nobody reads is an error
            // (ENXIO), not a wait forever; cleared once open.
            struct stat link {};
            if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode) && !io::file_id(path)) {
                // As io::AtomicFile: a link to nothing would create a file wherever it points.
                throw Error(ErrorCode::Io, path + ": cannot create output file (a symbolic link to nothing)");
            }
            const int mode = append ? O_APPEND : O_TRUNC;
            fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | mode | O_CLOEXEC | O_NONBLOCK, 0666);
            if (fd_ < 0) {
                const int err = errno;
                throw Error(ErrorCode::Io, path + ": cannot create output file (" +
                                               (err == ENXIO ? "nothing reads it" : std::strerror(err)) + ")");
            }
            const int flags = fcntl(fd_, F_GETFL);
            if (flags >= 0) fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
            owned_ = true;
        }
        struct stat st {};
        regular_ = fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
        if (regular_) {
            // `>> results.jsonl` opens with O_APPEND at offset 0, yet every write lands at the end: what is
            // already there must survive a truncation.
            const int flags = fcntl(fd_, F_GETFL);
            const off_t pos = flags >= 0 && (flags & O_APPEND) ? st.st_size : lseek(fd_, 0, SEEK_CUR);
            good_ = pos < 0 ? 0 : pos;
        }
    }
    ~Output() {
        if (owned_) ::close(fd_);
    }
    Output(const Output&) = delete;
    Output& operator=(const Output&) = delete;

    // Writes all of `text`; false (and error() says why) when the output refuses it.
    bool write(const std::string& text) {
        size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR) continue;  // a signal arrived: finish the batch, then stop
            if (n < 0) {
                fail(errno);
                return false;
            }
            done += static_cast<size_t>(n);
        }
        good_ += static_cast<off_t>(done);
        return true;
    }

    bool close() {
        if (!owned_) return true;
        owned_ = false;
        if (::close(fd_) != 0) {
            fail(errno);
            return false;
        }
        return true;
    }

    const std::string& error() const { return error_; }
    // Its reader went away (EPIPE): normal in a pipe (`| head -1`), the run ends quietly.
    bool reader_closed() const { return reader_closed_; }
    const std::string& name() const { return name_; }

private:
    void fail(int err) {
        reader_closed_ = err == EPIPE;
        error_ = err == EPIPE ? name_ + ": the reader closed it (broken pipe)"
                              : name_ + ": cannot write (" + std::strerror(err) + ")";
        // No half line at the end of a file: drop the unfinished batch (a pipe cannot take it back).
        if (regular_ && ftruncate(fd_, good_) != 0) error_ += "; the last line may be incomplete";
    }

    std::string name_;
    int fd_ = -1;
    bool owned_ = false;
    bool regular_ = false;
    off_t good_ = 0;
    bool reader_closed_ = false;
    std::string error_;
};

std::string plural(size_t n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

// The shard's files (its contiguous slice of the sorted list of the arguments and --files-from), with the notes
// about what the listing skipped.
std::vector<InputFile> shard_files(const BatchOptions& opt) {
    const Shard shard = resolve_shard(opt.shard, opt.shard_count);  // flag and environment errors first
    if (opt.inputs.empty() && opt.files_from.empty()) {
        throw Error(ErrorCode::InvalidArgument, "batch needs folders or image files, or --files-from LIST");
    }
    const FileList list = list_files(opt.inputs, ListOptions{opt.recursive, opt.all_files},
                                     opt.files_from.empty() ? std::vector<std::string>{}
                                                            : read_files_from(opt.files_from));
    if (list.files.empty()) {
        const std::string hint = list.skipped_subfolders ? " (add -r for subfolders)" : "";
        const std::string where = opt.inputs.size() == 1 ? opt.inputs[0] : "the arguments given";
        throw Error(ErrorCode::InvalidArgument, "no image files to classify in " + where + hint);
    }
    const auto [first, last] = shard_range(list.files.size(), shard);
    if (!shard.source.empty()) {
        std::fprintf(stderr, "mnet: batch: shard %zu/%zu (from %s): sorted list entries [%zu, %zu) of %zu (%zu files)\n",
                     shard.index, shard.count, shard.source.c_str(), first, last, list.files.size(), last - first);
    }
    if (!opt.quiet && list.skipped_extension > 0) {
        std::fprintf(stderr, "mnet: batch: skipped %s without an image extension, e.g. %s (--all-files tries them)\n",
                     plural(list.skipped_extension, "file").c_str(), io::printable(list.skipped_example).c_str());
    }
    if (!opt.quiet && list.skipped_subfolders > 0) {
        std::fprintf(stderr, "mnet: batch: %s not searched (-r descends into them)\n",
                     plural(list.skipped_subfolders, "subfolder").c_str());
    }
    return std::vector<InputFile>(list.files.begin() + static_cast<std::ptrdiff_t>(first),
                                  list.files.begin() + static_cast<std::ptrdiff_t>(last));
}

// --resume OUT: the output is OUT, appended to; the files OUT has a complete record for are left out.
// `earlier_failures` counts OUT's error records among this run's files, so the exit status describes all of OUT.
std::vector<InputFile> resume_files(const BatchOptions& opt, bool csv, std::vector<InputFile> files,
                                    size_t& earlier_failures) {
    if (csv) {
        throw Error(ErrorCode::InvalidArgument, "--resume reads JSONL results; CSV output cannot be resumed "
                                                "(resume as JSONL and convert afterwards)");
    }
    if (!opt.out.path.empty() && opt.out.path != opt.resume) {
        throw Error(ErrorCode::InvalidArgument, "--resume " + opt.resume + " appends to that file: -o " + opt.out.path +
                                                    " must be left out or name the same file");
    }
    const ResumeState state = read_resume_state(opt.resume);
    size_t done = 0;
    std::vector<InputFile> rest = files_to_do(files, state, done, earlier_failures);
    if (state.done.size() > done) {  // kept, and mnet merge reports them; but the user should know
        std::fprintf(stderr, "mnet: batch: warning: %s holds %s for files outside this run's list (another shard's "
                     "output, other arguments, or deleted files?)\n",
                     opt.resume.c_str(), plural(state.done.size() - done, "record").c_str());
    }
    drop_unfinished_line(opt.resume, state);
    if (!opt.quiet && state.exists) {
        std::fprintf(stderr, "mnet: batch: resuming %s: %zu of %zu files done, %zu to go%s\n", opt.resume.c_str(),
                     done, files.size(), rest.size(),
                     state.unfinished_bytes ? " (an unfinished last line from an interrupted run was dropped)" : "");
    }
    return rest;
}

int run_batch(const BatchOptions& opt) {
    const bool resume = !opt.resume.empty();
    const std::string& output = resume ? opt.resume : opt.out.path;
    OutputFlags format_flags = opt.out;  // --resume FILE is the output: its name can pick the format too
    format_flags.path = output;
    const bool csv = format_flags.resolve() == "csv";
    size_t earlier_failures = 0;
    std::vector<InputFile> files = shard_files(opt);
    if (resume) files = resume_files(opt, csv, std::move(files), earlier_failures);

    // main() ignores SIGPIPE and SIGXFSZ: a closed pipe or a file size limit is a failed write here.
    const auto model = load_model(opt.model);  // before the output is opened: its files are inputs too
    if (!is_stdout(output)) {
        // Opening the output truncates it (or appends to it): it must be none of the files to classify (also
        // when a folder argument holds it), nor an argument, nor the --files-from list.
        std::vector<std::string> inputs = opt.inputs;
        if (!opt.files_from.empty() && opt.files_from != "-") inputs.push_back(opt.files_from);
        for (const InputFile& f : files) inputs.push_back(f.path);
        io::refuse_overwriting_input(output, resume ? "--resume" : "-o", inputs);
    }
    const Precision precision = resolve_precision(opt.precision, *model);
    if (opt.features && csv) throw Error(ErrorCode::InvalidArgument, "--features writes JSON lines, not csv");
    const FeatureSource source = opt.features ? feature_source(model) : FeatureSource{model, 0, ""};
    Output out(output, resume);
    if (csv && !out.write(predictions_csv_header(opt.top))) {
        if (out.reader_closed()) return kExitOk;
        std::fprintf(stderr, "mnet: error: %s\n", io::printable(out.error()).c_str());
        return kExitIo;
    }

    PipelineOptions popt = opt.options(precision);
    popt.output = source.output;
    std::string text;
    const PipelineStats stats = run_pipeline(source.model, files, popt, [&](const std::vector<ItemResult>& results) {
        text.clear();
        for (const ItemResult& r : results) {
            if (opt.features) {
                text += r.error.empty() ? features_json(*r.path, model->name(), source.name, r.scores, r.count)
                                        : error_json(*r.path, model->name(), r.error);
                text += '\n';
                continue;
            }
            std::vector<Prediction> preds;
            if (r.error.empty()) preds = top_k(*model, r.scores, r.count, opt.top);
            if (csv) {
                text += predictions_csv_row(shown_file_name(*r.path), file_bytes_field(*r.path), preds, opt.top,
                                            r.error, precision_name(precision), model->name());
            } else {
                text += r.error.empty() ? predictions_json(*r.path, model->name(), preds, precision_name(precision))
                                        : error_json(*r.path, model->name(), r.error);
                text += '\n';
            }
        }
        return out.write(text);
    });
    const bool closed = out.close();
    if (out.reader_closed()) return kExitOk;
    if (stats.sink_stopped || !closed) {
        std::fprintf(stderr, "mnet: error: %s; stopped after %zu of %zu files\n", io::printable(out.error()).c_str(),
                     stats.processed, stats.total);
        return kExitIo;
    }
    if (!opt.quiet || stats.signal) print_summary("batch", stats);
    if (stats.signal) return exit_code_for_signal(stats.signal);
    return stats.failed + earlier_failures > 0 ? kExitSomeInputsFailed : kExitOk;
}

}  // namespace

void setup_batch(CLI::App& app, int& status) {
    auto opt = std::make_shared<BatchOptions>();
    CLI::App* sub = app.add_subcommand(
        "batch",
        "Classify every image in folders, streaming: decoding overlaps inference, memory stays flat, results are\n"
        "written in sorted file order as they are produced (docs/batch.md)\n"
        "  e.g. mnet batch -r -o results.jsonl samples/\n"
        "       mnet batch -r --format csv -k 1 samples/ > top1.csv\n"
        "       mnet batch -r --shard 2/8 -o part2.jsonl /data/images    (one of 8 cluster jobs)");
    add_pipeline_flags(sub, *opt);
    add_output_flags(sub, opt->out, {"jsonl", "csv"}, "jsonl",
                     "jsonl: one JSON object per file per line, {\"file\", \"model\", \"predictions\": [{\"index\", "
                     "\"label\", \"probability\"}], \"precision\"} or {\"file\", \"model\", \"error\"}; csv: a header, "
                     "then one row per file: file, top<r>_index, top<r>_label, top<r>_probability for r = 1..k, "
                     "error, precision, model (docs/batch.md).");
    sub->add_flag("--features", opt->features,
                  "Write each image's feature vector instead of labels (JSON lines, as classify --features)");
    sub->add_flag("-r,--recursive", opt->recursive, "Also classify the images in subfolders, e.g. -r photos/");
    sub->add_flag("--all-files", opt->all_files,
                  "In folders, try every regular file, not only .jpg/.jpeg/.png/.bmp/.webp/.tif/... "
                  "(non-images become error records)");
    sub->add_option("-k,--top", opt->top, "Labels per image (default 5), e.g. -k 1")->check(whole_number(1, 100000));
    sub->add_option("--shard", opt->shard,
                    "Process only slice K of N (0 <= K < N, N at most 10^9) of the sorted file list, a contiguous "
                    "range; concatenating the outputs of 0/N .. N-1/N gives the unsharded output. Default: from "
                    "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX, else all, e.g. --shard 2/8");
    sub->add_option("--shard-count", opt->shard_count,
                    "N for a Kubernetes Indexed Job (K comes from JOB_COMPLETION_INDEX; also MNET_SHARD_COUNT), "
                    "e.g. --shard-count 8")
        ->check(whole_number(1, 1000000000));
    sub->add_option("--resume", opt->resume,
                    "Continue an interrupted run: append to this JSONL file the results of the files it has no "
                    "complete line for (an unfinished last line is dropped and redone); a missing file starts "
                    "afresh. Same arguments as the first run, e.g. --resume part3.jsonl");
    sub->add_option("inputs", opt->inputs,
                    "Folders (their images; with -r also those of subfolders) and image files");
    sub->callback([opt, &status] { status = run_batch(*opt); });
}

}  // namespace mnet::cli
