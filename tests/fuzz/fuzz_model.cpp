// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the model loader (models/FORMAT.md), from the manifest's JSON and the weights file's bytes to a
// validated graph. It stops there: building a Session lowers the graph through oneDNN, which is slow and is not
// what reads untrusted bytes.
// Input: the manifest text, a NUL byte, then the weights file (fuzz_support.h).
// Every input must end in a loaded model or an mnet::Error; any other exception escapes and aborts the run.
#include "fuzz_support.h"
#include "mnet/error.h"
#include "graph/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::vector<std::string> parts = mnet::fuzz::split_parts(data, size, 2);
    try {
        mnet::load_model_from_memory(parts[0], std::vector<uint8_t>(parts[1].begin(), parts[1].end()), "fuzz.json");
    } catch (const mnet::Error&) {
        // A clean rejection.
    }
    return 0;
}
