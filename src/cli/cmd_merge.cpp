// SPDX-License-Identifier: Apache-2.0
// mnet merge: the JSONL outputs of the shards of a batch run (array tasks, Indexed Job pods) into one file in
// the unsharded run's order, checked: no file twice, and with the run's list, no file missing (docs/batch.md);
// as JSONL or as batch's CSV.
//
// Every part is in sorted file order (batch writes its shard's files in list order, --resume appends the rest in
// the same order), so the parts are merged as sorted streams: memory holds one line per part and the expected
// list, however many records there are. A first pass checks, a second writes, so a failed check writes nothing.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/output.h"
#include "cli/predictions.h"
#include "common/exit_codes.h"
#include "cli/file_list.h"
#include "cli/files_from.h"
#include "cli/line_reader.h"
#include "cli/records.h"
#include "core/file_io.h"
#include "mnet/error.h"

namespace mnet::cli {

namespace {

constexpr size_t kExamples = 5;  // problems of each kind named in the report

struct MergeOptions {
    std::vector<std::string> parts;
    OutputFlags out;
    std::string files_from;
    std::vector<std::string> expect;  // the folders and files the batch run was given
    bool recursive = false;
    bool all_files = false;
    bool quiet = false;
};

// One part being read: its current record and where it came from.
class Part {
public:
    explicit Part(const std::string& path)
        : file_(io::open_regular(path, "part")), reader_(file_.fd.get(), path, kMaxRecordBytes) {
        advance();
    }
    bool has() const { return has_; }
    const Record& record() const { return record_; }
    const std::string& line() const { return line_; }
    std::string where() const { return reader_.name() + ":" + std::to_string(reader_.line_number()); }
    const std::string& name() const { return reader_.name(); }
    unsigned long long line_number() const { return reader_.line_number(); }

