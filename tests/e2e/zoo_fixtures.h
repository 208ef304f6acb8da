// SPDX-License-Identifier: Apache-2.0
// The generated TFLite model zoo (tests/data/zoo, written by tools/zoo/generate.py): its index, the model inputs
// it was run on, and LiteRT's outputs, read without Python.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mnet/tensor.h"

namespace mnet::test::zoo {

// Per-tensor quantization of a model input or output, as LiteRT reports it; dtype "float32" when not quantized.
struct Quant {
    std::string dtype;
    double scale = 0.0;
    int64_t zero_point = 0;
    bool quantized() const { return dtype == "int8" || dtype == "uint8"; }
    int64_t qmin() const { return dtype == "int8" ? -128 : 0; }
    int64_t qmax() const { return dtype == "int8" ? 127 : 255; }
};

struct Fixture {
    std::string file, name, arch, mode;
    int64_t size = 0;                 // input H = W
    double pixel_scale = 1.0, pixel_offset = 0.0;  // the model's preprocessing: x = pixel * scale + offset
    Quant input, output;
    Quant output_int8;                // for float-output int8 models: the int8 tensor the last DEQUANTIZE reads
    std::vector<int64_t> output_shape;
    std::vector<std::string> ops;
    std::vector<std::string> inputs;  // input stems ("dog", "noise", ...)
    std::vector<std::string> refs;    // the oracle output file of each input
    double xnnpack_worst = 0.0;       // LiteRT's default (XNNPACK) kernels vs the oracle: max steps or max |Δ|
    std::string oracle_kernels;       // "" (LiteRT's reference kernels) or why others were used
    bool int8_mode() const { return mode == "int8" || mode == "int8_io" || mode == "uint8_io"; }
    std::string io() const { return input.quantized() ? input.dtype : "float32"; }
};

std::string zoo_dir();
nlohmann::json index();
std::vector<Fixture> tflite_fixtures();

// The pixels (RGB uint8 HWC) of input `stem` at `size`, as generate.py wrote them.
std::vector<uint8_t> pixels(int64_t size, const std::string& stem);
// The pixels through the fixture's preprocessing and, for a quantized input, its quantization and back, in
// NCHW: exactly the real values LiteRT's input held.
Tensor model_input(const Fixture& f, const std::vector<uint8_t>& px);
// The oracle's output as float (raw integers for quantized outputs).
std::vector<double> reference_output(const Fixture& f, size_t input);
// `y` quantized with `q` the way TFLite does: round half to even as numpy, then clamp.
std::vector<int64_t> quantize(const std::vector<double>& y, const Quant& q);

}  // namespace mnet::test::zoo
