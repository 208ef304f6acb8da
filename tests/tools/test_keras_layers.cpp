// SPDX-License-Identifier: Apache-2.0
// Keras models written by the tests (seeded random weights) converted and run by the engine, against the naive
// NHWC reference of test_keras_naive.cpp: an Xception entry flow, nested Sequentials, asymmetric ZeroPadding2D,
// flatten orders, activations, quantized and sharded TF.js weights, .h5 files.
#include <catch2/catch.hpp>

#include "keras_importer.h"
#include "support/test_data.h"
#include "test_keras_support.h"

using namespace mnet;
using namespace mnet::test;
using namespace mnet::test::keras;

namespace {

constexpr double kTolerance = 1e-4;  // max |Δ| relative to max(1, max |reference|)

Array random_input(const std::vector<int64_t>& hwc, uint32_t seed) {
    return Builder(seed).random(hwc, -1.0, 1.0);
}

// Converts the TF.js folder (or .h5) `src` and compares output `index` with the naive run of `m`.
void check_against_naive(const KerasModel& m, const std::string& src, uint32_t seed, size_t index = 0) {
    const Array input = random_input(m.input_hwc, seed);
    const Array ref = run_naive(m, input);
    const std::vector<Tensor> out = convert_and_run(src, make_temp_dir("keras-out"), input);
    REQUIRE(out.size() > index);
    const double diff = max_rel_diff(out[index].data, to_nchw(ref));
    CAPTURE(src, index);
    CHECK(diff <= kTolerance);
}

// Xception's entry flow (keras.applications.xception): two plain convolutions, then blocks of
// SeparableConv2D + BatchNormalization + ReLU with a stride-2 'same' max pooling, joined by Add to a strided 1x1
// Conv2D residual branch; then a classifier head. Odd input sizes exercise TF's asymmetric 'same' padding.
KerasModel xception(uint32_t seed, bool head) {
    Builder b(seed);
    KerasModel m;
    m.name = "xception_entry";
    m.input_hwc = {29, 31, 3};
    auto& L = m.layers;
    L.push_back(b.conv("block1_conv1", 3, 8, 3, 2, "valid", false));
    L.push_back(b.batch_norm("block1_conv1_bn", 8));
    L.push_back(activation("block1_conv1_act", "relu"));
    L.push_back(b.conv("block1_conv2", 8, 16, 3, 1, "valid", false));
    L.push_back(b.batch_norm("block1_conv2_bn", 16));
    L.push_back(activation("block1_conv2_act", "relu"));
    std::string x = "block1_conv2_act";
    int64_t c = 16;
    for (const auto& [block, filters] : {std::pair<std::string, int64_t>{"block2", 24}, {"block3", 32}}) {
        Layer res = b.conv(block + "_residual", c, filters, 1, 2, "same", false);
        res.inputs = {x};
        L.push_back(res);
        L.push_back(b.batch_norm(block + "_residual_bn", filters));
        Layer first = block == "block2" ? b.separable(block + "_sepconv1", c, filters, 3, "same")
                                        : activation(block + "_sepconv1_act", "relu");
        first.inputs = {x};
        L.push_back(first);
        if (block != "block2") L.push_back(b.separable(block + "_sepconv1", c, filters, 3, "same"));
        L.push_back(b.batch_norm(block + "_sepconv1_bn", filters));
        L.push_back(activation(block + "_sepconv2_act", "relu"));
        L.push_back(b.separable(block + "_sepconv2", filters, filters, 3, "same"));
        L.push_back(b.batch_norm(block + "_sepconv2_bn", filters));
        L.push_back(simple("MaxPooling2D", block + "_pool", {{"pool_size", {3, 3}}, {"strides", {2, 2}}, {"padding", "same"}}));
        L.push_back(simple("Add", block + "_add", {}, {block + "_pool", block + "_residual_bn"}));
        x = block + "_add";
        c = filters;
    }
    if (head) {
        L.push_back(simple("GlobalAveragePooling2D", "avg_pool"));
        L.push_back(b.dense("predictions", c, 10, "softmax"));
    }
    return m;
}

}  // namespace

