// SPDX-License-Identifier: Apache-2.0
// Bounded line-by-line reading of the text files the CLI consumes whole (--files-from lists, JSONL results for
// --resume and merge), with the byte offsets --resume needs to cut off an unfinished last line. Open them with
// io::open_regular (core/file_io.h), which refuses FIFOs, devices and folders before anything is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mnet::cli {

class LineReader {
public:
    // Reads `fd` (not owned); `name` prefixes messages. Lines longer than `max_line` bytes are an error.
    LineReader(int fd, std::string name, size_t max_line);

    // The next line without its '\n'; false at the end. A last line without '\n' is returned as well, with
    // terminated() false. Throws Error(Io) on a read error, Error(InvalidArgument) "NAME:LINE: ..." for a line
    // that is too long.
    bool next(std::string& line);
    bool terminated() const { return terminated_; }
    uint64_t line_number() const { return line_number_; }  // of the line next() returned last, from 1
    // Bytes up to and including the '\n' of the last terminated line returned.
    uint64_t complete_bytes() const { return complete_bytes_; }
    const std::string& name() const { return name_; }

private:
    bool fill();

    int fd_;
    std::string name_;
    size_t max_line_;
    std::string buffer_;
    size_t begin_ = 0;  // unread data is buffer_[begin_, end_)
    size_t end_ = 0;
    bool eof_ = false;
    bool terminated_ = true;
    uint64_t line_number_ = 0;
    uint64_t complete_bytes_ = 0;
};

}  // namespace mnet::cli
