// SPDX-License-Identifier: Apache-2.0
// AtomicFile (core/file_io.h): outputs written in full or not at all.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/file_io.h"

namespace mnet::io {

namespace fs = std::filesystem;

namespace {

std::atomic<unsigned> g_temp_counter{0};

// Hidden (a leading '.'), so a folder walk of `mnet batch` never lists it, and unique per process and call.
std::string temp_name_for(const fs::path& target) {
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    return (dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                   std::to_string(g_temp_counter++)))
        .string();
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path, const std::string& flag, const std::vector<std::string>& inputs)
    : path_(path), flag_(flag), target_(path) {
    if (path.empty()) throw Error(ErrorCode::InvalidArgument, flag + ": an empty file name");
    refuse_overwriting_input(path, flag, inputs);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) fail("cannot write", EISDIR);
        if (S_ISSOCK(st.st_mode)) fail("cannot write (is a socket, not a file)", 0);
        // /dev/null, a FIFO, a terminal, /dev/stdout (a link to a pipe has no canonical path): written in place,
        // through the name as given. O_NONBLOCK makes a FIFO nobody reads an error (ENXIO) rather than a wait
        // forever; the flag is cleared once open.
        fd_ = Fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
        if (fd_.get() < 0) fail(errno == ENXIO ? "cannot write (nothing reads it)" : "cannot open for writing", errno);
        const int flags = ::fcntl(fd_.get(), F_GETFL);
        if (flags >= 0) ::fcntl(fd_.get(), F_SETFL, flags & ~O_NONBLOCK);
        return;
    }
    struct stat lst {};
    if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
        // Replace the file the link points to, as writing through it would, not the link itself.
        std::error_code ec;
        const fs::path resolved = fs::canonical(path, ec);
        if (ec) fail("cannot write through a symbolic link", ec.value());
        target_ = resolved.string();
    }
    for (int attempt = 0; attempt < 100 && fd_.get() < 0; ++attempt) {
        temp_ = temp_name_for(target_);
        // 0666 less the umask, as any new file: mkstemp's 0600 would hide a shared model from its group.
        fd_ = Fd(::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
        if (fd_.get() < 0 && errno != EEXIST) {
            const int err = errno;
            temp_.clear();
            fail("cannot create", err);
        }
    }
    if (fd_.get() < 0) {
        temp_.clear();
        fail("cannot create a temporary file beside it", EEXIST);
    }
}

AtomicFile::~AtomicFile() {
    if (!temp_.empty()) {
        fd_ = Fd();
        ::unlink(temp_.c_str());
    }
}

void AtomicFile::fail(const char* what, int err) {
    std::string message = path_ + ": " + what;
    if (err != 0) message += std::string(" (") + std::strerror(err) + ")";
    throw Error(ErrorCode::Io, message);
}

void AtomicFile::write(const void* data, size_t size) {
    const auto* p = static_cast<const char*>(data);
    size_t done = 0;
    while (done < size) {
        const ssize_t n = ::write(fd_.get(), p + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("cannot write", errno);
        done += static_cast<size_t>(n);
    }
}

void AtomicFile::commit() {
    if (!temp_.empty()) {
        // A file the operation read after this was opened (a model loaded after -o was checked) is still an
        // input: refused now, the temporary file removed by the destructor.
        refuse_overwriting_input(target_, flag_);
    }
    if (temp_.empty()) {
        if (::close(fd_.release()) != 0) fail("cannot write", errno);
        return;
    }
    // Data on disk before the name points at it: a crash leaves the old file or the new one, never a hole.
    if (::fsync(fd_.get()) != 0 && errno != EINVAL) fail("cannot write", errno);
    if (::close(fd_.release()) != 0) fail("cannot write", errno);
    if (::rename(temp_.c_str(), target_.c_str()) != 0) fail("cannot replace", errno);
    temp_.clear();
}

void write_file_atomically(const std::string& path, const std::string& flag, const std::string& bytes) {
    AtomicFile file(path, flag);
    file.write(bytes);
    file.commit();
}

}  // namespace mnet::io
