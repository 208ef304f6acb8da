// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the TFLite importer (tools/tflite), as mnet-convert runs it: the flatbuffer is converted, and a
// model the importer accepts is written and loaded back with the loader's full validation.
// Input: a .tflite file's bytes.
// Every input must end in a loaded model or an mnet::Error; any other exception escapes and aborts the run.
#include <cstdint>
#include <vector>

#include "mnet/error.h"
#include "graph/loader.h"
#include "tflite_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        mnet::ModelWriter writer = mnet::importer::import_tflite("fuzz.tflite", std::vector<uint8_t>(data, data + size), {});
        const std::string manifest = writer.manifest_json("fuzz.bin");
        mnet::load_model_from_memory(manifest, writer.weights_bytes(), "fuzz.json");
    } catch (const mnet::Error&) {
        // A clean rejection.
    }
    return 0;
}
