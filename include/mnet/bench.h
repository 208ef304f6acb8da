// SPDX-License-Identifier: Apache-2.0
// mnet: yardsticks for benchmark reports (`mnet bench`, `mnet profile`): the machine's measured peak and the
// instruction set oneDNN uses. Not needed to run a model.
#pragma once

#include <string>

namespace mnet {

// The machine's measured fp32 peak in GFLOP/s: a large 1x1 convolution (oneDNN's most efficient kernel) timed
// for about `seconds` with `threads` threads (0 = all). A yardstick for benchmark reports, not a promise.
// Leaves the calling thread's OpenMP thread count as it found it.
double measure_fp32_peak_gflops(int threads, double seconds = 0.5);

// The same for int8: the convolution on u8 activations and s8 weights, in GOP/s (two per multiply-accumulate).
double measure_int8_peak_gops(int threads, double seconds = 0.5);

// The same in bf16 (bf16 activations and weights, GFLOP/s); 0 on a CPU where oneDNN has no native bf16
// (Precision::Bf16 is refused there).
double measure_bf16_peak_gflops(int threads, double seconds = 0.5);

// The instruction set oneDNN dispatches to on this machine, e.g. "avx2" or "avx512_core".
std::string cpu_isa();

}  // namespace mnet
