// SPDX-License-Identifier: Apache-2.0
// classify MODEL.json IMAGE: prints the photo's most probable class, "<index> <label> <probability>".
#include <cstdio>
#include <exception>

#include <mnet/engine.h>
#include <mnet/image.h>
#include <mnet/predict.h>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL.json IMAGE\n", argv[0]);
        return 2;
    }
    try {
        const auto model = mnet::Model::load(argv[1]);
        const mnet::Tensor input = mnet::load_image(argv[2], model->preprocess());
        mnet::Session session(model, mnet::SessionOptions{});  // Precision::Auto: int8 for a quantized model
        session.run(input);
        const mnet::Prediction top = mnet::top_k(*model, session.output(), 1).at(0);
        std::printf("%lld %s %.6f\n", static_cast<long long>(top.index), top.label.c_str(), top.probability);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "classify: error: %s\n", e.what());
        return 1;
    }
}
