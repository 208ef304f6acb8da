// SPDX-License-Identifier: Apache-2.0
// Constants of the model format; models/FORMAT.md is the spec these mirror.
#pragma once

#include <cstdint>

namespace mnet::format {

constexpr const char* kFormatName = "mnet-model";
constexpr int64_t kFormatVersion = 2;        // the manifest version writers write, the newest this reader knows
constexpr int64_t kOldestFormatVersion = 1;  // version 1 (an FNV-1a 64 checksum) is still read

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

// The checksum of the whole weights file (FORMAT.md "Manifest", weights.crc32c): CRC-32C, the Castagnoli
// polynomial 0x1EDC6F41 (bit-reflected 0x82F63B78) of iSCSI (RFC 3720), initial value and final XOR 0xFFFFFFFF.
// Catches truncation, bit flips and bursts up to 32 bits, and x86's SSE4.2 computes it (crc32 instruction).
constexpr uint32_t kCrc32cPolyReflected = 0x82f63b78;

// Format version 1's checksum, weights.fnv1a64: FNV-1a 64-bit. Byte-serial (a multiply per byte: ~15-20 ms over a
// 14 MB file), which is why version 2 replaced it.
constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

}  // namespace mnet::format
