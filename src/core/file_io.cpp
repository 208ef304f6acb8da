// SPDX-License-Identifier: Apache-2.0
#include "core/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>

namespace mnet::io {


namespace {

// Length of the valid UTF-8 sequence at text[i], 0 when there is none.
size_t utf8_length(const std::string& text, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) return 1;
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (i + len > text.size()) return 0;
    for (size_t k = 1; k < len; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3Fu);
    }
    const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

void append_hex(std::string& out, unsigned char c) {
    static const char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
}

const char* file_type(mode_t mode) {
    if (S_ISDIR(mode)) return "is a directory, not a regular file";
    if (S_ISFIFO(mode)) return "is a FIFO, not a regular file";
    if (S_ISCHR(mode)) return "is a character device, not a regular file";
    if (S_ISBLK(mode)) return "is a block device, not a regular file";
    if (S_ISSOCK(mode)) return "is a socket, not a regular file";
    return "is not a regular file";
}

[[noreturn]] void refuse(const std::string& path, const char* kind, const std::string& why) {
    throw Error(ErrorCode::Io, path + ": cannot read " + kind + " (" + why + ")");
}

// Why `path` could not be opened: its type when it exists but is no file (a socket fails open with ENXIO).
std::string open_failure(const std::string& path, int err) {
    struct stat st {};
    if (err != ENOENT && err != ELOOP && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        return file_type(st.st_mode);
    }
    if (err == ENOENT) {
        struct stat lst {};
        if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) return "a symbolic link to nothing (dangling)";
        return std::strerror(err);
    }
    return std::strerror(err);
}

// The innermost InputScope of this thread, nullptr without one.
thread_local InputScope* t_scope = nullptr;

FileId id_of(const struct stat& st) {
    return FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

void remember(const FileId& id) {
    if (t_scope) t_scope->add_id(id);
}

std::string too_large_message(const std::string& path, const char* kind, uint64_t size, uint64_t max_bytes) {
    return path + ": " + kind + " too large (" + std::to_string(size) + " bytes, the limit is " +
           std::to_string(max_bytes) + ")";
}

}  // namespace

std::string printable(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const size_t len = utf8_length(text, i);
        if (len == 0) {
            append_hex(out, c);
            ++i;
        } else if (len == 1 && (c < 0x20 || c == 0x7F)) {
            switch (c) {
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case 0x1B: out += "\\e"; break;
                default: append_hex(out, c);
            }
            ++i;
        } else if (len == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0) {
            // C1 controls: U+009B is CSI, an escape sequence without ESC on some terminals.
            append_hex(out, c);
            append_hex(out, static_cast<unsigned char>(text[i + 1]));
            i += 2;
        } else {
            out.append(text, i, len);
            i += len;
        }
    }
    return out;
}

