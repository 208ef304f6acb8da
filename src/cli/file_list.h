// SPDX-License-Identifier: Apache-2.0
// The files a streaming command (batch, eval) works on: folder listing in a deterministic order, and the
// slicing of that list into shards for cluster array jobs (docs/batch.md).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace mnet::cli {

// One entry of a work list. `error` is set when the entry is known to fail before decoding (a folder that
// could not be listed); such entries still get an error record in their place in the output.
struct InputFile {
    std::string path;   // as shown in the output: the argument joined with the path below it
    std::string error;  // empty for a file to decode
};

struct ListOptions {
    bool recursive = false;  // descend into subfolders of folder arguments
    bool all_files = false;  // in folders, try every regular file, not only image extensions
};

struct FileList {
    std::vector<InputFile> files;      // sorted byte-wise by path, no duplicates
    size_t skipped_extension = 0;      // regular files in folders skipped for a non-image extension
    std::string skipped_example;       // one of them, for the message
    size_t skipped_subfolders = 0;     // subfolders not entered because -r was not given
};

// True when the file name ends in an extension OpenCV decodes (.jpg, .png, .webp, ...; any letter case).
bool has_image_extension(const std::string& path);

// Lists `inputs`: a file argument is taken as is (whatever its name); a folder argument contributes the regular
// files below it with an image extension (every regular file with all_files), skipping names that start with
// '.' (hidden files and folders), and the files of its subfolders only when recursive. Symbolic links to files
// are followed; links to folders are not entered (no cycles). The result is sorted byte-wise by path, so it
// does not depend on the file system's order nor on the order of the arguments.
// `listed` (the paths of --files-from) join the list as files without being looked at: a million-line list
// costs no million stat calls in every array task, and a listed file that is missing or unreadable becomes an
// error record in its place when it is decoded.
// An argument that does not exist, or a subfolder that cannot be read, becomes an entry with `error` set.
FileList list_files(const std::vector<std::string>& inputs, const ListOptions& options,
                    std::vector<std::string> listed = {});

// The file list of a folder, relative names with '/' separators, recursive, same filters and order as
// list_files. Used by eval for each class folder.
FileList list_folder(const std::string& folder, const ListOptions& options);

// One of N slices of a list: index K in [0, N).
struct Shard {
    size_t index = 0;
    size_t count = 1;
    std::string source;  // where K/N came from, for the message: "--shard", "SLURM_ARRAY_TASK_ID", ...
};

// Parses "K/N". Throws Error(InvalidArgument) unless 0 <= K < N.
Shard parse_shard(const std::string& text);

// The shard to run: --shard when given (`flag` non-empty); else K from SLURM_ARRAY_TASK_ID (minus
// SLURM_ARRAY_TASK_MIN, divided by SLURM_ARRAY_TASK_STEP) with N from SLURM_ARRAY_TASK_COUNT, or K from
// Kubernetes' JOB_COMPLETION_INDEX; N from `count_flag` (> 0) or MNET_SHARD_COUNT overrides the array size and
// is required with JOB_COMPLETION_INDEX. No flag and no variable: the single shard 0/1.
// Throws Error(InvalidArgument) naming the flag or variable that is malformed or out of range.
Shard resolve_shard(const std::string& flag, long count_flag);

// The contiguous range [first, second) of a list of `total` entries that `shard` covers:
// [total*K/N, total*(K+1)/N). Ranges of K = 0..N-1 tile the list in order and differ in size by at most one.
std::pair<size_t, size_t> shard_range(size_t total, const Shard& shard);

}  // namespace mnet::cli
