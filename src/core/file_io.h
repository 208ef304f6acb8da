// SPDX-License-Identifier: Apache-2.0
// The one place where mnet opens files: every read checks that it reads a regular file and is bounded by a size
// limit for its kind; every write goes to a temporary file renamed into place, and never over a file the process
// reads. Used by the library (models, images), the CLI and the importers in tools/ (docs/robustness.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mnet/error.h"

namespace mnet::io {

// Read limits, per kind of file: far above any real file of the kind, far below what would exhaust memory.
constexpr uint64_t kMaxLabelsBytes = uint64_t{64} << 20;     // label lists, one name per line (ImageNet's: 22 KB)
constexpr uint64_t kMaxCsvBytes = uint64_t{1} << 30;         // eval's file,label lists (10 M rows of ~100 bytes)
constexpr uint64_t kMaxJsonBytes = uint64_t{64} << 20;       // manifests, TF.js model.json, metadata.json
constexpr uint64_t kMaxModelBytes = uint64_t{2} << 30;       // weights.bin, .tflite, .h5 (flatbuffers stop at 2 GiB)
constexpr uint64_t kMaxImageBytes = uint64_t{1} << 30;       // an encoded image (ImageLimits::max_file_bytes)

// `text` with every byte a terminal could act on made visible: control characters as \n, \t, \r, \e or \xNN,
// C1 controls (U+0080-U+009F) and bytes that are not valid UTF-8 as \xNN; valid UTF-8 text unchanged. Every
// message that reaches a terminal or a log goes through it, so a file name cannot split a one-line error or
// send escape sequences.
std::string printable(const std::string& text);

// True when `text` is valid UTF-8 (no overlong forms, no surrogates).
bool is_valid_utf8(const std::string& text);

// RFC 4648 base64 of `bytes`.
std::string base64(const std::string& bytes);

// A file descriptor closed on destruction.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();
    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_ = -1;
};

// A regular file open for reading and its size when opened.
struct ReadableFile {
    Fd fd;
    uint64_t size = 0;
};

// Opens `path` (symbolic links followed) for reading. The open never blocks (O_NONBLOCK: a FIFO does not wait for
// a writer), and what is not a regular file is refused before a byte is read. Throws Error(Io)
// "<path>: cannot read <kind> (<why>)", with <why> "is a directory, not a regular file", "is a FIFO, not a regular
// file", "is a character device, not a regular file", ..., "a symbolic link to nothing (dangling)" or the open's
// errno text. `kind` names what the file is for
// ("image file", "label file", ...).
ReadableFile open_regular(const std::string& path, const char* kind);

// Bytes read from a file, in memory that is not zero-filled first (the read writes every byte) and, from 2 MiB on,
// aligned to and advised for transparent huge pages (the kernel's "madvise" mode): MobileNetV2's 14 MB weights
// file then takes a handful of page faults instead of ~3,400 and no memset. Page-aligned. Move-only.
class ByteBuffer {
public:
    ByteBuffer() = default;
    ByteBuffer(const uint8_t* data, size_t size);  // a copy
    ByteBuffer(ByteBuffer&& other) noexcept;
    ByteBuffer& operator=(ByteBuffer&& other) noexcept;
    ByteBuffer(const ByteBuffer&) = delete;
    ByteBuffer& operator=(const ByteBuffer&) = delete;
    ~ByteBuffer();

    const uint8_t* data() const { return data_; }
    uint8_t* data() { return data_; }
    size_t size() const { return size_; }
    // Room for `capacity` bytes without moving; the size is kept.
    void reserve(size_t capacity);
    // Bytes past the old size are unspecified until written. Throws std::bad_alloc.
    void resize(size_t size);

private:
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
    size_t mapped_ = 0;  // bytes mapped at data_
};

// The whole of regular file `path`, at most `max_bytes` (read to the end, not trusting the size a file had
// when opened). Past the limit: Error(too_large) "<path>: <kind> too large (<size> bytes, the limit is <N>)". Other
// failures as open_regular. When `remember` is set the file is noted as an input of the current operation
// (InputScope).
std::string read_regular(const std::string& path, uint64_t max_bytes, const char* kind,
                         ErrorCode too_large = ErrorCode::Io, bool remember = true);
std::vector<uint8_t> read_regular_bytes(const std::string& path, uint64_t max_bytes, const char* kind,
                                        ErrorCode too_large = ErrorCode::Io, bool remember = true);
// The same into a ByteBuffer, for large files (weights).
ByteBuffer read_regular_buffer(const std::string& path, uint64_t max_bytes, const char* kind,
                               ErrorCode too_large = ErrorCode::Io, bool remember = true);

