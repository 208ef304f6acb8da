// SPDX-License-Identifier: Apache-2.0
// add, mul (numpy broadcasting, either operand smaller, constant operands), the activation op, identity and the
// saturation rule through the engine against the reference.
#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "op_check.h"
#include "support/model_builder.h"

using namespace mnet;
using namespace mnet::test;

namespace {

const char* const kActivations[] = {"relu", "relu6", "relu_n1_to_1", "hard_swish", "hard_sigmoid", "sigmoid"};

struct BinaryCase {
    std::string name;
    int64_t channels, height, width;
    // builds the op under test from the C-channel activation x; returns its output
    std::function<std::string(ModelBuilder&, const std::string& x, const std::string& op)> make;
};

std::string widen(ModelBuilder& b, int64_t channels) {
    return channels == 3 ? b.input() : b.conv(b.input(), conv_spec(channels, 1, 1, {0, 0, 0, 0}));
}

const std::vector<BinaryCase>& binary_cases() {
    static const std::vector<BinaryCase> cases = {
        {"same shape, two convs, C=17 9x7", 17, 9, 7,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             std::string y = b.conv(x, conv_spec(17, 3, 1, {1, 1, 1, 1}, 17));
             return b.binary(op, x, y);
         }},
        {"same operand twice (x op x), C=3 8x8", 3, 8, 8,
         [](ModelBuilder& b, const std::string& x, const std::string& op) { return b.binary(op, x, x); }},
        {"[N,C,H,W] op [N,C,1,1], C=24 8x8", 24, 8, 8,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             return b.binary(op, x, b.global_avg_pool(x, true));
         }},
        {"[N,C,1,1] op [N,C,H,W], C=17 7x9", 17, 7, 9,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             return b.binary(op, b.global_avg_pool(x, true), x);
         }},
        {"[N,C,H,W] op [N,C,1,1] from a 1x1 conv, C=5 15x15", 5, 15, 15,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             std::string s = b.conv(b.global_avg_pool(x, true), conv_spec(5, 1, 1, {0, 0, 0, 0}, 1, "hard_sigmoid"));
             return b.binary(op, x, s);
         }},
        {"constant scalar b [1], C=17 9x9", 17, 9, 9,
         [](ModelBuilder& b, const std::string& x, const std::string& op) { return b.binary_const(op, x, {1}); }},
        {"constant per-channel b [C,1,1], C=17 9x9", 17, 9, 9,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             return b.binary_const(op, x, {17, 1, 1});
         }},
        {"constant per-channel b [1,C,1,1], C=24 6x6", 24, 6, 6,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             return b.binary_const(op, x, {1, 24, 1, 1});
         }},
        {"constant per-pixel b [1,1,H,W], C=5 7x8", 5, 7, 8,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             return b.binary_const(op, x, {1, 1, 7, 8});
         }},
        {"constant full image b [1,C,H,W], C=3 5x5", 3, 5, 5,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             return b.binary_const(op, x, {1, 3, 5, 5});
         }},
        {"constant row b [W] (rank 1, right-aligned), C=5 4x6", 5, 4, 6,
         [](ModelBuilder& b, const std::string& x, const std::string& op) { return b.binary_const(op, x, {6}); }},
        {"[N,C] op constant [C] after global pool, C=17 5x5", 17, 5, 5,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             return b.binary_const(op, b.global_avg_pool(x, false), {17});
         }},
        {"[N,C] op [N,C] two fully connected, C=5 4x4", 5, 4, 4,
         [](ModelBuilder& b, const std::string& x, const std::string& op) {
             return b.binary(op, b.fully_connected(x, 10), b.fully_connected(x, 10));
         }},
    };
    return cases;
}

std::shared_ptr<const Model> binary_model(const BinaryCase& c, const std::string& op, const std::string& act,
                                          uint32_t seed) {
    ModelBuilder b(c.height, c.width, seed);
    std::string y = c.make(b, widen(b, c.channels), op);
    b.set_activation(y, act);
    return b.build();
}

}  // namespace

TEST_CASE("add and mul with broadcasting match the reference", "[ops][binary]") {
    const size_t index = GENERATE(range(size_t{0}, binary_cases().size()));
    const std::string op = GENERATE(as<std::string>{}, "add", "mul");
    const int64_t batch = GENERATE(1, 3);
    const BinaryCase& c = binary_cases()[index];
    CAPTURE(c.name, op, batch);
    check_against_reference(binary_model(c, op, "none", 3000u + static_cast<uint32_t>(index)), batch, 13u);
}

TEST_CASE("add and mul fused activations match the reference", "[ops][binary][activation]") {
    const size_t index = GENERATE(size_t{0}, size_t{2}, size_t{3}, size_t{6});
    const std::string op = GENERATE(as<std::string>{}, "add", "mul");
    const std::string act = GENERATE(from_range(std::begin(kActivations), std::end(kActivations)));
    const int64_t batch = GENERATE(1, 3);
    const BinaryCase& c = binary_cases()[index];
    CAPTURE(c.name, op, act, batch);
    check_against_reference(binary_model(c, op, act, 3100u + static_cast<uint32_t>(index)), batch, 17u, -4.0f, 4.0f);
}

