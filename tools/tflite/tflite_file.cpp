// SPDX-License-Identifier: Apache-2.0
#include "tflite_file.h"

#include <cmath>
#include <cstring>
#include <set>

#include "core/checked.h"

namespace mnet::importer {

namespace {

// The schema version this reader knows (TFLite's "Version 3": buffers live in Model.buffers).
constexpr uint32_t kSchemaVersion = 3;
// Offsets 0 and 1 in Buffer.offset mean "not external" (upstream schema comment).
constexpr uint64_t kMinExternalOffset = 2;

size_t type_size(::tflite::TensorType type) {
    switch (type) {
        case ::tflite::TensorType_FLOAT32: return 4;
        case ::tflite::TensorType_FLOAT16: return 2;
        case ::tflite::TensorType_INT32: return 4;
        case ::tflite::TensorType_UINT8: return 1;
        case ::tflite::TensorType_INT64: return 8;
        case ::tflite::TensorType_BOOL: return 1;
        case ::tflite::TensorType_INT16: return 2;
        case ::tflite::TensorType_INT8: return 1;
        case ::tflite::TensorType_FLOAT64: return 8;
        case ::tflite::TensorType_UINT64: return 8;
        case ::tflite::TensorType_UINT32: return 4;
        case ::tflite::TensorType_UINT16: return 2;
        default: return 0;  // strings, complex, resources, int4: not fixed-size bytes we read
    }
}

// The quantized types our format can describe, with their integer range; false for others
// (e.g. int16 activations), whose quantization is checked but not kept.
bool quant_range(::tflite::TensorType type, DType& dtype, int64_t& qmin, int64_t& qmax) {
    switch (type) {
        case ::tflite::TensorType_UINT8: dtype = DType::U8; qmin = 0; qmax = 255; return true;
        case ::tflite::TensorType_INT8: dtype = DType::S8; qmin = -128; qmax = 127; return true;
        case ::tflite::TensorType_INT32: dtype = DType::S32; qmin = INT32_MIN; qmax = INT32_MAX; return true;
        default: return false;
    }
}

// Keeps valid UTF-8 and replaces control characters and invalid bytes with '?', so names survive JSON.
std::string sanitize(const char* s, size_t n) {
    std::string out;
    out.reserve(n);
    for (size_t i = 0; i < n;) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = len > 0 && i + len <= n && (len > 1 || c >= 0x20) && c != 0x7F;
        for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok) {
            out.append(s + i, len);
            i += len;
        } else {
            out += '?';
            ++i;
        }
    }
    return out;
}

float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1Fu;
    const uint32_t mantissa = h & 0x3FFu;
    float magnitude;
    if (exponent == 0) {
        magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // subnormal
    } else if (exponent == 0x1F) {
        magnitude = mantissa ? std::nanf("") : INFINITY;
    } else {
        magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
    }
    uint32_t bits;
    std::memcpy(&bits, &magnitude, sizeof bits);
    bits |= sign;
    float out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
}

template <typename T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);  // file data is little-endian and only byte-aligned
    return v;
}

}  // namespace

const char* tensor_type_name(::tflite::TensorType type) {
    const char* name = ::tflite::EnumNameTensorType(type);
    return (name && *name) ? name : "unknown type";
}

