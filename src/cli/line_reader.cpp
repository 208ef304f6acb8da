// SPDX-License-Identifier: Apache-2.0
#include "cli/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mnet/error.h"

namespace mnet::cli {

namespace {
constexpr size_t kReadChunk = 1 << 16;
}

LineReader::LineReader(int fd, std::string name, size_t max_line)
    : fd_(fd), name_(std::move(name)), max_line_(max_line), buffer_(kReadChunk, '\0') {}

bool LineReader::fill() {
    if (eof_) return false;
    if (begin_ > 0) {  // keep the unfinished line at the front
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    for (;;) {
        const ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(ErrorCode::Io, name_ + ": cannot read (" + std::strerror(errno) + ")");
        if (n == 0) eof_ = true;
        end_ += static_cast<size_t>(n);
        return n > 0;
    }
}

bool LineReader::next(std::string& line) {
    size_t scanned = begin_;
    for (;;) {
        const void* nl = std::memchr(buffer_.data() + scanned, '\n', end_ - scanned);
        if (nl) {
            const size_t stop = static_cast<size_t>(static_cast<const char*>(nl) - buffer_.data());
            if (stop - begin_ > max_line_) break;
            line.assign(buffer_.data() + begin_, stop - begin_);
            complete_bytes_ += stop - begin_ + 1;
            begin_ = stop + 1;
            terminated_ = true;
            ++line_number_;
            return true;
        }
        if (end_ - begin_ > max_line_) break;
        scanned = end_;
        const size_t offset = begin_;
        if (!fill()) {
            if (begin_ == end_) return false;
            line.assign(buffer_.data() + begin_, end_ - begin_);
            begin_ = end_;
            terminated_ = false;
            ++line_number_;
            return true;
        }
        scanned -= offset - begin_;  // fill() moved the data to the front
    }
    throw Error(ErrorCode::InvalidArgument, name_ + ":" + std::to_string(line_number_ + 1) + ": a line longer than " +
                                                std::to_string(max_line_) + " bytes");
}

}  // namespace mnet::cli
