// SPDX-License-Identifier: Apache-2.0
// libpng's default handlers and libjpeg's output_message fprintf to `stderr` as they find problems, and OpenCV
// logs through std::cerr; none of them can be configured through cv::imdecode. So the `stderr` FILE itself is
// swapped for a glibc cookie stream whose write function looks at a thread-local pointer: set, the bytes are
// this thread's decoder talking and are kept; unset, they go to fd 2 unchanged. Unbuffered (as stderr is),
// so every fprintf reaches the write function on the thread that called it.
#include "preprocess/decoder_messages.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <streambuf>

namespace mnet {
namespace {

thread_local std::string* t_sink = nullptr;  // the DecoderMessages scope of this thread, if any

ssize_t write_stderr(void* /*cookie*/, const char* data, size_t size) {
    if (t_sink != nullptr) {
        t_sink->append(data, size);
        return static_cast<ssize_t>(size);
    }
    size_t done = 0;
    while (done < size) {
        const ssize_t n = ::write(STDERR_FILENO, data + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return done > 0 ? static_cast<ssize_t>(done) : -1;
        done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(size);
}

// std::cerr's buffer, writing through whatever `stderr` is at the time of the call.
class StderrBuffer : public std::streambuf {
protected:
    int overflow(int c) override {
        if (c == traits_type::eof()) return 0;
        const char ch = static_cast<char>(c);
        return std::fwrite(&ch, 1, 1, stderr) == 1 ? c : traits_type::eof();
    }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        return static_cast<std::streamsize>(std::fwrite(s, 1, static_cast<size_t>(n), stderr));
    }
    int sync() override { return std::fflush(stderr); }
};

}  // namespace

bool capture_decoder_messages() {
    static bool done = false;
    if (done) return true;
    cookie_io_functions_t io{};
    io.write = write_stderr;
    FILE* stream = fopencookie(nullptr, "w", io);
    if (stream == nullptr) return false;
    if (setvbuf(stream, nullptr, _IONBF, 0) != 0) {
        std::fclose(stream);
        return false;
    }
    std::fflush(stderr);
    stderr = stream;
    // Never destroyed: std::cerr is flushed after every static destructor has run (ios_base::Init), and a
    // static buffer would be gone by then. It stays reachable through std::cerr, so it is no leak.
    std::cerr.flush();
    std::cerr.rdbuf(new StderrBuffer);
    done = true;
    return true;
}

DecoderMessages::DecoderMessages() { t_sink = &text_; }

DecoderMessages::~DecoderMessages() { t_sink = nullptr; }

std::string DecoderMessages::last_line() const {
    constexpr size_t kMaxLength = 200;
    std::string last;
    size_t pos = 0;
    while (pos < text_.size()) {
        size_t eol = text_.find('\n', pos);
        if (eol == std::string::npos) eol = text_.size();
        std::string line;
        for (size_t i = pos; i < eol && line.size() < kMaxLength; ++i) {
            const char c = text_[i];
            line += (c >= 0x20 && c < 0x7F) ? c : ' ';
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        if (!line.empty()) last = line;
        pos = eol + 1;
    }
    return last;
}

}  // namespace mnet
