// SPDX-License-Identifier: Apache-2.0
// The embedding API of issue 20 on the shared models: Precision::Auto, the image API and top_k, and a Session's
// OpenMP manners. Oracles: the explicit precisions, the reference inputs and probabilities in ../shared.
#include <omp.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "shared_models.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet/image.h"
#include "mnet/predict.h"
#include "support/model_builder.h"
#include "support/test_data.h"

using namespace mnet;
using namespace mnet::test;

namespace {

// A Session with the default precision against one with the precision Auto should mean: the same kernels, so
// the same output bits, and options() reports the resolved value.
void check_auto_precision(const std::shared_ptr<const Model>& model, const Tensor& input) {
    const Precision want = model->has_quantization() ? Precision::Int8 : Precision::Fp32;
    SessionOptions automatic;
    automatic.threads = 1;
    SessionOptions explicit_options = automatic;
    explicit_options.precision = want;
    Session a(model, automatic), b(model, explicit_options);
    CHECK(a.options().precision == want);
    CHECK(effective_precision(*model, Precision::Auto) == want);
    a.run(input);
    b.run(input);
    CHECK(a.output().data == b.output().data);
}

}  // namespace

TEST_CASE("Precision::Auto is int8 for a quantized model and fp32 otherwise, and options() says which", "[e2e][api]") {
    for (const SharedModel& m : shared_tflite_models()) {  // quantized, all of them
        CAPTURE(m.name);
        auto model = Model::load(converted_manifest(m));
        REQUIRE(model->has_quantization());
        check_auto_precision(model, load_image(m.images.front().image_path, model->preprocess()));
    }
    ModelBuilder builder(8, 8, 1);  // and a float one
    builder.conv(builder.input(), conv_spec(4, 3, 1, {1, 1, 1, 1}));
    auto plain = builder.build();
    REQUIRE(!plain->has_quantization());
    Tensor input(plain->input_shape());
    for (size_t i = 0; i < input.data.size(); ++i) input.data[i] = static_cast<float>(i % 7) - 3.0f;
    check_auto_precision(plain, input);
}

TEST_CASE("decode_image of a file's bytes and load_image of the file give the reference input bit for bit",
          "[e2e][api]") {
    const SharedModel m = shared_tflite_models().front();
    auto model = Model::load(converted_manifest(m));
    for (const ReferenceImage& img : m.images) {
        CAPTURE(img.stem);
        const std::vector<float> want = read_f32_file(img.input_path);
        const std::vector<uint8_t> bytes = read_file_bytes(img.image_path);
        CHECK(decode_image(bytes.data(), bytes.size(), model->preprocess()).data == want);
        CHECK(load_image(img.image_path, model->preprocess()).data == want);
    }
}

TEST_CASE("top_k of a batch output ranks each image's own reference classes", "[e2e][api]") {
    const SharedModel m = shared_tflite_models().front();
    auto model = Model::load(converted_manifest(m));
    const int batch = static_cast<int>(m.images.size());
    SessionOptions options;
    options.batch = batch;
    options.precision = Precision::Fp32;
    Session session(model, options);
    session.run(reference_batch(m, *model));
    for (int b = 0; b < batch; ++b) {
        CAPTURE(m.images[static_cast<size_t>(b)].stem);
        const std::vector<float> ref = read_f32_file(m.images[static_cast<size_t>(b)].probs_path);
        const auto best = std::max_element(ref.begin(), ref.end()) - ref.begin();
        const std::vector<Prediction> top = top_k(*model, session.output(), 3, b);
        REQUIRE(top.size() == 3);
        CHECK(top[0].index == best);
        CHECK(top[0].label == label_of(*model, best));
        CHECK(top[0].probability >= top[1].probability);
        CHECK(top[1].probability >= top[2].probability);
    }
    CHECK_THROWS_AS(top_k(*model, session.output(), 1, batch), Error);
}

TEST_CASE("a Session leaves the caller's OpenMP thread count as it found it", "[e2e][api]") {
    const SharedModel m = shared_tflite_models().front();
    auto model = Model::load(converted_manifest(m));
    const int before = omp_get_max_threads();
    omp_set_num_threads(3);
    SessionOptions options;
    options.threads = 1;
    Session session(model, options);
    CHECK(omp_get_max_threads() == 3);
    session.run(Tensor(model->input_shape()));
    CHECK(omp_get_max_threads() == 3);
    omp_set_num_threads(before);
}
