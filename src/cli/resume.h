// SPDX-License-Identifier: Apache-2.0
// mnet batch --resume OUT.jsonl: what an earlier, interrupted run of the same command already wrote.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "cli/file_list.h"

namespace mnet::cli {

struct ResumeState {
    bool exists = false;                            // OUT was there: nothing to resume otherwise
    std::unordered_map<std::string, bool> done;     // record file -> it is an error record
    uint64_t complete_bytes = 0;                    // OUT's size up to its last complete line
    uint64_t unfinished_bytes = 0;                  // an unterminated last line after that, to cut off
};

// Reads the complete records of `path` (a missing file is an empty state). A last line without '\n' is an
// unfinished write of a killed run: counted in unfinished_bytes, not a record. Throws Error(Io) when `path`
// cannot be read or is not a regular file, Error(InvalidArgument) naming the line that is not a record or a
// file that has two records.
ResumeState read_resume_state(const std::string& path);

// The files of `files` without a record in `state`, in their order; `done` and `failed` count those with one
// (of them, error records).
std::vector<InputFile> files_to_do(const std::vector<InputFile>& files, const ResumeState& state, size_t& done,
                                   size_t& failed);

// Cuts the unfinished last line off `path` so appended records start on a line of their own. Throws Error(Io).
void drop_unfinished_line(const std::string& path, const ResumeState& state);

}  // namespace mnet::cli
