// SPDX-License-Identifier: Apache-2.0
#include "cli/output.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli/common_options.h"
#include "common/usage.h"
#include "mnet/error.h"

namespace mnet::cli {

const char* const kOutputHelp =
    "Output: every subcommand that prints results takes --format F (its formats are in its help), --json (its JSON "
    "format) and -o FILE (standard output by default; a .csv/.json/.jsonl name picks that format when offered). "
    "Results go to the output; progress, notes and errors (one line each, 'mnet: error: ...') to stderr.";

namespace {

std::string g_stdout_name = "standard output";

}  // namespace

std::string OutputFlags::resolve() const {
    if (json) {
        if (!format.empty() && format != json_format) {
            throw Error(ErrorCode::InvalidArgument, "--json selects --format " + json_format + ", not " + format);
        }
        return json_format;
    }
    if (!format.empty()) return format;
    std::string ext = std::filesystem::path(path).extension().string();
    if (!ext.empty()) ext.erase(0, 1);
    if (!is_stdout(path) && std::find(formats.begin(), formats.end(), ext) != formats.end()) return ext;
    return formats.front();
}

void add_output_flags(CLI::App* sub, OutputFlags& flags, std::vector<std::string> formats, std::string json_format,
                      const std::string& format_help) {
    std::string choices;
    for (const std::string& f : formats) choices += (choices.empty() ? "" : "|") + f;
    flags.formats = formats;
    flags.json_format = json_format;
    sub->add_option("--format", flags.format, format_help + " Default: " + formats.front())
        ->option_text(choices)
        ->check(one_of(formats));
    sub->add_flag("--json", flags.json, "Short for --format " + json_format);
    sub->add_option("-o,--output", flags.path,
                    "Write the results to FILE instead of standard output, e.g. -o results." + json_format)
        ->option_text("FILE");
}

void redirect_stdout(const std::string& path) {
    if (is_stdout(path)) return;
    if (!std::freopen(path.c_str(), "w", stdout)) {
        throw Error(ErrorCode::Io, path + ": cannot create output file (" + std::strerror(errno) + ")");
    }
    g_stdout_name = path;
}

const std::string& stdout_name() { return g_stdout_name; }

}  // namespace mnet::cli
