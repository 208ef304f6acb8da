// SPDX-License-Identifier: Apache-2.0
// mnet: the one exception type the library throws.
#pragma once

#include <stdexcept>
#include <string>

namespace mnet {

// What went wrong, for programs; the message is for people. The CLI maps each code to an exit status.
enum class ErrorCode {
    InvalidArgument,  // a bad argument from the caller (flag, shape, batch size)
    Io,               // a file could not be opened, read, written or decoded
    ModelFormat,      // a model file is malformed or inconsistent
    Unsupported,      // well-formed, but uses something mnet does not implement
    Backend,          // oneDNN refused or failed
    Internal,         // a bug in mnet
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const { return code_; }

private:
    ErrorCode code_;
};

}  // namespace mnet
