// SPDX-License-Identifier: Apache-2.0
#include "cli/files_from.h"

#include <unistd.h>

#include "cli/line_reader.h"
#include "core/file_io.h"
#include "mnet/error.h"

namespace mnet::cli {

std::vector<std::string> read_files_from(const std::string& path) {
    if (path.empty()) throw Error(ErrorCode::InvalidArgument, "--files-from needs a file name, or - for stdin");
    const bool from_stdin = path == "-";
    // A FIFO or device is refused before it is read (pipe a list in with --files-from - instead).
    const io::ReadableFile file = from_stdin ? io::ReadableFile{} : io::open_regular(path, "file list");
    LineReader reader(from_stdin ? STDIN_FILENO : file.fd.get(), from_stdin ? "standard input" : path,
                      kMaxListLineBytes);
    std::vector<std::string> paths;
    std::string line;
    while (reader.next(line)) {
        if (line.empty()) continue;
        if (line.find('\0') != std::string::npos) {
            throw Error(ErrorCode::InvalidArgument, reader.name() + ":" + std::to_string(reader.line_number()) +
                                                        ": a NUL byte, which no path holds (a find -print0 list?)");
        }
        if (paths.size() == kMaxListEntries) {
            throw Error(ErrorCode::InvalidArgument, reader.name() + ": more than " + std::to_string(kMaxListEntries) +
                                                        " paths; split the list and run it in parts");
        }
        paths.push_back(line);
    }
    return paths;
}

}  // namespace mnet::cli
