// SPDX-License-Identifier: Apache-2.0
// The weights file's bytes and the checks on its header and checksum.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "model/model_def.h"

namespace mnet {

// The bytes of a weights file, read into memory rather than mapped: a mapped file truncated by someone else
// while mnet runs would crash it with SIGBUS, and reading MobileNet-sized files costs a few milliseconds (into an
// io::ByteBuffer: no zero-fill, huge pages). Page-aligned.
class WeightFile {
public:
    static WeightFile read(const std::string& path);  // throws Io
    static WeightFile from_bytes(const std::vector<uint8_t>& bytes) {
        return WeightFile(io::ByteBuffer(bytes.data(), bytes.size()));
    }

    const uint8_t* data() const { return bytes_.data(); }
    uint64_t size() const { return bytes_.size(); }

private:
    explicit WeightFile(io::ByteBuffer bytes) : bytes_(std::move(bytes)) {}
    io::ByteBuffer bytes_;
};

// CRC-32C of `size` bytes (format.h, kCrc32cPolyReflected): crc32c("123456789") == 0xe3069283. Uses SSE4.2's crc32
// instruction on three interleaved streams where the CPU has it, else crc32c_portable (a byte-wise table).
uint32_t crc32c(const uint8_t* data, uint64_t size);
uint32_t crc32c_portable(const uint8_t* data, uint64_t size);
// FNV-1a 64 (format version 1's checksum).
uint64_t fnv1a64(const uint8_t* data, uint64_t size);

// Throws Error(ModelFormat) "<where>tensor '<name>': element <i> is NaN; weights must be finite" (or infinite)
// for the first of the `nbytes / 4` f32 values at `data` that is not finite. The loader and ModelWriter (every
// importer) both hold weights to it: a NaN runs without complaint and yields confident nonsense.
void check_finite_f32(const uint8_t* data, uint64_t nbytes, const std::string& name, const std::string& where);

// Checks the header, the size and the checksum the manifest states. `where` names the file in errors.
void check_weights_header(const WeightFile& file, uint64_t expected_size, const WeightsChecksum& expected_checksum,
                          const std::string& where);

}  // namespace mnet