TEST_CASE("activation op matches the reference", "[ops][activation]") {
    const std::string act = GENERATE(from_range(std::begin(kActivations), std::end(kActivations)));
    const int64_t size = GENERATE(as<int64_t>{}, 1, 7, 16);
    const int64_t batch = GENERATE(1, 3);
    const bool after_conv = GENERATE(false, true);
    CAPTURE(act, size, batch, after_conv);
    ModelBuilder b(size, size, 41);
    std::string x = after_conv ? b.conv(b.input(), conv_spec(17, 3, 1, {1, 1, 1, 1})) : b.input();
    b.activation(x, act);
    check_against_reference(b.build(), batch, 19u, -8.0f, 8.0f);
}

TEST_CASE("identity matches the reference", "[ops][identity]") {
    const int64_t batch = GENERATE(1, 3);
    const bool after_conv = GENERATE(false, true);
    CAPTURE(batch, after_conv);
    ModelBuilder b(9, 10, 43);
    std::string x = after_conv ? b.conv(b.input(), conv_spec(24, 3, 2, {0, 0, 1, 1}, 1, "relu6")) : b.input();
    x = b.identity(x);
    std::string y = b.conv(x, conv_spec(5, 1, 1, {0, 0, 0, 0}));
    check_against_reference(b.build({x, y}), batch, 23u);
}

TEST_CASE("saturation ranges match the reference", "[ops][saturate]") {
    struct Quant {
        std::string name;
        DType dtype;
        double scale;
        int64_t zero_point;
    };
    const Quant q = GENERATE(values<Quant>({
        {"u8 zp 0 scale 0.02 -> [0, 5.1]", DType::U8, 0.02, 0},
        {"u8 zp 0 scale 6/255 -> [0, 6] (relu6 as a range)", DType::U8, 6.0 / 255.0, 0},
        {"u8 zp 128 scale 0.01 -> [-1.28, 1.27]", DType::U8, 0.01, 128},
        {"u8 zp 200 scale 0.05 -> [-10, 2.75]", DType::U8, 0.05, 200},
        {"s8 zp -10 scale 0.03 -> [-3.54, 4.11]", DType::S8, 0.03, -10},
        {"s8 zp 0 scale 0.01 -> [-1.28, 1.27]", DType::S8, 0.01, 0},
        {"u8 zp 0 scale 1/512 -> [0, 0.498]", DType::U8, 1.0 / 512.0, 0},
        {"s32: no saturation", DType::S32, 0.001, 0},
    }));
    // Fused activations are listed one by one: the engine merges a clip-like activation and the range into one clip.
    const std::string where = GENERATE(as<std::string>{}, "conv2d", "conv2d+relu", "conv2d+relu6",
                                       "conv2d+relu_n1_to_1", "conv2d+hard_swish", "conv2d+hard_sigmoid",
                                       "conv2d+sigmoid", "dw conv2d", "fully_connected", "fully_connected+relu6",
                                       "add", "add+relu", "mul", "activation", "activation relu6", "identity",
                                       "avg_pool", "max_pool", "global_avg_pool", "reshape", "softmax");
    const int64_t batch = GENERATE(1, 3);
    CAPTURE(q.name, where, batch);
    ModelBuilder b(8, 9, 47);
    std::string x = b.conv(b.input(), conv_spec(17, 1, 1, {0, 0, 0, 0}, 1, "none"));
    std::string y;
    if (where == "conv2d") y = b.conv(x, conv_spec(24, 3, 1, {1, 1, 1, 1}));
    const std::string conv_act = "conv2d+";
    if (where.compare(0, conv_act.size(), conv_act) == 0) {
        y = b.conv(x, conv_spec(24, 3, 1, {1, 1, 1, 1}, 1, where.substr(conv_act.size())));
    }
    if (where == "dw conv2d") y = b.conv(x, conv_spec(17, 3, 2, {0, 0, 1, 1}, 17));
    if (where == "fully_connected") y = b.fully_connected(x, 10);
    if (where == "fully_connected+relu6") y = b.fully_connected(x, 10, "relu6");
    if (where == "add+relu") y = b.binary("add", x, b.conv(x, conv_spec(17, 1, 1, {0, 0, 0, 0})), "relu");
    if (where == "activation relu6") y = b.activation(x, "relu6");
    if (where == "softmax") y = b.softmax(b.fully_connected(x, 10, "none", true, 3.0f));
    if (where == "add") y = b.binary("add", x, b.conv(x, conv_spec(17, 1, 1, {0, 0, 0, 0})));
    if (where == "mul") y = b.binary_const("mul", x, {17, 1, 1}, "none", -3.0f, 3.0f);
    if (where == "activation") y = b.activation(x, "hard_swish");
    if (where == "identity") y = b.identity(x);
    if (where == "avg_pool") y = b.pool("avg_pool", x, {3, 3}, {2, 2}, {0, 0, 1, 1});
    if (where == "max_pool") y = b.pool("max_pool", x, {3, 3}, {2, 2}, {1, 1, 1, 1});
    if (where == "global_avg_pool") y = b.global_avg_pool(x, true);
    if (where == "reshape") y = b.reshape(x, {-1});
    REQUIRE(!y.empty());
    b.quantize(y, q.dtype, q.scale, q.zero_point);
    // A consumer after the saturated node too: the clamp must happen before the value is used, not only on output.
    std::string z = b.binary_const("add", y, {1}, "none", 0.25f, 0.25f);
    check_against_reference(b.build({y, z}), batch, 29u, -4.0f, 4.0f);
}
