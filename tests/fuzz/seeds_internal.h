// SPDX-License-Identifier: Apache-2.0
// How the seed builder cuts real models down to their first layers (seeds.cpp says why). Internal to tests/fuzz.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "seeds.h"

namespace mnet::fuzz {

// The first `max_ops` operators of the TFLite flatbuffer `bytes`, with only the tensors and buffers they use; the
// last operator's outputs become the graph outputs. `what` names the source in errors (std::runtime_error).
std::string tflite_prefix(const std::string& bytes, size_t max_ops, const std::string& what);

// A TF.js layers folder as fuzz_keras.cpp packs it.
struct TfjsFolder {
    std::string model_json;
    std::string metadata_json;  // empty: no metadata.json
    std::string weights;        // weights.bin
};

// The Keras .h5 file at `path` with its topology cut to the first `max_layers` layers (a Sequential keeps its first
// layer, nested models are cut likewise) and only those layers' weights, as an HDF5 file image.
std::string keras_h5_prefix(const std::string& path, size_t max_layers);

// The same cut for a TF.js layers folder whose weights all sit in weights.bin.
TfjsFolder tfjs_prefix(const TfjsFolder& folder, size_t max_layers, const std::string& what);

// A 40x30 copy of the photo `bytes` in each format and pixel layout OpenCV can write here: (file name suffix,
// encoded bytes), e.g. (".gray.png", ...). `what` names the photo in errors (std::runtime_error).
std::vector<std::pair<std::string, std::string>> image_variants(const std::string& bytes, const std::string& what);

// The ONNX files: the shared ones and the importer's fixtures (seeds_onnx.cpp).
void add_onnx_seeds(const std::string& shared_dir, std::vector<Seed>& seeds);

}  // namespace mnet::fuzz
