// SPDX-License-Identifier: Apache-2.0
// One output scheme for every subcommand that prints results: `--format F`, `--json` (its JSON format) and
// `-o/--output FILE` (standard output when not given or "-").
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

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

// Sends standard output to `path` (unless is_stdout(path)), for the subcommands that print with stdio.
// Throws Error(Io) naming the file when it cannot be created.
void redirect_stdout(const std::string& path);

// "standard output", or the file redirect_stdout() sent it to: what a write error names.
const std::string& stdout_name();

}  // namespace mnet::cli
