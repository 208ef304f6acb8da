// SPDX-License-Identifier: Apache-2.0
// conv2d through the engine against the reference: standard, strided with TensorFlow's asymmetric SAME padding,
// depthwise (multiplier 1 and 2), pointwise, grouped, dilated, odd sizes and channel counts that are not
// multiples of the 8/16-channel blocks oneDNN uses.
#include <catch2/catch.hpp>
#include <string>

#include "op_check.h"
#include "support/model_builder.h"

using namespace mnet;
using namespace mnet::test;

namespace {

struct ConvCase {
    std::string name;
    int64_t channels, height, width;  // the convolution's input
    ConvSpec spec;
};

ConvSpec with_bias(ConvSpec s, bool bias) {
    s.bias = bias;
    return s;
}

ConvSpec rect(int64_t oc, int64_t kh, int64_t kw, int64_t sh, int64_t sw, std::array<int64_t, 4> pad,
              int64_t dh = 1, int64_t dw = 1, int64_t groups = 1) {
    ConvSpec s = conv_spec(oc, 1, 1, pad, groups);
    s.kernel_h = kh;
    s.kernel_w = kw;
    s.stride_h = sh;
    s.stride_w = sw;
    s.dilation_h = dh;
    s.dilation_w = dw;
    return s;
}

const std::vector<ConvCase>& conv_cases() {
    static const std::vector<ConvCase> cases = {
        {"3x3 s1 pad1 3->16 16x16", 3, 16, 16, conv_spec(16, 3, 1, {1, 1, 1, 1})},
        {"3x3 s1 pad1 5->17 15x13", 5, 15, 13, conv_spec(17, 3, 1, {1, 1, 1, 1})},
        {"3x3 s1 valid 17->24 9x9", 17, 9, 9, conv_spec(24, 3, 1, {0, 0, 0, 0})},
        {"3x3 s2 TF pad[0,0,1,1] 3->24 16x16", 3, 16, 16, conv_spec(24, 3, 2, {0, 0, 1, 1})},
        {"3x3 s2 TF pad[0,0,1,1] 3->32 32x32", 3, 32, 32, conv_spec(32, 3, 2, {0, 0, 1, 1})},
        {"3x3 s2 pad[0,0,1,1] 5->17 15x15", 5, 15, 15, conv_spec(17, 3, 2, {0, 0, 1, 1})},
        {"3x3 s2 TF pad[1,1,1,1] 17->24 15x17", 17, 15, 17, conv_spec(24, 3, 2, {1, 1, 1, 1})},
        {"3x3 s2 pad[0,1,1,0] 24->5 10x11", 24, 10, 11, conv_spec(5, 3, 2, {0, 1, 1, 0})},
        {"1x1 pointwise 24->17 7x7", 24, 7, 7, conv_spec(17, 1, 1, {0, 0, 0, 0})},
        {"1x1 pointwise 17->24 8x8", 17, 8, 8, conv_spec(24, 1, 1, {0, 0, 0, 0})},
        {"1x1 pointwise 3->5 5x9", 3, 5, 9, conv_spec(5, 1, 1, {0, 0, 0, 0})},
        {"1x1 pointwise 32->64 4x4", 32, 4, 4, conv_spec(64, 1, 1, {0, 0, 0, 0})},
        {"1x1 pointwise 40->24 1x1", 40, 1, 1, conv_spec(24, 1, 1, {0, 0, 0, 0})},
        {"1x1 s2 pointwise 16->8 9x9", 16, 9, 9, conv_spec(8, 1, 2, {0, 0, 0, 0})},
        {"dw 3x3 s1 pad1 C=17 9x9", 17, 9, 9, conv_spec(17, 3, 1, {1, 1, 1, 1}, 17)},
        {"dw 3x3 s1 pad1 C=3 8x8", 3, 8, 8, conv_spec(3, 3, 1, {1, 1, 1, 1}, 3)},
        {"dw 3x3 s1 pad1 C=32 16x16", 32, 16, 16, conv_spec(32, 3, 1, {1, 1, 1, 1}, 32)},
        {"dw 3x3 s2 TF pad[0,0,1,1] C=24 16x16", 24, 16, 16, conv_spec(24, 3, 2, {0, 0, 1, 1}, 24)},
        {"dw 3x3 s2 pad[0,0,1,1] C=5 15x15", 5, 15, 15, conv_spec(5, 3, 2, {0, 0, 1, 1}, 5)},
        {"dw 3x3 s2 TF pad[1,1,1,1] C=17 13x13", 17, 13, 13, conv_spec(17, 3, 2, {1, 1, 1, 1}, 17)},
        {"dw 3x3 s1 valid C=24 6x7", 24, 6, 7, conv_spec(24, 3, 1, {0, 0, 0, 0}, 24)},
        {"dw 5x5 s2 TF pad[1,1,2,2] C=24 14x14", 24, 14, 14, conv_spec(24, 5, 2, {1, 1, 2, 2}, 24)},
        {"dw 5x5 s1 pad2 C=17 7x7", 17, 7, 7, conv_spec(17, 5, 1, {2, 2, 2, 2}, 17)},
        {"dw multiplier 2 3x3 s1 pad1 C=5->10 9x8", 5, 9, 8, conv_spec(10, 3, 1, {1, 1, 1, 1}, 5)},
        {"dw multiplier 2 3x3 s2 TF C=3->6 16x16", 3, 16, 16, conv_spec(6, 3, 2, {0, 0, 1, 1}, 3)},
        {"dw multiplier 2 3x3 s1 pad1 C=16->32 8x8", 16, 8, 8, conv_spec(32, 3, 1, {1, 1, 1, 1}, 16)},
        {"dw multiplier 3 1x1 C=3->9 5x5", 3, 5, 5, conv_spec(9, 1, 1, {0, 0, 0, 0}, 3)},
        {"grouped g=2 3x3 pad1 4->6 7x7", 4, 7, 7, conv_spec(6, 3, 1, {1, 1, 1, 1}, 2)},
        {"grouped g=4 1x1 24->8 5x6", 24, 5, 6, conv_spec(8, 1, 1, {0, 0, 0, 0}, 4)},
        {"dilation 2 3x3 pad2 5->17 13x13", 5, 13, 13, conv_spec(17, 3, 1, {2, 2, 2, 2}, 1, "none", 2)},
        {"dilation 2 3x3 valid 3->8 11x12", 3, 11, 12, conv_spec(8, 3, 1, {0, 0, 0, 0}, 1, "none", 2)},
        {"dw dilation 2 3x3 pad2 C=17 10x10", 17, 10, 10, conv_spec(17, 3, 1, {2, 2, 2, 2}, 17, "none", 2)},
        {"dilation 2 stride 2 3x3 pad[1,1,2,2] 5->8 12x12", 5, 12, 12, conv_spec(8, 3, 2, {1, 1, 2, 2}, 1, "none", 2)},
        {"dilation (2,3) 3x3 pad[2,3,2,3] 3->5 9x10", 3, 9, 10, rect(5, 3, 3, 1, 1, {2, 3, 2, 3}, 2, 3)},
        {"asymmetric pad[2,0,1,3] 3x3 3->5 6x7", 3, 6, 7, conv_spec(5, 3, 1, {2, 0, 1, 3})},
        {"3x5 kernel s(1,2) pad[1,2,1,2] 5->8 9x11", 5, 9, 11, rect(8, 3, 5, 1, 2, {1, 2, 1, 2})},
        {"1x3 kernel pad[0,1,0,1] 3->4 5x5", 3, 5, 5, rect(4, 1, 3, 1, 1, {0, 1, 0, 1})},
        {"7x7 s2 pad3 3->17 23x23", 3, 23, 23, conv_spec(17, 7, 2, {3, 3, 3, 3})},
        {"3x3 no bias s1 pad1 5->17 8x8", 5, 8, 8, with_bias(conv_spec(17, 3, 1, {1, 1, 1, 1}), false)},
        {"dw no bias s2 TF C=17 9x9", 17, 9, 9, with_bias(conv_spec(17, 3, 2, {0, 0, 1, 1}, 17), false)},
        {"1x1 no bias 24->17 3x3", 24, 3, 3, with_bias(conv_spec(17, 1, 1, {0, 0, 0, 0}), false)},
    };
    return cases;
}

// A model whose output is one convolution of a `channels`-channel input: a 1x1 convolution first widens the
// 3-channel graph input when needed.
std::shared_ptr<const Model> conv_model(const ConvCase& c, uint32_t seed) {
    ModelBuilder b(c.height, c.width, seed);
    std::string x = b.input();
    if (c.channels != 3) x = b.conv(x, conv_spec(c.channels, 1, 1, {0, 0, 0, 0}));
    b.conv(x, c.spec);
    return b.build();
}

}  // namespace

