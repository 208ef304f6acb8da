// SPDX-License-Identifier: Apache-2.0
#include "cli/output.h"

#include <unistd.h>

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
    "format) and -o FILE (standard output by default; a .csv/.json/.jsonl name picks that format when offered; "
    "written in full or not at all, never over a file the command reads). Results go to the output; progress, notes and errors (one line each, 'mnet: error: ...') to stderr.";

namespace {

constexpr const char* kStandardOutput = "standard output";
std::string g_stdout_name = kStandardOutput;

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

ResultOutput::ResultOutput(const std::string& path, const std::vector<std::string>& inputs,
                           const std::string& flag) {
    if (is_stdout(path)) return;
    file_ = std::make_unique<io::AtomicFile>(path, flag, inputs);
    std::fflush(stdout);  // what was printed before belongs to the old stdout
    saved_stdout_ = ::dup(STDOUT_FILENO);
    if (saved_stdout_ < 0 || ::dup2(file_->fd(), STDOUT_FILENO) < 0) {
        const int err = errno;
        if (saved_stdout_ >= 0) ::close(saved_stdout_);
        saved_stdout_ = -1;
        throw Error(ErrorCode::Io, path + ": cannot create output file (" + std::strerror(err) + ")");
    }
    g_stdout_name = path;
}

ResultOutput::~ResultOutput() {
    if (saved_stdout_ < 0) return;
    // Unwinding from an error: what stdio still holds goes into the temporary file, which the AtomicFile
    // removes; a write error there is no news.
    std::fflush(stdout);
    std::clearerr(stdout);
    restore_stdout();
}

void ResultOutput::restore_stdout() {
    ::dup2(saved_stdout_, STDOUT_FILENO);
    ::close(saved_stdout_);
    saved_stdout_ = -1;
    g_stdout_name = kStandardOutput;
}

void ResultOutput::commit() {
    if (!file_) {
        flush_stdout();
        return;
    }
    flush_stdout();  // throws naming the file; the destructor then removes the temporary file
    restore_stdout();
    file_->commit();
    file_.reset();
}

void check_writable(const std::string& path, const std::string& flag, const std::vector<std::string>& inputs) {
    if (is_stdout(path)) return;
    io::AtomicFile probe(path, flag, inputs);  // created beside the target and removed again: the target is untouched
}

void write_text(const std::string& path, const std::string& flag, const std::string& text) {
    if (is_stdout(path)) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        flush_stdout();
        return;
    }
    io::write_file_atomically(path, flag, text);
}

const std::string& stdout_name() { return g_stdout_name; }

}  // namespace mnet::cli
