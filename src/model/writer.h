// SPDX-License-Identifier: Apache-2.0
// Writes a model in the mnet format (models/FORMAT.md). Used by the importers in tools/ and by tests that build
// small models; the engine itself only reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model_def.h"

namespace mnet {

class ModelWriter {
public:
    // `def` holds everything but the tensors, which add_tensor() appends (def.tensors must be empty).
    // def.weights_file, weights_size, weights_checksum and alignment are filled in by the writer.
    explicit ModelWriter(ModelDef def);

    ModelDef& def() { return def_; }
    const ModelDef& def() const { return def_; }

    // Appends a constant tensor at the next aligned offset. Throws InvalidArgument on a duplicate name or when
    // nbytes != numel(shape) * dtype_size(dtype). Returns the name, for use in NodeDef::weights.
    std::string add_tensor(const std::string& name, DType dtype, const Shape& shape, const void* data,
                           size_t nbytes, std::optional<QuantParams> quant = std::nullopt);
    std::string add_f32(const std::string& name, const Shape& shape, const std::vector<float>& values,
                        std::optional<QuantParams> quant = std::nullopt);

    // The weights file and the manifest that describes it. manifest_json() sets def.weights_file to
    // `weights_file_name` and fills in the size and checksum.
    std::vector<uint8_t> weights_bytes() const;
    std::string manifest_json(const std::string& weights_file_name);

    // Writes `json_path` and, beside it, the weights file named after it (stem + ".bin"). Throws Io.
    // (write_loadable in graph/loader.h also loads what was written.)
    void write(const std::string& json_path);

private:
    ModelDef def_;
    std::vector<uint8_t> data_;  // the weights file, header included
};

}  // namespace mnet
