// SPDX-License-Identifier: Apache-2.0
// The exit statuses of `mnet` and `mnet-convert`: one rule for every subcommand, documented once in the README
// and in `mnet --help` (kExitStatusHelp).
#pragma once

#include "mnet/error.h"

namespace mnet::cli {

constexpr int kExitOk = 0;                // also when the reader of standard output stops early (`| head -1`)
constexpr int kExitSomeInputsFailed = 1;  // an input image is missing, unreadable or not an image; the others ran
constexpr int kExitUsage = 2;             // bad flags or arguments
constexpr int kExitIo = 3;                // another file (model, list, labels, output) could not be read or written
constexpr int kExitBadModel = 4;          // the model is malformed or unsupported; or bf16 on a CPU without it
constexpr int kExitBackend = 5;           // oneDNN failed, or an internal error
constexpr int kExitInterrupted = 130;     // SIGINT, as shells report it

// The rule above in words, for `mnet --help` (the README has the same table).
constexpr const char* kExitStatusHelp =
    "Exit status (every subcommand): 0 done; 1 some input images were missing, unreadable or not images (the "
    "others were processed and reported); 2 usage error (flag, argument, subcommand); 3 another file (model, list, "
    "labels, output) could not be read or written; 4 the model is malformed or unsupported (or the CPU cannot run "
    "--precision bf16); 5 backend or internal error; 130/143 stopped by SIGINT/SIGTERM (the results written are "
    "complete). A reader that closes the output early (| head -1) ends the run quietly with 0.";

// An input image that cannot be used where the command has nothing else to run on (profile's IMAGE, quantize's
// calibration set): status 1 like a failed image in classify or batch, not the 3 of its Io code.
class InputImageError : public Error {
public:
    explicit InputImageError(const std::string& message) : Error(ErrorCode::Io, message) {}
};

// Standard output was closed by its reader (EPIPE): the run ends quietly with status 0.
struct OutputClosed {};

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
