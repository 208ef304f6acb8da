// SPDX-License-Identifier: Apache-2.0
// mnet-run-outputs MANIFEST INPUT.f32 DIR int8|fp32: runs a manifest on one raw float32 NCHW input and writes
// every graph output i (dequantized, NCHW) to DIR/i.f32. For tools/onnx_zoo/layer_diff.py, which lists a
// model's layers as extra outputs to compare each with ONNX Runtime's; a diagnostic, not part of mnet.
#include <cstdio>
#include <fstream>
#include <string>

#include "mnet/engine.h"

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: mnet-run-outputs MANIFEST INPUT.f32 DIR int8|fp32\n");
        return 2;
    }
    try {
        auto model = mnet::Model::load(argv[1]);
        mnet::SessionOptions options;
        options.precision = std::string(argv[4]) == "int8" ? mnet::Precision::Int8 : mnet::Precision::Fp32;
        mnet::Session session(model, options);
        mnet::Tensor src(model->input_shape());
        std::ifstream in(argv[2], std::ios::binary);
        const auto bytes = static_cast<std::streamsize>(src.data.size() * sizeof(float));
        if (!in.read(reinterpret_cast<char*>(src.data.data()), bytes) || in.peek() != EOF) {
            std::fprintf(stderr, "mnet-run-outputs: %s: not %lld float32 values\n", argv[2], static_cast<long long>(src.data.size()));
            return 1;
        }
        session.run(src);
        for (size_t i = 0; i < session.output_count(); ++i) {
            const mnet::Tensor& t = session.output(i);
            std::ofstream out(std::string(argv[3]) + "/" + std::to_string(i) + ".f32", std::ios::binary);
            out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size() * sizeof(float)));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mnet-run-outputs: %s\n", e.what());
        return 1;
    }
    return 0;
}
