// SPDX-License-Identifier: Apache-2.0
#include "model/writer.h"

#include <cstring>
#include <filesystem>

#include "core/file_io.h"
#include "model/format.h"
#include "model/manifest.h"
#include "model/weight_file.h"
#include "mnet/error.h"

namespace mnet {

ModelWriter::ModelWriter(ModelDef def) : def_(std::move(def)) {
    if (!def_.tensors.empty()) throw Error(ErrorCode::InvalidArgument, "ModelWriter: tensors are added with add_tensor()");
    def_.alignment = format::kDefaultAlignment;
    data_.assign(format::kHeaderSize, 0);
    std::memcpy(data_.data(), format::kWeightsMagic, sizeof format::kWeightsMagic);
    std::memcpy(data_.data() + format::kVersionOffset, &format::kWeightsVersion, sizeof format::kWeightsVersion);
    std::memcpy(data_.data() + format::kByteOrderMarkOffset, &format::kByteOrderMark, sizeof format::kByteOrderMark);
}

std::string ModelWriter::add_tensor(const std::string& name, DType dtype, const Shape& shape, const void* data,
                                    size_t nbytes, std::optional<QuantParams> quant) {
    for (const TensorDef& t : def_.tensors) {
        if (t.name == name) throw Error(ErrorCode::InvalidArgument, "ModelWriter: duplicate tensor '" + name + "'");
    }
    const uint64_t expected = static_cast<uint64_t>(shape_numel(shape)) * dtype_size(dtype);
    if (nbytes != expected) {
        throw Error(ErrorCode::InvalidArgument, "ModelWriter: tensor '" + name + "' has " + std::to_string(nbytes) +
                                                    " bytes, its shape needs " + std::to_string(expected));
    }
    // Every importer comes through here: a NaN or infinity in the source model is refused at conversion.
    if (dtype == DType::F32) check_finite_f32(static_cast<const uint8_t*>(data), nbytes, name, "");
    const uint64_t offset = (data_.size() + def_.alignment - 1) / def_.alignment * def_.alignment;
    data_.resize(offset, 0);
    const auto* bytes = static_cast<const uint8_t*>(data);
    data_.insert(data_.end(), bytes, bytes + nbytes);
    def_.tensors.push_back(TensorDef{name, dtype, shape, offset, nbytes, std::move(quant)});
    return name;
}

std::string ModelWriter::add_f32(const std::string& name, const Shape& shape, const std::vector<float>& values,
                                 std::optional<QuantParams> quant) {
    return add_tensor(name, DType::F32, shape, values.data(), values.size() * sizeof(float), std::move(quant));
}

std::vector<uint8_t> ModelWriter::weights_bytes() const { return data_; }

std::string ModelWriter::manifest_json(const std::string& weights_file_name) {
    def_.weights_file = weights_file_name;
    def_.weights_size = data_.size();
    def_.weights_checksum = WeightsChecksum{ChecksumKind::Crc32c, crc32c(data_.data(), data_.size())};
    return serialize_manifest(def_);
}

void ModelWriter::write(const std::string& json_path) {
    namespace fs = std::filesystem;
    const fs::path manifest(json_path);
    const fs::path weights = fs::path(json_path).replace_extension(".bin");
    if (manifest.extension() != ".json") {
        throw Error(ErrorCode::InvalidArgument, json_path + ": a model manifest's name must end in .json");
    }
    std::error_code ec;
    if (manifest.has_parent_path()) fs::create_directories(manifest.parent_path(), ec);
    const std::string text = manifest_json(weights.filename().string());
    // Both files go to temporary names first and are renamed into place only when both are written, weights
    // first: a failure (a full disk) leaves no partial file, and a manifest never points at incomplete weights.
    // Neither may be a file this process read (the source model, its weights, a label file).
    io::AtomicFile weights_file(weights.string(), "the weights file of -o " + json_path);
    io::AtomicFile manifest_file(json_path, "-o");
    weights_file.write(data_.data(), data_.size());
    manifest_file.write(text);
    weights_file.commit();
    manifest_file.commit();
}

}  // namespace mnet
