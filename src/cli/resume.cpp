// SPDX-License-Identifier: Apache-2.0
#include "cli/resume.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cli/line_reader.h"
#include "cli/records.h"
#include "core/file_io.h"
#include "mnet/error.h"

namespace mnet::cli {

ResumeState read_resume_state(const std::string& path) {
    ResumeState state;
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return state;  // a first run: start afresh
    const io::ReadableFile file = io::open_regular(path, "--resume output");
    state.exists = true;
    LineReader reader(file.fd.get(), path, kMaxRecordBytes);
    std::string line;
    while (reader.next(line)) {
        if (!reader.terminated()) {
            state.unfinished_bytes = line.size();
            break;
        }
        const Record r = parse_record(line, path, reader.line_number());
        if (!state.done.emplace(r.file, r.error).second) {
            throw Error(ErrorCode::InvalidArgument, path + ":" + std::to_string(reader.line_number()) +
                                                        ": a second record for " + r.file +
                                                        " (not written by one mnet batch run; mnet merge finds all)");
        }
    }
    state.complete_bytes = reader.complete_bytes();
    return state;
}

std::vector<InputFile> files_to_do(const std::vector<InputFile>& files, const ResumeState& state, size_t& done,
                                   size_t& failed) {
    std::vector<InputFile> rest;
    done = failed = 0;
    for (const InputFile& f : files) {
        const auto it = state.done.find(record_file_of(f.path));
        if (it == state.done.end()) {
            rest.push_back(f);
        } else {
            ++done;
            failed += it->second ? 1 : 0;
        }
    }
    return rest;
}

void drop_unfinished_line(const std::string& path, const ResumeState& state) {
    if (state.unfinished_bytes == 0) return;
    if (::truncate(path.c_str(), static_cast<off_t>(state.complete_bytes)) != 0) {
        throw Error(ErrorCode::Io, path + ": cannot cut off the unfinished last line (" + std::strerror(errno) + ")");
    }
}

}  // namespace mnet::cli