int64_t numel(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

TfliteFile::TfliteFile(std::string path, std::vector<uint8_t> bytes)
    : path_(std::move(path)), bytes_(std::move(bytes)) {
    if (bytes_.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
        fail(ErrorCode::Unsupported, "file is " + std::to_string(bytes_.size()) + " bytes; flatbuffers stop at 2 GiB");
    }
    if (bytes_.size() < 8 || !::tflite::ModelBufferHasIdentifier(bytes_.data())) {
        fail(ErrorCode::ModelFormat, "not a TFLite model (no \"TFL3\" file identifier at byte 4)");
    }
    flatbuffers::Verifier verifier(bytes_.data(), bytes_.size());
    if (!::tflite::VerifyModelBuffer(verifier)) {
        fail(ErrorCode::ModelFormat, "the TFLite flatbuffer does not verify (truncated or corrupt file)");
    }
    model_ = ::tflite::GetModel(bytes_.data());
    if (model_->version() != kSchemaVersion) {
        fail(ErrorCode::Unsupported, "TFLite schema version " + std::to_string(model_->version()) + ", expected " +
                                         std::to_string(kSchemaVersion));
    }
    if (!model_->subgraphs() || model_->subgraphs()->size() == 0) fail(ErrorCode::ModelFormat, "no subgraph");
    if (!model_->operator_codes()) fail(ErrorCode::ModelFormat, "no operator_codes");
    if (!model_->buffers() || model_->buffers()->size() == 0) fail(ErrorCode::ModelFormat, "no buffers");
    subgraph_ = model_->subgraphs()->Get(0);
    if (!subgraph_->tensors() || !subgraph_->inputs() || !subgraph_->outputs() || !subgraph_->operators()) {
        fail(ErrorCode::ModelFormat, "subgraph 0 lacks tensors, inputs, outputs or operators");
    }
    check_tensors(*model_);
    check_operators();
}

std::string TfliteFile::description() const {
    const auto* d = model_->description();
    return d ? sanitize(d->c_str(), d->size()) : std::string();
}

void TfliteFile::check_tensors(const ::tflite::Model& model) {
    const auto& fb_tensors = *subgraph_->tensors();
    std::set<std::string> names;
    for (uint32_t i = 0; i < fb_tensors.size(); ++i) {
        const ::tflite::Tensor& t = *fb_tensors.Get(i);
        TfliteTensor out;
        const std::string where = "tensor " + std::to_string(i);
        out.name = t.name() && t.name()->size() ? sanitize(t.name()->c_str(), t.name()->size()) : where;
        if (!names.insert(out.name).second) out.name += "#" + std::to_string(i);
        names.insert(out.name);
        const std::string label = where + " '" + out.name + "'";
        out.type = t.type();
        const uint64_t count = check_shape(t, label, out);
        if (t.is_variable()) fail(ErrorCode::Unsupported, label + ": variable tensors are not supported");
        if (t.sparsity()) fail(ErrorCode::Unsupported, label + ": sparse tensors are not supported");
        check_data(model, t, label, count, out);
        check_quantization(t, label, out);
        tensors_.push_back(std::move(out));
    }
    check_graph_io();
}

uint64_t TfliteFile::check_shape(const ::tflite::Tensor& t, const std::string& label, TfliteTensor& out) const {
    uint64_t count = 1;
    if (t.shape()) {
        for (int32_t d : *t.shape()) {
            if (d < 0) fail(ErrorCode::ModelFormat, label + ": negative dimension " + std::to_string(d));
            auto c = checked_mul(count, static_cast<uint64_t>(d));
            if (!c || *c > (uint64_t{1} << 40)) fail(ErrorCode::ModelFormat, label + ": shape too large");
            count = *c;
            out.shape.push_back(d);
        }
    }
    return count;
}

void TfliteFile::check_data(const ::tflite::Model& model, const ::tflite::Tensor& t, const std::string& label,
                            uint64_t count, TfliteTensor& out) const {
    const auto& buffers = *model.buffers();
    if (t.buffer() >= buffers.size()) {
        fail(ErrorCode::ModelFormat, label + ": buffer index " + std::to_string(t.buffer()) + " out of range (" +
                                         std::to_string(buffers.size()) + " buffers)");
    }
    const ::tflite::Buffer& buf = *buffers.Get(t.buffer());
    if (buf.offset() >= kMinExternalOffset) {
        auto end = checked_add(buf.offset(), buf.size());
        if (!end || *end > bytes_.size()) {
            fail(ErrorCode::ModelFormat, label + ": external buffer [" + std::to_string(buf.offset()) + ", +" +
                                             std::to_string(buf.size()) + ") is past the end of the file");
        }
        if (buf.size() > 0) out.data = bytes_.data() + buf.offset();
        out.nbytes = buf.size();
    } else if (buf.data() && buf.data()->size() > 0) {
        out.data = buf.data()->data();
        out.nbytes = buf.data()->size();
    }
    const size_t elem = type_size(out.type);
    if (out.data && elem > 0) {
        auto expected = checked_mul(count, static_cast<uint64_t>(elem));
        if (!expected || *expected != out.nbytes) {
            fail(ErrorCode::ModelFormat, label + ": buffer holds " + std::to_string(out.nbytes) +
                                             " bytes, shape × " + tensor_type_name(out.type) + " needs " +
                                             std::to_string(count * elem));
        }
    }
}

void TfliteFile::check_quantization(const ::tflite::Tensor& t, const std::string& label, TfliteTensor& out) const {
    const auto* q = t.quantization();
    if (q && q->details_type() != ::tflite::QuantizationDetails_NONE) {
        fail(ErrorCode::Unsupported, label + ": custom quantization is not supported");
    }
    if (!q || !q->scale() || q->scale()->size() == 0) return;
    const uint32_t n = q->scale()->size();
    if (!q->zero_point() || q->zero_point()->size() != n) {
        fail(ErrorCode::ModelFormat, label + ": " + std::to_string(n) + " quantization scales but " +
                                         std::to_string(q->zero_point() ? q->zero_point()->size() : 0) +
                                         " zero points");
    }
    QuantParams qp;
    int64_t qmin = 0, qmax = 0;
    const bool keep = quant_range(out.type, qp.dtype, qmin, qmax);
    for (uint32_t k = 0; k < n; ++k) {
        const float s = q->scale()->Get(k);
        // memcpy: the Verifier checks a vector's 4-byte length prefix, not 8-byte alignment of int64s.
        const int64_t zp = load<int64_t>(q->zero_point()->Data() + k * sizeof(int64_t));
        if (!std::isfinite(s)) fail(ErrorCode::ModelFormat, label + ": non-finite quantization scale");
        if (keep && (zp < qmin || zp > qmax)) {
            fail(ErrorCode::ModelFormat, label + ": zero point " + std::to_string(zp) + " outside the range of " +
                                             tensor_type_name(out.type));
        }
        qp.scale.push_back(static_cast<double>(s));
        qp.zero_point.push_back(zp);
    }
    if (n > 1) {
        const int32_t axis = q->quantized_dimension();
        if (axis < 0 || static_cast<size_t>(axis) >= out.shape.size() ||
            out.shape[static_cast<size_t>(axis)] != static_cast<int64_t>(n)) {
            fail(ErrorCode::ModelFormat, label + ": " + std::to_string(n) +
                                             " per-channel scales do not match quantized_dimension " +
                                             std::to_string(axis) + " of the shape");
        }
        out.quant_axis_file = axis;
    }
    qp.axis = -1;  // set by the importer in its own layout
    if (keep) out.quant = qp;
}

void TfliteFile::check_graph_io() {
    auto check_list = [&](const flatbuffers::Vector<int32_t>& list, const char* what, std::vector<int32_t>& dst) {
        for (int32_t idx : list) {
            if (idx < 0 || static_cast<size_t>(idx) >= tensors_.size()) {
                fail(ErrorCode::ModelFormat, std::string("subgraph ") + what + " names tensor " + std::to_string(idx) +
                                                 " of " + std::to_string(tensors_.size()));
            }
            dst.push_back(idx);
        }
    };
    check_list(*subgraph_->inputs(), "input", inputs_);
    check_list(*subgraph_->outputs(), "output", outputs_);
}

void TfliteFile::check_operators() {
    const auto& codes = *model_->operator_codes();
    const auto n_tensors = static_cast<int64_t>(tensors_.size());
    for (uint32_t i = 0; i < subgraph_->operators()->size(); ++i) {
        const ::tflite::Operator& op = *subgraph_->operators()->Get(i);
        const std::string where = "operator " + std::to_string(i);
        if (op.opcode_index() >= codes.size()) {
            fail(ErrorCode::ModelFormat, where + ": opcode_index " + std::to_string(op.opcode_index()) + " of " +
                                             std::to_string(codes.size()) + " operator codes");
        }
        if (!op.outputs() || op.outputs()->size() == 0) fail(ErrorCode::ModelFormat, where + ": no outputs");
        for (int32_t idx : *op.outputs()) {
            if (idx < 0 || idx >= n_tensors) {
                fail(ErrorCode::ModelFormat, where + ": output tensor index " + std::to_string(idx) + " out of range");
            }
        }
        if (op.inputs()) {
            for (int32_t idx : *op.inputs()) {
                if (idx < -1 || idx >= n_tensors) {
                    fail(ErrorCode::ModelFormat,
                         where + ": input tensor index " + std::to_string(idx) + " out of range");
                }
            }
        }
    }
}

int32_t TfliteFile::op_code(size_t index) const {
    const ::tflite::OperatorCode& code = *model_->operator_codes()->Get(op(index).opcode_index());
    return std::max(static_cast<int32_t>(code.deprecated_builtin_code()), static_cast<int32_t>(code.builtin_code()));
}

std::string TfliteFile::op_name(size_t index) const {
    const int32_t code = op_code(index);
    if (code == ::tflite::BuiltinOperator_CUSTOM) {
        const auto* custom = model_->operator_codes()->Get(op(index).opcode_index())->custom_code();
        return "CUSTOM '" + (custom ? sanitize(custom->c_str(), custom->size()) : std::string()) + "'";
    }
    const char* name = ::tflite::EnumNameBuiltinOperator(static_cast<::tflite::BuiltinOperator>(code));
    return (name && *name) ? name : "BUILTIN " + std::to_string(code);
}

std::vector<int32_t> TfliteFile::op_inputs(size_t index) const {
    const auto* v = op(index).inputs();
    return v ? std::vector<int32_t>(v->begin(), v->end()) : std::vector<int32_t>();
}

std::vector<int32_t> TfliteFile::op_outputs(size_t index) const {
    const auto* v = op(index).outputs();
    return std::vector<int32_t>(v->begin(), v->end());
}

std::vector<float> TfliteFile::dequantize(const TfliteTensor& t) const {
    if (!t.data) fail(ErrorCode::Internal, "tensor '" + t.name + "' has no constant data");
    // The type before the allocation: check_tensors ties a constant's shape to its data's size for fixed-size
    // types only, so the shape of a STRING or COMPLEX64 constant is unchecked (up to 2^40 elements) and must not
    // size a buffer (found by fuzzing: a 9 KB file made the importer allocate 3.6 GB before refusing the type).
    switch (t.type) {
        case ::tflite::TensorType_FLOAT32:
        case ::tflite::TensorType_FLOAT16:
        case ::tflite::TensorType_UINT8:
        case ::tflite::TensorType_INT8:
        case ::tflite::TensorType_INT32: break;
        default:
            fail(ErrorCode::Unsupported, "constant '" + t.name + "' has type " + tensor_type_name(t.type) +
                                             "; supported: FLOAT32, FLOAT16, UINT8, INT8, INT32");
    }
    const auto count = static_cast<size_t>(numel(t.shape));
    std::vector<float> out(count);
    const uint8_t* p = t.data;
    if (t.type == ::tflite::TensorType_FLOAT32) {
        std::memcpy(out.data(), p, count * sizeof(float));
        return out;
    }
    if (t.type == ::tflite::TensorType_FLOAT16) {
        for (size_t i = 0; i < count; ++i) out[i] = half_to_float(load<uint16_t>(p + 2 * i));
        return out;
    }
    if (!t.quant) {
        fail(ErrorCode::Unsupported,
             "constant '" + t.name + "' is " + tensor_type_name(t.type) + " without quantization parameters");
    }
    const QuantParams& q = *t.quant;
    // Element i belongs to channel (i / inner) % channels along the quantized dimension.
    size_t inner = 1, channels = 1;
    if (t.quant_axis_file >= 0) {
        channels = static_cast<size_t>(t.shape[static_cast<size_t>(t.quant_axis_file)]);
        for (size_t d = static_cast<size_t>(t.quant_axis_file) + 1; d < t.shape.size(); ++d) {
            inner *= static_cast<size_t>(t.shape[d]);
        }
    }
    std::vector<float> scale(q.scale.begin(), q.scale.end());  // the file's float32 scales, exactly
    for (size_t i = 0; i < count; ++i) {
        const size_t c = channels > 1 ? (i / inner) % channels : 0;
        int64_t v;
        if (t.type == ::tflite::TensorType_UINT8) {
            v = p[i];
        } else if (t.type == ::tflite::TensorType_INT8) {
            v = static_cast<int8_t>(p[i]);
        } else {
            v = load<int32_t>(p + 4 * i);
        }
        out[i] = static_cast<float>(v - q.zero_point[c]) * scale[c];
    }
    return out;
}

std::vector<int64_t> TfliteFile::int_values(const TfliteTensor& t) const {
    if (!t.data) fail(ErrorCode::Unsupported, "tensor '" + t.name + "' must be a constant");
    // The type before the allocation, as in dequantize().
    if (t.type != ::tflite::TensorType_INT32 && t.type != ::tflite::TensorType_INT64) {
        fail(ErrorCode::Unsupported,
             "constant '" + t.name + "' has type " + tensor_type_name(t.type) + ", expected INT32 or INT64");
    }
    const auto count = static_cast<size_t>(numel(t.shape));
    std::vector<int64_t> out(count);
    for (size_t i = 0; i < count; ++i) {
        out[i] = t.type == ::tflite::TensorType_INT32 ? load<int32_t>(t.data + 4 * i) : load<int64_t>(t.data + 8 * i);
    }
    return out;
}

void TfliteFile::fail(ErrorCode code, const std::string& what) const { throw Error(code, path_ + ": " + what); }

}  // namespace mnet::importer
