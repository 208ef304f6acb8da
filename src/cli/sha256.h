// SPDX-License-Identifier: Apache-2.0
// SHA-256 (FIPS 180-4), for the conversion cache's keys: no crypto library is among the dependencies.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mnet::cli {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t size);
    // The digest as 64 lowercase hex digits; the object is spent after this.
    std::string hex();

private:
    void block(const uint8_t* p);
    std::array<uint32_t, 8> h_;
    std::array<uint8_t, 64> buffer_{};
    size_t buffered_ = 0;
    uint64_t length_ = 0;  // bytes
};

}  // namespace mnet::cli