TEST_CASE("conv2d matches the reference", "[ops][conv]") {
    const size_t index = GENERATE(range(size_t{0}, conv_cases().size()));
    const int64_t batch = GENERATE(1, 3);
    const ConvCase& c = conv_cases()[index];
    CAPTURE(c.name, batch);
    check_against_reference(conv_model(c, 1000u + static_cast<uint32_t>(index)), batch, 7u);
}

TEST_CASE("conv2d fused activations match the reference", "[ops][conv][activation]") {
    // Inputs in [-8, 8] reach every piece of every activation (relu6's top, hard_swish's three pieces).
    const std::string act =
        GENERATE(as<std::string>{}, "none", "relu", "relu6", "relu_n1_to_1", "hard_swish", "hard_sigmoid", "sigmoid");
    const size_t index = GENERATE(size_t{1}, size_t{5}, size_t{8}, size_t{14}, size_t{17}, size_t{23});
    const int64_t batch = GENERATE(1, 3);
    ConvCase c = conv_cases()[index];
    c.spec.activation = act;
    CAPTURE(c.name, act, batch);
    check_against_reference(conv_model(c, 2000u + static_cast<uint32_t>(index)), batch, 11u, -8.0f, 8.0f);
}

TEST_CASE("conv2d sequences keep layouts straight", "[ops][conv]") {
    // Chains where the engine may pick blocked layouts for some layers and plain ones for others.
    const int64_t batch = GENERATE(1, 3);
    const int64_t size = GENERATE(as<int64_t>{}, 9, 16);
    CAPTURE(batch, size);
    ModelBuilder b(size, size, 31);
    std::string x = b.conv(b.input(), conv_spec(17, 3, 2, {0, 0, 1, 1}, 1, "relu6"));
    x = b.conv(x, conv_spec(17, 3, 1, {1, 1, 1, 1}, 17, "relu6"));
    x = b.conv(x, conv_spec(5, 1, 1, {0, 0, 0, 0}, 1, "relu"));
    x = b.conv(x, conv_spec(10, 3, 1, {1, 1, 1, 1}, 5, "hard_swish"));
    x = b.conv(x, conv_spec(24, 1, 1, {0, 0, 0, 0}));
    check_against_reference(b.build(), batch, 5u);
}
