// SPDX-License-Identifier: Apache-2.0
#include "model/weight_file.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <nmmintrin.h>

#include "core/file_io.h"
#include "model/format.h"
#include "model/manifest.h"
#include "mnet/error.h"

namespace mnet {

WeightFile WeightFile::read(const std::string& path) {
    return WeightFile(io::read_regular_buffer(path, io::kMaxModelBytes, "weights file", ErrorCode::ModelFormat));
}

namespace {

// The index of the first of `n` f32 values at `data` whose exponent bits are all ones (a NaN or an infinity), or n.
// Counted a block at a time in integer operations, which the compiler vectorizes (std::isfinite per element kept
// the loader's pass over MobileNetV2's 3.5 M weights at 28 M instructions); a block with a hit is searched again.
// Inlined into a baseline and an AVX2 build (eight values a vector instead of four: 6.2 M instructions -> ~2 M).
inline __attribute__((always_inline)) uint64_t first_non_finite(const uint8_t* data, uint64_t n) {
    constexpr uint32_t kExponentBits = 0x7f800000;
    constexpr uint64_t kBlock = 1024;
    for (uint64_t start = 0; start < n; start += kBlock) {
        const uint64_t end = std::min(n, start + kBlock);
        uint32_t hits = 0;
        for (uint64_t i = start; i < end; ++i) {
            uint32_t bits;
            std::memcpy(&bits, data + i * sizeof bits, sizeof bits);
            hits += (bits & kExponentBits) == kExponentBits;
        }
        for (uint64_t i = start; hits != 0 && i < end; ++i) {
            float v;
            std::memcpy(&v, data + i * sizeof v, sizeof v);
            if (!std::isfinite(v)) return i;
        }
    }
    return n;
}

__attribute__((target("avx2"))) uint64_t first_non_finite_avx2(const uint8_t* data, uint64_t n) {
    return first_non_finite(data, n);
}

uint64_t first_non_finite_baseline(const uint8_t* data, uint64_t n) { return first_non_finite(data, n); }

}  // namespace

void check_finite_f32(const uint8_t* data, uint64_t nbytes, const std::string& name, const std::string& where) {
    static const bool avx2 = __builtin_cpu_supports("avx2");
    const uint64_t n = nbytes / sizeof(float), i = (avx2 ? first_non_finite_avx2 : first_non_finite_baseline)(data, n);
    if (i == n) return;
    float v = 0;
    std::memcpy(&v, data + i * sizeof(float), sizeof v);
    throw Error(ErrorCode::ModelFormat, where + "tensor '" + name + "': element " + std::to_string(i) + " is " +
                                            (std::isnan(v) ? "NaN" : "infinite") + "; weights must be finite");
}

namespace {

// CRC-32C in its reflected form: bit 0 of the register is the coefficient of x^31. `raw` functions update the
// register without the initial and final inversion, so that they compose: raw(s, A then B) = shift(raw(s, A),
// |B|) ^ raw(0, B).

// The register after one more byte, for each value of the low byte of register ^ byte.
constexpr std::array<uint32_t, 256> make_crc32c_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t r = i;
        for (int bit = 0; bit < 8; ++bit) r = (r >> 1) ^ (r & 1 ? format::kCrc32cPolyReflected : 0);
        table[i] = r;
    }
    return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

uint32_t crc32c_raw_portable(uint32_t r, const uint8_t* p, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) r = (r >> 8) ^ kCrc32cTable[(r ^ p[i]) & 0xff];
    return r;
}

// a * b modulo the polynomial (both reflected): the register a, advanced by the zero bytes b stands for.
uint32_t multiply_mod_poly(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
        if (a & m) product ^= b;
        b = (b >> 1) ^ (b & 1 ? format::kCrc32cPolyReflected : 0);
    }
    return product;
}

// The hardware loop runs three independent streams over consecutive blocks of this many bytes, to cover the crc32
// instruction's 3-cycle latency (one per cycle issued), and joins them with two multiplications per three blocks.
constexpr uint64_t kStreamBlock = 4096;

// x^(8 * bytes) modulo the polynomial: what advancing a register over `bytes` zero bytes multiplies it by.
constexpr uint32_t zero_bytes_operator(uint64_t bytes) {
    uint32_t r = 1u << 31;  // the polynomial 1
    for (uint64_t i = 0; i < 8 * bytes; ++i) r = (r >> 1) ^ (r & 1 ? format::kCrc32cPolyReflected : 0);
    return r;
}
constexpr uint32_t kSkipBlock = zero_bytes_operator(kStreamBlock);

__attribute__((target("sse4.2"))) uint64_t crc32c_words(uint64_t r, const uint8_t* p, uint64_t words) {
    for (uint64_t i = 0; i < words; ++i) {
        uint64_t word;
        std::memcpy(&word, p + 8 * i, sizeof word);
        r = _mm_crc32_u64(r, word);
    }
    return r;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_raw_sse42(uint32_t r, const uint8_t* p, uint64_t n) {
    constexpr uint64_t kWords = kStreamBlock / 8;
    for (; n >= 3 * kStreamBlock; n -= 3 * kStreamBlock, p += 3 * kStreamBlock) {
        uint64_t a = r, b = 0, c = 0;
        for (uint64_t i = 0; i < kWords; ++i) {  // three chains the CPU overlaps
            uint64_t wa, wb, wc;
            std::memcpy(&wa, p + 8 * i, 8);
            std::memcpy(&wb, p + kStreamBlock + 8 * i, 8);
            std::memcpy(&wc, p + 2 * kStreamBlock + 8 * i, 8);
            a = _mm_crc32_u64(a, wa);
            b = _mm_crc32_u64(b, wb);
            c = _mm_crc32_u64(c, wc);
        }
        const uint32_t ab = multiply_mod_poly(static_cast<uint32_t>(a), kSkipBlock) ^ static_cast<uint32_t>(b);
        r = multiply_mod_poly(ab, kSkipBlock) ^ static_cast<uint32_t>(c);
    }
    r = static_cast<uint32_t>(crc32c_words(r, p, n / 8));
    for (uint64_t i = n / 8 * 8; i < n; ++i) r = _mm_crc32_u8(r, p[i]);
    return r;
}

}  // namespace

uint32_t crc32c_portable(const uint8_t* data, uint64_t size) { return ~crc32c_raw_portable(~0u, data, size); }

uint32_t crc32c(const uint8_t* data, uint64_t size) {
    static const bool sse42 = __builtin_cpu_supports("sse4.2");
    return sse42 ? ~crc32c_raw_sse42(~0u, data, size) : crc32c_portable(data, size);
}

uint64_t fnv1a64(const uint8_t* data, uint64_t size) {
    uint64_t h = format::kFnvOffsetBasis;
    for (uint64_t i = 0; i < size; ++i) {
        h ^= data[i];
        h *= format::kFnvPrime;
    }
    return h;
}

void check_weights_header(const WeightFile& file, uint64_t expected_size, const WeightsChecksum& expected_checksum,
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
    const WeightsChecksum sum{expected_checksum.kind, expected_checksum.kind == ChecksumKind::Crc32c
                                                          ? crc32c(file.data(), file.size())
                                                          : fnv1a64(file.data(), file.size())};
    if (sum.value != expected_checksum.value) {
        throw Error(ErrorCode::ModelFormat, where + ": checksum mismatch (" + checksum_name(sum.kind) + " " +
                                                checksum_hex(sum) + ", the manifest says " +
                                                checksum_hex(expected_checksum) + ")");
    }
}

}  // namespace mnet
