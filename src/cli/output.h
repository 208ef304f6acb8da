// SPDX-License-Identifier: Apache-2.0
// One output scheme for every subcommand that prints results: `--format F`, `--json` (its JSON format) and
// `-o/--output FILE` (standard output when not given or "-").
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/file_io.h"

namespace mnet::cli {

// For `mnet --help`: the scheme in words.
extern const char* const kOutputHelp;

struct OutputFlags {
    std::vector<std::string> formats;  // the first is the default
    std::string json_format;           // what --json selects
    std::string format;                // --format as given
    bool json = false;                 // --json
    std::string path;                  // -o as given

    // The format to write: --json, else --format, else the one -o's extension names (.csv, .json, .jsonl, when
    // offered), else formats[0]. Throws Error(InvalidArgument) for --json with a different --format.
    std::string resolve() const;
};

// Registers --format (described by `format_help`), --json and -o/--output on `sub`.
void add_output_flags(CLI::App* sub, OutputFlags& flags, std::vector<std::string> formats, std::string json_format,
                      const std::string& format_help);

// Where a subcommand's results go: -o FILE, or standard output. The subcommands print their results with stdio;
// with a FILE, stdout writes from construction on into a temporary file beside FILE, which commit() renames over
// it (io::AtomicFile). FILE is thus written in full or not at all: a run that ends in an error (an exception: a
// failed write, a model that does not run, a signal's unwind) leaves no FILE, and an existing one untouched.
// The constructor refuses, with Error(InvalidArgument) (exit 2), a FILE that is one of `inputs` or a file the
// command read (io::InputScope: the model's files, label and list files are noted as they are read; commit()
// checks those read later), and throws Error(Io) naming FILE when it cannot be created. Nothing happens for
// is_stdout(path). One at a time, on the main thread.
class ResultOutput {
public:
    explicit ResultOutput(const std::string& path, const std::vector<std::string>& inputs = {},
                          const std::string& flag = "-o");
    ResultOutput(const ResultOutput&) = delete;
    ResultOutput& operator=(const ResultOutput&) = delete;
    // Uncommitted: stdout is pointed back where it was; FILE is untouched and the temporary file removed.
    ~ResultOutput();

    // Flushes stdout (Error(Io) naming FILE when that fails, OutputClosed when a pipe's reader has gone), points
    // it back where it was and renames the temporary file over FILE.
    void commit();

private:
    void restore_stdout();

    std::unique_ptr<io::AtomicFile> file_;
    int saved_stdout_ = -1;  // the descriptor stdout had, while it writes into file_
};

// Fails early, before minutes of work, when `path` (unless standard output), an output written whole at the end
// (write_text), cannot be created or is one of `inputs` or a file already read (InvalidArgument,
// io::refuse_overwriting_input); leaves `path` untouched. Throws Io naming the file. `flag` names the option in
// messages ("--svg", "--per-class").
void check_writable(const std::string& path, const std::string& flag, const std::vector<std::string>& inputs);

// Writes `text` to `path` in full or not at all (io::AtomicFile), or to stdout when is_stdout(path). Throws Io
// naming the file.
void write_text(const std::string& path, const std::string& flag, const std::string& text);

// "standard output", or the file a ResultOutput sends stdout to: what a write error names.
const std::string& stdout_name();

}  // namespace mnet::cli