    void advance() {
        has_ = reader_.next(line_);
        if (!has_) return;
        if (!reader_.terminated()) {
            throw Error(ErrorCode::InvalidArgument, where() + ": an unfinished last line (an interrupted run: finish it "
                                                              "with mnet batch --resume " + reader_.name() + ")");
        }
        std::string previous = std::move(record_.file);
        record_ = parse_record(line_, reader_.name(), reader_.line_number());
        if (reader_.line_number() > 1 && record_.file < previous) {
            throw Error(ErrorCode::InvalidArgument, where() + ": records are not in sorted file order (" +
                                                        record_.file + " after " + previous +
                                                        "): not an mnet batch output as written");
        }
    }

private:
    io::ReadableFile file_;
    LineReader reader_;
    std::string line_;
    Record record_;
    bool has_ = false;
};

struct Findings {
    size_t records = 0;
    size_t errors = 0;
    size_t top = 0;  // the most predictions a record has: the CSV's columns
    std::vector<std::string> duplicates;  // "FILE (PART:LINE)" of every record after a file's first
    std::vector<std::string> missing;     // expected files without a record
    std::vector<std::string> unexpected;  // records for files not expected
    size_t duplicate_count = 0, missing_count = 0, unexpected_count = 0;
    bool ok() const { return duplicate_count + missing_count + unexpected_count == 0; }
};

void note(std::vector<std::string>& examples, size_t& count, std::string what) {
    if (count++ < kExamples) examples.push_back(std::move(what));
}

// One pass over the parts in merged order; `write` (may be null) receives each line. `expected` sorted, unique;
// `check_expected` false when no list was given.
Findings merge_pass(const std::vector<std::string>& paths, const std::vector<std::string>& expected,
                    bool check_expected, const std::function<void(const Part&)>& write) {
    std::vector<std::unique_ptr<Part>> parts;
    for (const std::string& p : paths) parts.push_back(std::make_unique<Part>(p));
    Findings f;
    size_t next_expected = 0;
    std::string last;
    for (;;) {
        Part* min = nullptr;  // ties go to the earlier part, so a duplicate names the later one
        for (const auto& p : parts) {
            if (p->has() && (!min || p->record().file < min->record().file)) min = p.get();
        }
        if (!min) break;
        const std::string& file = min->record().file;
        if (f.records > 0 && file == last) {
            note(f.duplicates, f.duplicate_count, file + " (again in " + min->where() + ")");
        } else {
            while (check_expected && next_expected < expected.size() && expected[next_expected] < file) {
                note(f.missing, f.missing_count, expected[next_expected++]);
            }
            if (check_expected && (next_expected == expected.size() || expected[next_expected] != file)) {
                note(f.unexpected, f.unexpected_count, file + " (" + min->where() + ")");
            } else if (check_expected) {
                ++next_expected;
            }
            if (write) write(*min);
        }
        ++f.records;
        f.errors += min->record().error ? 1 : 0;
        f.top = std::max(f.top, min->record().predictions);
        last = file;
        min->advance();
    }
    while (check_expected && next_expected < expected.size()) note(f.missing, f.missing_count, expected[next_expected++]);
    return f;
}

// The files the batch run processed, as its records name them, sorted and unique.
std::vector<std::string> expected_files(const MergeOptions& opt) {
    const FileList list = list_files(opt.expect, ListOptions{opt.recursive, opt.all_files},
                                     opt.files_from.empty() ? std::vector<std::string>{}
                                                            : read_files_from(opt.files_from));
    std::vector<std::string> files;
    files.reserve(list.files.size());
    for (const InputFile& f : list.files) files.push_back(record_file_of(f.path));
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    return files;
}

void report(const char* what, size_t count, const std::vector<std::string>& examples) {
    if (count == 0) return;
    std::string list;
    for (const std::string& e : examples) list += (list.empty() ? "" : ", ") + e;
    std::fprintf(stderr, "mnet: merge: %zu %s, e.g. %s%s\n", count, what, list.c_str(),
                 count > examples.size() ? ", ..." : "");
}

// Prints the merged records on stdout (the ResultOutput of -o), as they are (jsonl) or as batch's CSV rows
// with `top` prediction columns, a megabyte at a time.
void write_merged(const MergeOptions& opt, const std::vector<std::string>& expected, bool check_expected, bool csv,
                  size_t top) {
    constexpr size_t kFlushBytes = 1 << 20;
    std::string buffer = csv ? predictions_csv_header(static_cast<int>(top)) : "";
    const auto flush = [&] {
        std::fwrite(buffer.data(), 1, buffer.size(), stdout);
        flush_stdout();  // throws naming the output when it refuses the bytes
        buffer.clear();
    };
    merge_pass(opt.parts, expected, check_expected, [&](const Part& part) {
        if (csv) {
            buffer += record_csv_row(part.line(), static_cast<int>(top), part.name(), part.line_number());
        } else {
            buffer += part.line();
            buffer += '\n';
        }
        if (buffer.size() >= kFlushBytes) flush();
    });
    flush();
}

int run_merge(const MergeOptions& opt) {
    const bool csv = opt.out.resolve() == "csv";
    std::vector<std::string> inputs = opt.parts;  // -o must name none of them
    if (!is_stdout(opt.files_from)) inputs.push_back(opt.files_from);
    ResultOutput result(opt.out.path, inputs);
    const bool check_expected = !opt.files_from.empty() || !opt.expect.empty();
    const std::vector<std::string> expected = check_expected ? expected_files(opt) : std::vector<std::string>{};
    const Findings f = merge_pass(opt.parts, expected, check_expected, nullptr);
    report("duplicate records", f.duplicate_count, f.duplicates);
    report("files of the list without a record", f.missing_count, f.missing);
    report("records for files not in the list", f.unexpected_count, f.unexpected);
    if (!f.ok()) {
        std::fprintf(stderr, "mnet: merge: nothing written: the parts do not cover the run exactly once\n");
        return kExitSomeInputsFailed;
    }
    write_merged(opt, expected, check_expected, csv, f.top);
    result.commit();
    if (!opt.quiet) {
        std::fprintf(stderr, "mnet: merge: %zu records (%zu error records) from %zu parts%s\n", f.records, f.errors,
                     opt.parts.size(), check_expected ? ", exactly one for every listed file" : ", no duplicates");
    }
    return kExitOk;
}

}  // namespace

void setup_merge(CLI::App& app, int& status) {
    auto opt = std::make_shared<MergeOptions>();
    CLI::App* sub = app.add_subcommand(
        "merge",
        "Merge the JSONL outputs of a sharded batch run into one file in the unsharded run's order, checking that\n"
        "no file has two records and, given the run's inputs, that none is missing (docs/batch.md)\n"
        "  e.g. mnet merge out/part-*.jsonl -o all.jsonl\n"
        "       mnet merge out/part-*.jsonl --files-from list.txt -o all.jsonl\n"
        "       mnet merge out/part-*.jsonl -r --expect /data/images -o all.jsonl\n"
        "       mnet merge out/part-*.jsonl -o all.csv                     (as batch --format csv)");
    sub->footer("Exit status: 0 merged (and complete, given the inputs); 1 duplicate, missing or unexpected records: "
                "each kind counted with examples on stderr, nothing written; 2 bad flags, or a part that is not an "
                "mnet batch JSONL output as written (malformed, unsorted, or ending in an unfinished line); 3 a file "
                "could not be read or written.");
    sub->add_option("parts", opt->parts, "The JSONL outputs of the shards, in any order")->required();
    add_output_flags(sub, opt->out, {"jsonl", "csv"}, "jsonl",
                     "jsonl: the parts' records as they are; csv: batch's CSV (a header, then one row per record, "
                     "with as many prediction columns as the records have predictions; error records leave "
                     "precision empty). -o FILE is replaced only when the check passes.");
    sub->add_option("--files-from", opt->files_from,
                    "The list the batch run was given (--files-from; - reads standard input): every file in it "
                    "must have exactly one record, e.g. --files-from list.txt");
    sub->add_option("--expect", opt->expect,
                    "The folders and files the batch run was given, spelled as it was given them: every image "
                    "file they hold must have exactly one record; one path per --expect, e.g. --expect /data/images")
        ->allow_extra_args(false);
    sub->add_flag("-r,--recursive", opt->recursive, "With --expect: the batch run had -r");
    sub->add_flag("--all-files", opt->all_files, "With --expect: the batch run had --all-files");
    sub->add_flag("-q,--quiet", opt->quiet, "No summary line on stderr; problems are still reported");
    sub->callback([opt, &status] { status = run_merge(*opt); });
}

}  // namespace mnet::cli