// Reads at most `max_bytes` of `fd` from its current offset to the end (EINTR retried). Throws Error(Io) naming
// `path`; Error(too_large) past the limit.
std::vector<uint8_t> read_fd_bounded(int fd, const std::string& path, uint64_t max_bytes, const char* kind,
                                     ErrorCode too_large);

// Checks that `path` is a regular file of at most `max_bytes` without reading it, for files a library opens by
// name (HDF5). Throws as read_regular. Notes the file as an input (InputScope).
void check_regular(const std::string& path, uint64_t max_bytes, const char* kind, ErrorCode too_large = ErrorCode::Io);

// `name` (a plain file name, no '/') inside `folder`, symbolic links resolved; nullopt when it resolves outside
// the folder (a link to /etc/passwd or a neighbour's file) or the folder cannot be resolved. The model loader and
// the importers use it for files a model names beside itself.
std::optional<std::string> resolve_inside(const std::string& folder, const std::string& name);

// The device and inode a path names, symbolic links followed; nullopt when it does not exist (or cannot be
// reached).
struct FileId {
    uint64_t dev = 0;
    uint64_t ino = 0;
    bool operator==(const FileId& o) const { return dev == o.dev && ino == o.ino; }
};
std::optional<FileId> file_id(const std::string& path);

// The files one operation reads (a command, a conversion), so that none of its outputs is written over one of
// them. The operation holds one for its duration: while it is alive, the reads this thread makes through io
// (read_regular, check_regular) and remember_input() note their files in it, and refuse_overwriting_input and
// AtomicFile refuse them as outputs. Scopes nest: an inner one (a step of a command) hands what it noted to the
// enclosing one when it ends. Without a scope nothing is remembered between calls, so two operations of one
// process (an embedder converting twice to the same name) do not see each other's files. Not copyable; must be
// destroyed on the thread that made it, innermost first.
class InputScope {
public:
    InputScope();
    ~InputScope();
    InputScope(const InputScope&) = delete;
    InputScope& operator=(const InputScope&) = delete;

    // Notes `path` (its device and inode, links followed; nothing when it does not exist).
    void add(const std::string& path);
    void add_id(const FileId& id);
    // True when `id` is a file noted in this scope or an enclosing one.
    bool holds(const FileId& id) const;

private:
    std::vector<FileId> files_;
    InputScope* outer_;
};

// Notes `path` in this thread's innermost InputScope (nothing without one): a file this operation reads or will
// read.
void remember_input(const std::string& path);

// Throws Error(InvalidArgument) "<output> (<flag>): is also an input of this run (<input>); refusing to overwrite
// it" when `output` names the same file (device and inode, links followed) as one of `inputs` or as a file
// noted in this thread's InputScopes. `flag` is how the user named the output ("-o", "--misclassified", "the
// weights file of -o q.json").
void refuse_overwriting_input(const std::string& output, const std::string& flag,
                              const std::vector<std::string>& inputs = {});

// An output file written in full or not at all: the bytes go to a temporary file beside the target (same
// folder, so the rename is atomic), which commit() renames over it; destroyed uncommitted (an error, a
// signal's unwind), it is removed and the target is untouched. A target that exists and is not a regular file
// (/dev/null, a FIFO, /dev/stdout) is written directly. A symbolic link is followed: the file it points to is
// replaced. The constructor refuses, like refuse_overwriting_input, a target that is one of `inputs` or an input
// of the current operation (InputScope), and commit() checks the latter again: a file read after the output
// was opened (a model loaded after -o was checked) is not replaced either. Throws Error(Io) with the errno text
// when the file cannot be created, written or renamed.
class AtomicFile {
public:
    AtomicFile(const std::string& path, const std::string& flag, const std::vector<std::string>& inputs = {});
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile();

    void write(const void* data, size_t size);
    void write(const std::string& text) { write(text.data(), text.size()); }
    // Flushes, closes and renames into place. Throws Error(Io) naming the target, InvalidArgument when the target
    // has become an input meanwhile (the temporary file is then removed).
    void commit();
    // The descriptor written to (the temporary file's, or the target's when written directly), for a caller
    // that points another descriptor at it (cli::ResultOutput sends stdout there). Owned by this object.
    int fd() const { return fd_.get(); }

private:
    [[noreturn]] void fail(const char* what, int err);

    std::string path_;    // as given, for messages
    std::string flag_;    // how the user named it, for messages
    std::string target_;  // the file replaced (symbolic links resolved)
    std::string temp_;    // empty when writing the target directly
    Fd fd_;
};

// AtomicFile of `bytes` at `path`.
void write_file_atomically(const std::string& path, const std::string& flag, const std::string& bytes);

}  // namespace mnet::io