TEST_CASE("an Xception entry flow in TF.js layers format matches the naive NHWC reference", "[keras][layers]") {
    for (bool head : {false, true}) {
        KerasModel m = xception(7, head);
        const std::string dir = make_temp_dir("keras-xception");
        write_tfjs(m, dir);
        check_against_naive(m, dir, 11);
    }
}

TEST_CASE("an Xception entry flow saved as .h5 matches the naive NHWC reference", "[keras][layers][h5]") {
    KerasModel m = xception(8, true);
    const std::string path = make_temp_dir("keras-h5") + "/xception.h5";
    write_h5(m, path);
    check_against_naive(m, path, 12);
}

TEST_CASE("uint8 and uint16 quantized TF.js weights over several shards are dequantized as TF.js does",
          "[keras][layers]") {
    for (const std::string dtype : {"uint8", "uint16"}) {
        CAPTURE(dtype);
        KerasModel m = xception(9, true);
        m.keras3_nodes = true;  // and Keras 3's inbound_nodes format
        const std::string dir = make_temp_dir("keras-quant");
        TfjsOptions options;
        options.quantize = dtype;
        options.shards = 3;
        write_tfjs(m, dir, options);  // m now holds the dequantized weights the reference must use
        check_against_naive(m, dir, 13);
    }
}

TEST_CASE("a Sequential nested in a Sequential converts, with the backbone's output as a feature", "[keras][layers]") {
    Builder b(21);
    const Layer stem = sequential(
        "stem", {b.conv("stem_conv", 3, 8, 3, 2, "same", false), b.batch_norm("stem_bn", 8), relu("stem_relu", 6)});
    const Layer backbone =
        sequential("backbone", {stem, b.depthwise("dw", 8, 3, 1, "same"), b.batch_norm("dw_bn", 8), relu("dw_relu"),
                                b.conv("pw", 8, 12, 1, 1, "valid", true, "relu"), simple("GlobalAveragePooling2D", "gap")});
    const Layer head = sequential(
        "head", {b.dense("fc1", 12, 9, "relu"), simple("Dropout", "drop", {{"rate", 0.5}}), b.dense("fc2", 9, 4, "softmax")});
    KerasModel m;
    m.cls = "Sequential";
    m.name = "outer";
    m.input_hwc = {15, 14, 3};
    m.layers = {backbone, head};
    const std::string dir = make_temp_dir("keras-seq");
    write_tfjs(m, dir);

    const ModelWriter w = importer::import_keras(dir, importer::KerasImportOptions{});
    REQUIRE(w.def().outputs.size() == 2);
    CHECK(w.def().outputs[0].kind == OutputKind::Probabilities);
    CHECK(w.def().outputs[1].kind == OutputKind::Feature);
    CHECK(w.def().input.shape == Shape{1, 3, 15, 14});
    check_against_naive(m, dir, 22, 0);
    KerasModel backbone_only = m;
    backbone_only.layers = {backbone};
    check_against_naive(backbone_only, dir, 22, 1);  // the same input: the feature output is the backbone's
}

