// SPDX-License-Identifier: Apache-2.0
// What the fuzz targets share: splitting one fuzz input into the several files a format needs, and a per-process
// scratch folder for the importers that only read from paths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mnet::fuzz {

// The separator between the parts of a multi-file input. JSON text cannot hold a raw NUL (RFC 8259 section 7:
// control characters must be escaped), so the first NULs always end the JSON parts; the last part is binary.
constexpr uint8_t kPartSeparator = 0;

// Splits data[0, size) at the first `count - 1` separators into `count` parts; missing parts are empty.
std::vector<std::string> split_parts(const uint8_t* data, size_t size, size_t count);

// Joins parts with kPartSeparator: the inverse of split_parts, for building seeds.
std::string join_parts(const std::vector<std::string>& parts);

// A scratch folder private to this process (fuzzers may run several processes at once), removed at exit.
const std::string& scratch_dir();

// Writes `bytes` to `path`, replacing it; aborts when it cannot, which is a broken machine, not a finding.
void write_scratch_file(const std::string& path, const std::string& bytes);

}  // namespace mnet::fuzz
