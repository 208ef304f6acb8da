// SPDX-License-Identifier: Apache-2.0
// Constants of the model format; models/FORMAT.md is the spec these mirror.
#pragma once

#include <cstdint>

namespace mnet::format {

constexpr const char* kFormatName = "mnet-model";
constexpr int64_t kFormatVersion = 1;  // the only manifest version this reader knows

// Weights file header (FORMAT.md "Weights file"): the magic at byte 0, then the fields at these offsets.
constexpr char kWeightsMagic[8] = {'M', 'N', 'E', 'T', 'W', 'G', 'T', '1'};
constexpr const char* kWeightsMagicText = "MNETWGT1";  // kWeightsMagic as a string, for messages
constexpr uint32_t kWeightsVersion = 1;
constexpr uint32_t kByteOrderMark = 0x01020304;  // reads as 0x04030201 on a big-endian host
constexpr uint64_t kVersionOffset = 8;           // uint32 kWeightsVersion
constexpr uint64_t kByteOrderMarkOffset = 12;    // uint32 kByteOrderMark
constexpr uint64_t kReservedOffset = 16;         // zero up to kHeaderSize
constexpr uint64_t kHeaderSize = 64;
constexpr uint64_t kDefaultAlignment = 64;  // a cache line and an AVX-512 vector
constexpr uint64_t kMinAlignment = 16;

constexpr int kMaxRank = 4;

// FNV-1a 64-bit, over the whole weights file: cheap, dependency-free, and catches truncation and bit flips.
constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

}  // namespace mnet::format
