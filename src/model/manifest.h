// SPDX-License-Identifier: Apache-2.0
// The manifest's JSON mapping (models/FORMAT.md "Manifest"): structure and types only. Ranges, bounds and the
// graph are checked by the loader and the graph builder.
#pragma once

#include <string>

#include "model/model_def.h"

namespace mnet {

// Parses a manifest. `where` names it in errors. Throws ModelFormat (bad JSON, wrong type, missing or unknown
// key) or Unsupported (a format version other than 1 and 2).
ModelDef parse_manifest(const std::string& json_text, const std::string& where);

// The manifest for `def`, pretty-printed.
std::string serialize_manifest(const ModelDef& def);

std::string hex64(uint64_t value);  // 16 lowercase hex digits

// The manifest's name of a checksum ("crc32c", "fnv1a64") and its value as written there: 8 or 16 lowercase hex
// digits.
const char* checksum_name(ChecksumKind kind);
std::string checksum_hex(const WeightsChecksum& sum);

}  // namespace mnet
