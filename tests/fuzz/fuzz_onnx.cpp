// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the ONNX importer (tools/onnx) as mnet-convert runs it: the input is an .onnx file (a protobuf
// ModelProto), converted, and a model the importer accepts is written and loaded back with the loader's full
// validation. The file goes to a scratch folder, the model's folder, where external data would be looked up.
// Every input must end in a loaded model or an mnet::Error; any other exception escapes and aborts the run.
#include <filesystem>

#include "fuzz_support.h"
#include "mnet/error.h"
#include "graph/loader.h"
#include "onnx_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = (std::filesystem::path(mnet::fuzz::scratch_dir()) / "model.onnx").string();
    mnet::fuzz::write_scratch_file(path, std::string(reinterpret_cast<const char*>(data), size));
    try {
        mnet::ModelWriter writer = mnet::importer::import_onnx(path, {});
        const std::string manifest = writer.manifest_json("fuzz.bin");
        mnet::load_model_from_memory(manifest, writer.weights_bytes(), "fuzz.json");
    } catch (const mnet::Error&) {
        // A clean rejection.
    }
    return 0;
}
