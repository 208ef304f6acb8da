// SPDX-License-Identifier: Apache-2.0
#include "mnet/error.h"

namespace mnet {

const char* error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidArgument: return "invalid argument";
        case ErrorCode::Io: return "I/O error";
        case ErrorCode::ModelFormat: return "bad model file";
        case ErrorCode::Unsupported: return "unsupported";
        case ErrorCode::Backend: return "backend error";
        case ErrorCode::Internal: return "internal error";
    }
    return "unknown error";
}

}  // namespace mnet