bool is_valid_utf8(const std::string& text) {
    for (size_t i = 0; i < text.size();) {
        const size_t len = utf8_length(text, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

std::string base64(const std::string& bytes) {
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const size_t n = std::min<size_t>(3, bytes.size() - i);
        uint32_t v = 0;
        for (size_t k = 0; k < 3; ++k) {
            v = (v << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
        }
        for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 0x3F] : '=';
    }
    return out;
}

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

ReadableFile open_regular(const std::string& path, const char* kind) {
    if (path.empty()) refuse(path, kind, "empty file name");
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) refuse(path, kind, open_failure(path, errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) refuse(path, kind, std::strerror(errno));
    if (!S_ISREG(st.st_mode)) refuse(path, kind, file_type(st.st_mode));
    ReadableFile file;
    file.fd = std::move(fd);
    file.size = static_cast<uint64_t>(st.st_size);
    return file;
}

namespace {

// read_fd_bounded into a std::vector or a ByteBuffer.
template <class Bytes>
Bytes read_bounded(int fd, const std::string& path, uint64_t max_bytes, const char* kind, ErrorCode too_large) {
    const auto fail_large = [&](uint64_t size) {
        throw Error(too_large, too_large_message(path, kind, size, max_bytes));
    };
    struct stat st {};
    Bytes bytes;
    size_t stated = 0;  // a regular file's size plus one: the read that finds the end fits in the reservation too
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if (static_cast<uint64_t>(st.st_size) > max_bytes) fail_large(static_cast<uint64_t>(st.st_size));
        stated = static_cast<size_t>(st.st_size) + 1;
        bytes.reserve(stated);
    }
    constexpr size_t kChunk = size_t{1} << 16;
    for (;;) {
        const size_t old = bytes.size();
        // The stated size in one read, then fixed chunks (a file that grew, a pipe). Fixed chunks past an exact
        // reservation reallocated at the end, copying a 14 MB weights file once more.
        const size_t want = old < stated ? stated - old : kChunk;
        bytes.resize(old + want);
        const ssize_t got = ::read(fd, bytes.data() + old, want);
        if (got < 0) {
            const int err = errno;
            bytes.resize(old);
            if (err == EINTR) continue;
            throw Error(ErrorCode::Io, path + ": cannot read " + kind + " (" + std::strerror(err) + ")");
        }
        bytes.resize(old + static_cast<size_t>(got));
        if (got == 0) break;
        if (bytes.size() > max_bytes) fail_large(bytes.size());
    }
    return bytes;
}

template <class Bytes>
Bytes read_regular_into(const std::string& path, uint64_t max_bytes, const char* kind, ErrorCode too_large,
                        bool remember_it) {
    ReadableFile file = open_regular(path, kind);
    if (remember_it) {
        struct stat st {};
        if (::fstat(file.fd.get(), &st) == 0) remember(id_of(st));
    }
    return read_bounded<Bytes>(file.fd.get(), path, max_bytes, kind, too_large);
}

constexpr size_t kHugePage = size_t{2} << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

ByteBuffer::ByteBuffer(const uint8_t* data, size_t size) {
    resize(size);
    if (size) std::memcpy(data_, data, size);
}

ByteBuffer::ByteBuffer(ByteBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

ByteBuffer& ByteBuffer::operator=(ByteBuffer&& other) noexcept {
    if (this != &other) {
        if (data_) ::munmap(data_, mapped_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        mapped_ = std::exchange(other.mapped_, 0);
    }
    return *this;
}

ByteBuffer::~ByteBuffer() {
    if (data_) ::munmap(data_, mapped_);
}

void ByteBuffer::reserve(size_t capacity) {
    if (capacity <= mapped_) return;
    // Anonymous pages: zero-filled by the kernel when first touched, so nothing here writes them. A huge page must
    // be aligned to its size, so a large buffer maps one page more than it needs and unmaps the misaligned ends.
    const bool huge = capacity >= kHugePage;
    const size_t length = round_up(capacity, huge ? kHugePage : size_t(::sysconf(_SC_PAGESIZE)));
    const size_t slack = huge ? kHugePage : 0;
    void* mapping = ::mmap(nullptr, length + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) throw std::bad_alloc();
    auto* start = static_cast<uint8_t*>(mapping);
    if (huge) {
        const size_t head = round_up(reinterpret_cast<uintptr_t>(start), kHugePage) - reinterpret_cast<uintptr_t>(start);
        if (head) ::munmap(start, head);
        if (slack - head) ::munmap(start + head + length, slack - head);
        start += head;
        ::madvise(start, length, MADV_HUGEPAGE);  // advice: without THP the pages are simply small
    }
    if (size_) std::memcpy(start, data_, size_);
    if (data_) ::munmap(data_, mapped_);
    data_ = start;
    mapped_ = length;
}

void ByteBuffer::resize(size_t size) {
    if (size > mapped_) reserve(std::max(size, 2 * mapped_));
    size_ = size;
}

std::vector<uint8_t> read_fd_bounded(int fd, const std::string& path, uint64_t max_bytes, const char* kind,
                                     ErrorCode too_large) {
    return read_bounded<std::vector<uint8_t>>(fd, path, max_bytes, kind, too_large);
}

std::vector<uint8_t> read_regular_bytes(const std::string& path, uint64_t max_bytes, const char* kind,
                                        ErrorCode too_large, bool remember_it) {
    return read_regular_into<std::vector<uint8_t>>(path, max_bytes, kind, too_large, remember_it);
}

ByteBuffer read_regular_buffer(const std::string& path, uint64_t max_bytes, const char* kind, ErrorCode too_large,
                               bool remember_it) {
    return read_regular_into<ByteBuffer>(path, max_bytes, kind, too_large, remember_it);
}

std::string read_regular(const std::string& path, uint64_t max_bytes, const char* kind, ErrorCode too_large,
                         bool remember_it) {
    const std::vector<uint8_t> bytes = read_regular_bytes(path, max_bytes, kind, too_large, remember_it);
    return std::string(bytes.begin(), bytes.end());
}

void check_regular(const std::string& path, uint64_t max_bytes, const char* kind, ErrorCode too_large) {
    const ReadableFile file = open_regular(path, kind);
    if (file.size > max_bytes) {
        throw Error(too_large, too_large_message(path, kind, file.size, max_bytes));
    }
    struct stat st {};
    if (::fstat(file.fd.get(), &st) == 0) remember(id_of(st));
}

std::optional<std::string> resolve_inside(const std::string& folder, const std::string& name) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = fs::weakly_canonical(fs::absolute(folder.empty() ? "." : folder), ec);
    // A failure on the folder must not be cleared by the second call (it would compare two empty paths).
    if (ec || dir.empty()) return std::nullopt;
    const fs::path target = fs::weakly_canonical(dir / name, ec);
    if (ec || target.parent_path() != dir) return std::nullopt;
    return target.string();
}

std::optional<FileId> file_id(const std::string& path) {
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0) return std::nullopt;
    return id_of(st);
}

InputScope::InputScope() : outer_(t_scope) { t_scope = this; }

InputScope::~InputScope() {
    t_scope = outer_;
    // What a step read, the operation around it read too.
    if (outer_) {
        for (const FileId& id : files_) {
            if (!outer_->holds(id)) outer_->files_.push_back(id);
        }
    }
}

void InputScope::add(const std::string& path) {
    if (const auto id = file_id(path)) add_id(*id);
}

void InputScope::add_id(const FileId& id) {
    for (const FileId& known : files_) {
        if (known == id) return;
    }
    files_.push_back(id);
}

bool InputScope::holds(const FileId& id) const {
    for (const InputScope* s = this; s; s = s->outer_) {
        for (const FileId& known : s->files_) {
            if (known == id) return true;
        }
    }
    return false;
}

void remember_input(const std::string& path) {
    if (t_scope) t_scope->add(path);
}

void refuse_overwriting_input(const std::string& output, const std::string& flag,
                              const std::vector<std::string>& inputs) {
    const std::optional<FileId> out = file_id(output);
    if (!out) return;  // a file that does not exist yet is nobody's input
    const auto refuse_it = [&](const std::string& input) {
        throw Error(ErrorCode::InvalidArgument, output + " (" + flag + "): is also an input of this run" +
                                                    (input.empty() ? "" : " (" + input + ")") +
                                                    "; refusing to overwrite it");
    };
    if (t_scope && t_scope->holds(*out)) refuse_it("");
    for (const std::string& input : inputs) {
        if (file_id(input) == out) refuse_it(input == output ? "" : input);
    }
}

}  // namespace mnet::io
