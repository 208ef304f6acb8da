// SPDX-License-Identifier: Apache-2.0
// Whether a bf16 Session should run on this machine, decided without the engine: the CPU's own flags
// (/proc/cpuinfo: avx512_bf16 or amx_bf16) and the instruction-set cap a test may set for oneDNN
// (ONEDNN_MAX_CPU_ISA, or its older name DNNL_MAX_CPU_ISA). bf16 tests assert a working bf16 session where this
// says yes and the engine's refusal where it says no, so that no machine skips them.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace mnet::test {

inline bool cpu_flag(const std::string& flag) {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        for (std::string w; words >> w;) {
            if (w == flag) return true;
        }
        return false;  // every CPU lists the same flags; the first line says it
    }
    return false;
}

inline bool expect_bf16() {
    for (const char* name : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {
        const char* cap = std::getenv(name);
        if (!cap) continue;
        const std::string c = cap;
        if (c != "ALL" && c != "AVX512_CORE_BF16" && c != "AVX512_CORE_AMX") return false;
    }
    return cpu_flag("avx512_bf16") || cpu_flag("amx_bf16");
}

}  // namespace mnet::test
