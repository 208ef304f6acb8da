// SPDX-License-Identifier: Apache-2.0
// Running mnet and mnet-convert with a deadline and a memory measurement, for the hostile-input tests (issue 18).
#pragma once

#include <string>
#include <vector>

namespace mnet::test {

struct Measured {
    int status = -1;          // exit status; 128 + signal when killed by one
    bool timed_out = false;   // still running at the deadline (then killed)
    double seconds = 0.0;     // wall time until it ended
    long max_rss_kb = 0;      // the child's peak resident set (getrusage of the child)
    std::string out;
    std::string err;
};

// The bound of an "ends promptly" check (issue 18: a refusal within 2 s, SIGTERM honoured within 1 s), scaled
// in the AddressSanitizer build, which runs the same work several times slower (the 1,000,000-path TF.js refusal
// took 2.8 s there on a loaded machine). It still tells prompt from hung: a hang runs into the kill deadline.
inline double prompt_bound(double seconds) {
#if defined(__SANITIZE_ADDRESS__)
    return seconds * 4.0;
#else
    return seconds;
#endif
}

// Runs `args` (args[0] a program path) without a shell, stdin from /dev/null, and kills it at `deadline_s`.
Measured run_measured(const std::vector<std::string>& args, double deadline_s);

// A float model (the shared Keras MobileNet V1 0.25, converted once per process) for quantize.
const std::string& float_model();

std::string mnet_path();
std::string convert_path();

// The non-empty lines of stderr.
size_t line_count(const std::string& text);

}  // namespace mnet::test
