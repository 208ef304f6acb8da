// SPDX-License-Identifier: Apache-2.0
#include "cli/convert_child.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/exit_codes.h"
#include "cli/model_source.h"
#include "mnet/error.h"

extern char** environ;

namespace mnet::cli {

namespace {

constexpr size_t kMaxMessageBytes = 1 << 16;

ErrorCode code_for_status(int status) {
    switch (status) {
        case kExitUsage:
            return ErrorCode::InvalidArgument;
        case kExitIo:
            return ErrorCode::Io;
        case kExitBadModel:
            return ErrorCode::ModelFormat;
        case kExitBackend:
            return ErrorCode::Backend;
        default:
            return ErrorCode::Internal;
    }
}

// The converter's last non-empty stderr line, without its "mnet-convert: error: " prefix.
std::string last_message(const std::string& text) {
    size_t end = text.find_last_not_of("\n ");
    if (end == std::string::npos) return "";
    const size_t begin = text.rfind('\n', end);
    std::string line =
        text.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - (begin == std::string::npos ? 0 : begin + 1));
    const std::string prefix = "mnet-convert: error: ";
    return line.rfind(prefix, 0) == 0 ? line.substr(prefix.size()) : line;
}

}  // namespace

void run_converter(const std::string& source, const std::vector<std::string>& args) {
    const std::string converter = (exe_dir() / "mnet-convert").string();
    if (access(converter.c_str(), X_OK) != 0) {
        throw Error(ErrorCode::Io, source + ": cannot convert it: " + converter +
                                       " is missing (it is built and "
                                       "installed beside mnet)");
    }
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw Error(ErrorCode::Io, std::string("pipe: ") + std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(converter.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, converter.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    std::string message;
    char buf[4096];
    for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        if (message.size() < kMaxMessageBytes) message.append(buf, static_cast<size_t>(n));
    }
    close(pipe_fds[0]);
    if (spawned != 0) throw Error(ErrorCode::Io, converter + ": cannot run (" + std::strerror(spawned) + ")");
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const std::string why = last_message(message);
    throw Error(code_for_status(code),
                "cannot convert " + source + ": " +
                    (why.empty() ? "mnet-convert ended with status " + std::to_string(code) : why));
}

}  // namespace mnet::cli