TEST_CASE("asymmetric ZeroPadding2D is folded where exact and applied otherwise", "[keras][layers]") {
    Builder b(31);
    const json asym = {{1, 2}, {0, 3}};
    struct Case {
        const char* what;
        std::vector<Layer> layers;
        size_t nodes;  // after folding
    };
    std::vector<Case> cases;
    cases.push_back({"into a valid convolution", {simple("ZeroPadding2D", "pad", {{"padding", asym}}), b.conv("c", 3, 4, 3, 2, "valid")}, 1});
    cases.push_back({"into a 'same' depthwise convolution",
                     {b.conv("c", 3, 4, 1, 1, "valid"), simple("ZeroPadding2D", "pad", {{"padding", {{2, 1}, {1, 2}}}}),
                      b.depthwise("dw", 4, 3, 2, "same")},
                     2});
    cases.push_back({"into a max pooling of non-negative values",
                     {b.conv("c", 3, 4, 3, 1, "valid"), relu("r"), simple("ZeroPadding2D", "pad", {{"padding", 1}}),
                      simple("MaxPooling2D", "mp", {{"pool_size", {3, 3}}, {"strides", {2, 2}}})},
                     2});
    cases.push_back({"not into a max pooling of signed values",
                     {b.conv("c", 3, 4, 3, 1, "valid"), simple("ZeroPadding2D", "pad", {{"padding", {{0, 1}, {1, 0}}}}),
                      simple("MaxPooling2D", "mp", {{"pool_size", {2, 2}}, {"strides", {1, 1}}})},
                     3});
    cases.push_back({"not into an average pooling",
                     {b.conv("c", 3, 4, 3, 1, "valid"), simple("ZeroPadding2D", "pad", {{"padding", {{1, 0}, {0, 1}}}}),
                      simple("AveragePooling2D", "ap", {{"pool_size", {2, 2}}, {"strides", {1, 1}}})},
                     3});
    Layer c2 = b.conv("c2", 4, 4, 3, 1, "valid"), c3 = b.conv("c3", 4, 4, 3, 1, "valid");
    c2.inputs = c3.inputs = {"pad"};
    cases.push_back({"into two convolutions reading it",
                     {b.conv("c", 3, 4, 1, 1, "valid"), simple("ZeroPadding2D", "pad", {{"padding", asym}}), c2, c3,
                      simple("Add", "sum", {}, {"c2", "c3"})},
                     4});
    cases.push_back({"not into an Add", {b.conv("c", 3, 4, 3, 1, "valid"), simple("ZeroPadding2D", "pad", {{"padding", asym}}),
                                         simple("Add", "twice", {}, {"pad", "pad"})},
                     3});
    for (Case& c : cases) {
        SECTION(c.what) {
            KerasModel m;
            m.input_hwc = {11, 13, 3};
            m.layers = c.layers;
            const std::string dir = make_temp_dir("keras-pad");
            write_tfjs(m, dir);
            CHECK(importer::import_keras(dir, importer::KerasImportOptions{}).def().nodes.size() == c.nodes);
            check_against_naive(m, dir, 32);
        }
    }
}

TEST_CASE("Flatten of a spatial map feeds Dense, BatchNormalization and Reshape in Keras' NHWC order",
          "[keras][layers]") {
    Builder b(41);
    KerasModel m;
    m.input_hwc = {9, 10, 3};
    m.layers = {b.conv("c", 3, 4, 3, 2, "valid"),                      // [4, 4, 4]
                simple("Flatten", "flat"), b.batch_norm("bn_flat", 64),  // per-feature, not after a convolution
                simple("Reshape", "back", {{"target_shape", {4, 4, 4}}}), b.conv("c2", 4, 5, 1, 1, "valid", true, "relu"),
                simple("Flatten", "flat2"), b.dense("fc", 80, 6), b.batch_norm("bn_fc", 6), activation("prob", "softmax")};
    const std::string dir = make_temp_dir("keras-flatten");
    write_tfjs(m, dir);
    check_against_naive(m, dir, 42);
}

TEST_CASE("activations, Multiply, Rescaling, grouped and multiplier convolutions, global max pooling",
          "[keras][layers]") {
    Builder b(51);
    Layer grouped = b.conv("grouped", 6, 8, 3, 1, "same");
    grouped.config["groups"] = 2;
    grouped.weights[0].second = b.random({3, 3, 3, 8}, -0.5, 0.5);
    Layer gate = activation("gate", "hard_sigmoid");
    gate.inputs = {"c1"};
    KerasModel m;
    m.input_hwc = {12, 10, 3};
    m.layers = {simple("Rescaling", "scale", {{"scale", 2.0}, {"offset", -0.5}}),
                b.conv("c1", 3, 6, 3, 1, "same", true, "swish"),
                gate,
                simple("Multiply", "gated", {}, {"c1", "gate"}),
                grouped,
                b.batch_norm("bn", 8),
                activation("hs", "hard_swish"),
                b.depthwise("dw2", 8, 3, 2, "valid", 2, true),
                activation("sig", "sigmoid"),
                b.batch_norm("bn_after_sigmoid", 16),
                relu("r6", 6),
                simple("GlobalMaxPooling2D", "gmp"),
                b.dense("logits", 16, 5)};
    const std::string dir = make_temp_dir("keras-acts");
    write_tfjs(m, dir);
    check_against_naive(m, dir, 52);
}
