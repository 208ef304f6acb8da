// SPDX-License-Identifier: Apache-2.0
// --files-from: a work list read from a file or standard input instead of a folder walk (docs/batch.md).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mnet::cli {

// Bounds on a list: a path longer than Linux's PATH_MAX cannot be opened anyway, and each entry costs about
// 100 bytes of memory in the run's work list.
constexpr size_t kMaxListLineBytes = 4096;
constexpr size_t kMaxListEntries = 20'000'000;

// The paths in the list file `path` ("-" reads standard input): one per line, taken exactly as written (no
// trimming, so names with spaces work; empty lines are skipped; a missing final newline is fine). Relative paths
// are relative to the current folder, as `find` prints them. The list file must be a regular file or standard
// input: a FIFO, device or folder is refused before anything is read (pipe a list in with `--files-from -`).
// Throws Error(Io) when the list cannot be opened or read, Error(InvalidArgument) naming the line of an entry
// that is too long or holds a NUL byte, or when the list has more than kMaxListEntries entries.
std::vector<std::string> read_files_from(const std::string& path);

}  // namespace mnet::cli
