// SPDX-License-Identifier: Apache-2.0
// Decoding TensorProtos: every byte count checked against dims and type before anything is read.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "mnet/error.h"
#include "onnx/onnx_pb.h"
#include "onnx_model.h"

namespace mnet::importer::onnx_import {

namespace {

namespace fs = std::filesystem;

size_t elem_size(int32_t type) {
    switch (type) {
        case kFloat: return 4;
        case kUint8: case kInt8: return 1;
        case kInt32: return 4;
        case kInt64: case kDouble: return 8;
    }
    return 0;
}

[[noreturn]] void bad(const std::string& where, const std::string& what) {
    throw Error(ErrorCode::ModelFormat, where + ": " + what);
}

// Little-endian bytes -> doubles.
std::vector<double> from_bytes(const char* p, size_t count, int32_t type) {
    std::vector<double> out(count);
    for (size_t i = 0; i < count; ++i) {
        switch (type) {
            case kFloat: { float v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
            case kUint8: out[i] = static_cast<uint8_t>(p[i]); break;
            case kInt8: out[i] = static_cast<int8_t>(p[i]); break;
            case kInt32: { int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
            case kInt64: { int64_t v; std::memcpy(&v, p + 8 * i, 8); out[i] = static_cast<double>(v); break; }
            case kDouble: std::memcpy(&out[i], p + 8 * i, 8); break;
        }
    }
    return out;
}

// The bytes of an external-data tensor: `location` relative to `dir`, inside it after resolving symlinks, a
// regular file, the range [offset, offset + length) inside the file and exactly `nbytes` long.
std::string external_bytes(const onnx::TensorProto& t, const std::string& dir, const std::string& where,
                           uint64_t nbytes) {
    std::string location;
    uint64_t offset = 0, length = nbytes;
    for (const auto& kv : t.external_data()) {
        try {
            if (kv.key() == "location") location = kv.value();
            else if (kv.key() == "offset") offset = std::stoull(kv.value());
            else if (kv.key() == "length") length = std::stoull(kv.value());
        } catch (const std::exception&) {
            bad(where, "external data " + kv.key() + " '" + kv.value() + "' is not a number");
        }
    }
    const fs::path rel(location);
    if (location.empty() || rel.is_absolute() || location.find('\0') != std::string::npos) {
        bad(where, "external data location '" + location + "' is not a relative file name");
    }
    std::error_code ec;
    const fs::path base = fs::weakly_canonical(fs::absolute(dir.empty() ? "." : dir), ec);
    const fs::path file = fs::weakly_canonical(base / rel, ec);
    const auto [end, unused] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
    (void)unused;
    if (ec || end != base.end()) {
        throw Error(ErrorCode::Unsupported,
                    where + ": external data '" + location + "' lies outside the model's folder");
    }
    if (!fs::is_regular_file(file, ec)) bad(where, "external data '" + location + "' is not a regular file");
    const uint64_t size = fs::file_size(file, ec);
    if (ec || size > kMaxExternalBytes) bad(where, "external data '" + location + "' cannot be read or is too large");
    if (length != nbytes || offset > size || size - offset < length) {
        bad(where, "external data '" + location + "' range [" + std::to_string(offset) + ", +" +
                       std::to_string(length) + ") does not hold the " + std::to_string(nbytes) +
                       " bytes of the tensor (file size " + std::to_string(size) + ")");
    }
    std::ifstream in(file, std::ios::binary);
    std::string bytes(nbytes, '\0');
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(bytes.data(), static_cast<std::streamsize>(nbytes));
    if (!in) bad(where, "external data '" + location + "' could not be read");
    return bytes;
}

template <typename Field>
std::vector<double> typed_values(const Field& field, size_t count, const std::string& where) {
    if (static_cast<size_t>(field.size()) != count) {
        bad(where, std::to_string(field.size()) + " values for " + std::to_string(count) + " elements");
    }
    return std::vector<double>(field.begin(), field.end());
}

}  // namespace

const char* elem_type_name(int32_t type) {
    switch (type) {
        case kFloat: return "float";
        case kUint8: return "uint8";
        case kInt8: return "int8";
        case kInt32: return "int32";
        case kInt64: return "int64";
        case kDouble: return "double";
        case 10: return "float16";
        case 16: return "bfloat16";
        case 9: return "bool";
    }
    return "an unknown type";
}

ConstTensor decode_tensor(const onnx::TensorProto& t, const std::string& dir, const std::string& given_where) {
    const std::string where = given_where + ": tensor '" + t.name() + "'";
    ConstTensor c;
    c.type = t.data_type();
    const size_t esize = elem_size(c.type);
    if (esize == 0) {
        throw Error(ErrorCode::Unsupported, where + ": element type " + elem_type_name(c.type) + " (" +
                                                std::to_string(c.type) + ") is not supported");
    }
    int64_t count = 1;
    for (int64_t d : t.dims()) {
        if (d < 0 || (d > 0 && count > kMaxTensorElements / d)) bad(where, "dimension " + std::to_string(d) + " is negative or too large");
        count *= d;
        c.dims.push_back(d);
    }
    if (t.has_segment()) throw Error(ErrorCode::Unsupported, where + ": segmented tensors are not supported");
    const size_t n = static_cast<size_t>(count);
    const uint64_t nbytes = uint64_t{n} * esize;
    if (t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
        const std::string bytes = external_bytes(t, dir, where, nbytes);
        c.values = from_bytes(bytes.data(), n, c.type);
    } else if (t.has_raw_data()) {
        if (t.raw_data().size() != nbytes) {
            bad(where, "raw_data holds " + std::to_string(t.raw_data().size()) + " bytes, its shape and type need " +
                           std::to_string(nbytes));
        }
        c.values = from_bytes(t.raw_data().data(), n, c.type);
    } else if (c.type == kFloat) {
        c.values = typed_values(t.float_data(), n, where);
    } else if (c.type == kInt64) {
        c.values = typed_values(t.int64_data(), n, where);
    } else if (c.type == kDouble) {
        c.values = typed_values(t.double_data(), n, where);
    } else {
        c.values = typed_values(t.int32_data(), n, where);
        const double lo = c.type == kInt8 ? -128 : c.type == kUint8 ? 0 : INT32_MIN;
        const double hi = c.type == kInt8 ? 127 : c.type == kUint8 ? 255 : INT32_MAX;
        for (double v : c.values) {
            if (v < lo || v > hi) bad(where, "value " + std::to_string(v) + " outside its " + elem_type_name(c.type) + " range");
        }
    }
    return c;
}

}  // namespace mnet::importer::onnx_import
