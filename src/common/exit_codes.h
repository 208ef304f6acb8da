// SPDX-License-Identifier: Apache-2.0
// The exit statuses of `mnet`, documented in the README.
#pragma once

#include "mnet/error.h"

namespace mnet::cli {

constexpr int kExitOk = 0;
constexpr int kExitSomeInputsFailed = 1;  // the command ran, but some images could not be processed
constexpr int kExitUsage = 2;             // bad flags or arguments
constexpr int kExitIo = 3;                // a file could not be read or written
constexpr int kExitBadModel = 4;          // the model file is malformed or uses something unsupported
constexpr int kExitBackend = 5;           // oneDNN failed, or an internal error
constexpr int kExitInterrupted = 130;     // SIGINT, as shells report it

inline int exit_code_for(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidArgument: return kExitUsage;
        case ErrorCode::Io: return kExitIo;
        case ErrorCode::ModelFormat:
        case ErrorCode::Unsupported: return kExitBadModel;
        case ErrorCode::Backend:
        case ErrorCode::Internal: return kExitBackend;
    }
    return kExitBackend;
}

}  // namespace mnet::cli
