// SPDX-License-Identifier: Apache-2.0
// The validated, plain-struct form of a model manifest (models/FORMAT.md). Parsing produces it, the writer
// consumes it, the graph is built from it; nothing here knows about JSON or oneDNN.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mnet/model.h"

namespace mnet {

enum class DType { F32, S32, S8, U8 };

const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);
std::optional<DType> dtype_from_name(const std::string& name);

// The integers an 8-bit tensor holds.
struct QuantRange {
    int32_t lo, hi;
};
constexpr QuantRange kU8Range{0, 255};
constexpr QuantRange kS8Range{-128, 127};
// u8's or s8's range; nullopt for the other types.
std::optional<QuantRange> quant_range(DType dtype);

// Quantization parameters as the source model had them (FORMAT.md "quantization"). Real = (q - zero_point) * scale.
struct QuantParams {
    DType dtype = DType::U8;          // the integer type the source stored
    std::vector<double> scale;        // one per tensor, or one per channel along `axis`
    std::vector<int64_t> zero_point;  // same length as scale
    int64_t axis = -1;                // channel axis for per-channel parameters, -1 for per-tensor
};

// How a manifest protects its weights file (FORMAT.md "Manifest"): format version 2 states a CRC-32C of the whole
// file, version 1 an FNV-1a 64. Readers check either; writers write version 2.
enum class ChecksumKind { Crc32c, Fnv1a64 };
struct WeightsChecksum {
    ChecksumKind kind = ChecksumKind::Crc32c;
    uint64_t value = 0;  // a CRC-32C in the low 32 bits
};

struct TensorDef {
    std::string name;
    DType dtype = DType::F32;
    Shape shape;
    uint64_t offset = 0;  // bytes from the start of the weights file
    uint64_t nbytes = 0;
    std::optional<QuantParams> quant;
};

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;

struct NodeDef {
    std::string name;
    std::string op;
    std::vector<std::string> inputs;             // activation tensors, in op order
    std::string output;                          // the activation tensor it produces
    std::map<std::string, AttrValue> attrs;
    std::map<std::string, std::string> weights;  // role ("weights", "bias", ...) -> tensor name
    std::optional<QuantParams> dst_quant;        // the output's quantization in the source model
};

struct InputDef {
    std::string name;
    Shape shape;  // {1, C, H, W}
    std::optional<QuantParams> quant;
};

struct OutputDef {
    std::string name;
    OutputKind kind = OutputKind::Probabilities;
};

struct ModelDef {
    std::string name;
    std::string source;  // provenance, free text
    InputDef input;
    std::vector<OutputDef> outputs;
    Preprocess preprocess;
    std::vector<std::string> labels;
    bool background_class = false;  // labels[0] is a "background" class that is not a real category
    std::string weights_file;       // file name, in the manifest's folder
    uint64_t weights_size = 0;
    WeightsChecksum weights_checksum;  // of the whole weights file
    uint64_t alignment = 64;
    std::vector<TensorDef> tensors;
    std::vector<NodeDef> nodes;     // in topological order
};

// Typed attribute access for ops: the error names the node and the attribute.
int64_t attr_int(const NodeDef& node, const std::string& key, std::optional<int64_t> fallback = std::nullopt);
std::string attr_string(const NodeDef& node, const std::string& key,
                        std::optional<std::string> fallback = std::nullopt);
std::vector<int64_t> attr_ints(const NodeDef& node, const std::string& key, size_t expected_size,
                               std::optional<std::vector<int64_t>> fallback = std::nullopt);

}  // namespace mnet
