// SPDX-License-Identifier: Apache-2.0
#include "model/weight_file.h"

#include <cmath>
#include <cstring>

#include "core/file_io.h"
#include "model/format.h"
#include "model/manifest.h"
#include "mnet/error.h"

namespace mnet {

WeightFile WeightFile::read(const std::string& path) {
    return WeightFile(io::read_regular_bytes(path, io::kMaxModelBytes, "weights file", ErrorCode::ModelFormat));
}

void check_finite_f32(const uint8_t* data, uint64_t nbytes, const std::string& name, const std::string& where) {
    for (uint64_t i = 0; i < nbytes / sizeof(float); ++i) {
        float v = 0;
        std::memcpy(&v, data + i * sizeof(float), sizeof v);
        if (!std::isfinite(v)) {
            throw Error(ErrorCode::ModelFormat, where + "tensor '" + name + "': element " + std::to_string(i) + " is " +
                                                    (std::isnan(v) ? "NaN" : "infinite") + "; weights must be finite");
        }
    }
}

uint64_t fnv1a64(const uint8_t* data, uint64_t size) {
    uint64_t h = format::kFnvOffsetBasis;
    for (uint64_t i = 0; i < size; ++i) {
        h ^= data[i];
        h *= format::kFnvPrime;
    }
    return h;
}

void check_weights_header(const WeightFile& file, uint64_t expected_size, uint64_t expected_checksum,
                          const std::string& where) {
    if (file.size() != expected_size) {
        throw Error(ErrorCode::ModelFormat, where + ": size is " + std::to_string(file.size()) +
                                                " bytes, the manifest says " + std::to_string(expected_size) +
                                                " (truncated or wrong file?)");
    }
    if (file.size() < format::kHeaderSize) {
        throw Error(ErrorCode::ModelFormat, where + ": shorter than its " + std::to_string(format::kHeaderSize) +
                                                "-byte header");
    }
    if (std::memcmp(file.data(), format::kWeightsMagic, sizeof format::kWeightsMagic) != 0) {
        std::string shown;
        for (size_t i = 0; i < sizeof format::kWeightsMagic; ++i) {
            char c = static_cast<char>(file.data()[i]);
            shown += (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        throw Error(ErrorCode::ModelFormat,
                    where + ": bad magic '" + shown + "', expected '" + format::kWeightsMagicText + "'");
    }
    uint32_t version = 0, bom = 0;
    std::memcpy(&version, file.data() + format::kVersionOffset, sizeof version);
    std::memcpy(&bom, file.data() + format::kByteOrderMarkOffset, sizeof bom);
    if (bom != format::kByteOrderMark) {
        throw Error(ErrorCode::Unsupported, where + ": byte-order mark does not match this host (mnet model files "
                                                    "are little-endian)");
    }
    if (version != format::kWeightsVersion) {
        throw Error(ErrorCode::Unsupported, where + ": weights version " + std::to_string(version) +
                                                ", this mnet reads version " + std::to_string(format::kWeightsVersion));
    }
    // Reserved for later versions: a reader of this version refuses what it cannot know the meaning of.
    for (size_t i = format::kReservedOffset; i < format::kHeaderSize; ++i) {
        if (file.data()[i] != 0) {
            throw Error(ErrorCode::ModelFormat, where + ": header byte " + std::to_string(i) + " is not zero (bytes " +
                                                    std::to_string(format::kReservedOffset) + "-" +
                                                    std::to_string(format::kHeaderSize - 1) + " are reserved)");
        }
    }
    uint64_t sum = fnv1a64(file.data(), file.size());
    if (sum != expected_checksum) {
        throw Error(ErrorCode::ModelFormat, where + ": checksum mismatch (fnv1a64 " + hex64(sum) +
                                                ", the manifest says " + hex64(expected_checksum) + ")");
    }
}

}  // namespace mnet
