// SPDX-License-Identifier: Apache-2.0
// Corrupt graphs: unknown ops and attributes, wrong attribute types and ranges, cycles and inputs defined later,
// missing inputs, duplicate names and outputs, weights whose shapes do not fit the op. Node indices of the small
// model: 0 conv1, 1 dw, 2 pw, 3 add, 4 mul, 5 act, 6 ident, 7 maxpool, 8 avgpool, 9 gap, 10 flat, 11 fc, 12 prob.
#include <catch2/catch.hpp>

#include <algorithm>

#include "model/corrupt_edits.h"
#include "model/writer.h"

using namespace mnet;
using namespace mnet::test;

namespace {

// One convolution with weights of shape `w` over an input of `height` x `width`; no other node.
ModelFiles one_conv(const Shape& w, int64_t height, int64_t width, std::map<std::string, AttrValue> attrs = {}) {
    ModelDef def;
    def.name = "one_conv";
    def.input.name = "input";
    def.input.shape = {1, 3, height, width};
    def.preprocess.height = static_cast<int>(height);
    def.preprocess.width = static_cast<int>(width);
    def.preprocess.mean = {0, 0, 0};
    def.preprocess.std = {1, 1, 1};
    def.outputs = {OutputDef{"y", OutputKind::Feature}};
    ModelWriter writer(def);
    writer.add_f32("w", w, std::vector<float>(static_cast<size_t>(shape_numel(w)), 0.5f));
    NodeDef n;
    n.name = "conv";
    n.op = "conv2d";
    n.inputs = {"input"};
    n.output = "y";
    n.weights = {{"weights", "w"}};
    n.attrs = std::move(attrs);
    writer.def().nodes.push_back(n);
    return ModelFiles{writer.manifest_json("w.bin"), writer.weights_bytes()};
}

json nodes_reordered(json j, const std::vector<size_t>& order) {
    json nodes = json::array();
    for (size_t i : order) nodes.push_back(j["nodes"][i]);
    j["nodes"] = nodes;
    return j;
}

}  // namespace

TEST_CASE("unknown ops, attributes and weight roles", "[model][corrupt]") {
    require_edits_rejected(small_model(), {
        {"/nodes/0/op", "conv3d", kUnsupported, "node 'conv1': unknown op 'conv3d'"},
        {"/nodes/0/op", "Conv2D", kUnsupported, "unknown op 'Conv2D'"},
        {"/nodes/12/op", "", kUnsupported, "node 'prob': unknown op ''"},
        {"/nodes/0/op", 5, kFormat, "node 'conv1'.op: must be a string"},
        {"/nodes/0/op", nullptr, kFormat, "node 'conv1'.op: must be a string"},
        {"/nodes/0/op", erase(), kFormat, "node 'conv1': missing key 'op'"},
        {"/nodes/0/attrs/strides", {1, 1}, kFormat, "node 'conv1' (conv2d): unknown attribute 'strides'"},
        {"/nodes/12/attrs", {{"axis", 1}}, kFormat, "node 'prob' (softmax): unknown attribute 'axis'"},
        {"/nodes/6/attrs", {{"activation", "relu"}}, kFormat,
         "node 'ident' (identity): unknown attribute 'activation'"},
        {"/nodes/7/attrs/dilation", {1, 1}, kFormat, "node 'maxpool' (max_pool): unknown attribute 'dilation'"},
        {"/nodes/0/weights/kernel", "conv1/weights", kFormat, "unknown weight role 'kernel'"},
        {"/nodes/7/weights", {{"weights", "conv1/weights"}}, kFormat, "(max_pool): unknown weight role 'weights'"},
        {"/nodes/0/attrs", json::array(), kFormat, "node 'conv1'.attrs: must be an object"},
        {"/nodes/0/weights", "conv1/weights", kFormat, "node 'conv1'.weights: must be an object"},
        {"/nodes/0/weights/weights", 0, kFormat, "node 'conv1'.weights.weights: must be a string"},
    });
}

TEST_CASE("attributes of the wrong type or out of range", "[model][corrupt]") {
    require_edits_rejected(small_model(), {
        {"/nodes/0/attrs/stride", "2", kFormat,
         "node 'conv1' (conv2d): attribute 'stride' must be an array of integers"},
        {"/nodes/0/attrs/stride", 2, kFormat, "attribute 'stride' must be an array of integers"},
        {"/nodes/0/attrs/stride", {1.5, 1}, kFormat, "attribute 'stride' must be an array of integers"},
        {"/nodes/0/attrs/stride", {1}, kFormat, "attribute 'stride' has 1 values, expected 2"},
        {"/nodes/0/attrs/stride", {1, 1, 1}, kFormat, "attribute 'stride' has 3 values, expected 2"},
        {"/nodes/0/attrs/stride", json::array(), kFormat, "attribute 'stride' has 0 values, expected 2"},
        {"/nodes/0/attrs/stride", {1, nullptr}, kFormat, "attrs.stride: arrays must hold numbers only"},
        {"/nodes/0/attrs/stride", {json::array({1}), json::array({1})}, kFormat, "arrays must hold numbers only"},
        {"/nodes/0/attrs/stride", {1, "1"}, kFormat, "arrays must hold numbers only"},
        {"/nodes/0/attrs/stride", nullptr, kFormat, "must be a number, a string or an array of numbers"},
        {"/nodes/0/attrs/stride", true, kFormat, "must be a number, a string or an array of numbers"},
        {"/nodes/0/attrs/stride", {{"h", 1}, {"w", 1}}, kFormat, "must be a number, a string or an array of numbers"},
        {"/nodes/0/attrs/stride", {0, 1}, kFormat, "node 'conv1': stride and dilation must be in [1, 64]"},
        {"/nodes/0/attrs/stride", {1, -1}, kFormat, "stride and dilation must be in [1, 64]"},
        {"/nodes/0/attrs/stride", {65, 1}, kFormat, "stride and dilation must be in [1, 64]"},
        {"/nodes/0/attrs/stride", {k2p31, 1}, kFormat, "stride and dilation must be in [1, 64]"},
        {"/nodes/0/attrs/stride", {kI64Max, kI64Max}, kFormat, "stride and dilation must be in [1, 64]"},
        {"/nodes/0/attrs/stride", {kI64Min, 1}, kFormat, "stride and dilation must be in [1, 64]"},
        {"/nodes/0/attrs/stride", {k2p63, 1}, kFormat, "attrs.stride[0]: integer out of range"},
        {"/nodes/0/attrs/stride", {kU64Max, 1}, kFormat, "attrs.stride[0]: integer out of range"},
        {"/nodes/0/attrs/dilation", {0, 1}, kFormat, "stride and dilation must be in [1, 64]"},
        {"/nodes/0/attrs/dilation", {64, 64}, kFormat, "kernel extent 129 exceeds the padded input 10"},
        {"/nodes/0/attrs/pad", {-1, 0, 0, 0}, kFormat, "node 'conv1': padding must be in [0, 64]"},
        {"/nodes/0/attrs/pad", {0, 0, 0, 65}, kFormat, "padding must be in [0, 64]"},
        {"/nodes/0/attrs/pad", {k2p31, 0, 0, 0}, kFormat, "padding must be in [0, 64]"},
        {"/nodes/0/attrs/pad", {kI64Max, kI64Max, kI64Max, kI64Max}, kFormat, "padding must be in [0, 64]"},
        {"/nodes/0/attrs/pad", {1, 1, 1}, kFormat, "attribute 'pad' has 3 values, expected 4"},
        {"/nodes/0/attrs/pad", {1.0, 1, 1, 1}, kFormat, "attribute 'pad' must be an array of integers"},
        {"/nodes/0/attrs/groups", 0, kFormat, "groups 0 must divide the input channels 3 and output channels 8"},
        {"/nodes/0/attrs/groups", -1, kFormat, "groups -1 must divide"},
        {"/nodes/0/attrs/groups", 2, kFormat, "groups 2 must divide the input channels 3"},
        {"/nodes/0/attrs/groups", 3, kFormat, "groups 3 must divide the input channels 3 and output channels 8"},
        {"/nodes/0/attrs/groups", k2p31, kFormat, "groups 2147483648 must divide"},
        {"/nodes/0/attrs/groups", kI64Min, kFormat, "must divide"},
        {"/nodes/0/attrs/groups", 1.5, kFormat, "attribute 'groups' must be an integer"},
        {"/nodes/0/attrs/groups", "1", kFormat, "attribute 'groups' must be an integer"},
        {"/nodes/0/attrs/groups", {1}, kFormat, "attribute 'groups' must be an integer"},
        {"/nodes/1/attrs/groups", 4, kFormat,
         "node 'dw': weights shape [8,1,3,3] expects 4 input channels, the input has 8"},
        {"/nodes/1/attrs/groups", 1, kFormat, "expects 1 input channels, the input has 8"},
        {"/nodes/1/attrs/groups", 16, kFormat, "groups 16 must divide the input channels 8"},
        {"/nodes/0/attrs/activation", "relu7", kFormat, "node 'conv1': unknown activation 'relu7'"},
        {"/nodes/0/attrs/activation", "", kFormat, "unknown activation ''"},
        {"/nodes/0/attrs/activation", 6, kFormat, "attribute 'activation' must be a string"},
        {"/nodes/0/attrs/activation", {"relu"}, kFormat, "attrs.activation: arrays must hold numbers only"},
        {"/nodes/5/attrs/kind", "none", kFormat, "node 'act': activation kind 'none'; use identity"},
        {"/nodes/5/attrs/kind", "swish", kFormat, "unknown activation 'swish'"},
        {"/nodes/5/attrs/kind", erase(), kFormat, "node 'act' (activation): attribute 'kind' is missing"},
        {"/nodes/7/attrs/kernel", erase(), kFormat, "node 'maxpool' (max_pool): attribute 'kernel' is missing"},
        {"/nodes/7/attrs/kernel", {0, 0}, kFormat, "node 'maxpool': kernel size 0 outside [1, 64]"},
        {"/nodes/7/attrs/kernel", {65, 1}, kFormat, "kernel size 65 outside [1, 64]"},
        {"/nodes/7/attrs/kernel", {100000, 100000}, kFormat, "kernel size 100000 outside [1, 64]"},
        {"/nodes/7/attrs/kernel", {kI64Max, 1}, kFormat, "kernel size 9223372036854775807 outside [1, 64]"},
        {"/nodes/7/attrs/kernel", {kI64Min, 1}, kFormat, "outside [1, 64]"},
        {"/nodes/7/attrs/kernel", {5, 5}, kFormat, "kernel extent 5 exceeds the padded input 4"},
        {"/nodes/7/attrs/kernel", {2}, kFormat, "attribute 'kernel' has 1 values, expected 2"},
        {"/nodes/7/attrs/stride", {64, 65}, kFormat, "stride and dilation must be in [1, 64]"},
        {"/nodes/8/attrs/pad", {2, 0, 0, 0}, kFormat,
         "node 'avgpool': pooling padding must be smaller than the kernel"},
        {"/nodes/8/attrs/pad", {0, 0, 64, 64}, kFormat, "pooling padding must be smaller than the kernel"},
        {"/nodes/9/attrs/keepdims", 2, kFormat, "node 'gap': keepdims must be 0 or 1"},
        {"/nodes/9/attrs/keepdims", -1, kFormat, "keepdims must be 0 or 1"},
        {"/nodes/9/attrs/keepdims", "1", kFormat, "attribute 'keepdims' must be an integer"},
        {"/nodes/9/attrs/keepdims", 1.0, kFormat, "attribute 'keepdims' must be an integer"},
        {"/nodes/10/attrs/shape", json::array(), kFormat, "node 'flat': shape must have 1 to 3 dims"},
        {"/nodes/10/attrs/shape", {1, 1, 1, 8}, kFormat, "shape must have 1 to 3 dims"},
        {"/nodes/10/attrs/shape", {9}, kFormat, "cannot reshape [1,8,1,1] (8 elements) to [9]"},
        {"/nodes/10/attrs/shape", {3, -1}, kFormat, "cannot reshape [1,8,1,1] to [3,-1]"},
        {"/nodes/10/attrs/shape", {-1, -1}, kFormat, "shape [-1,-1] has an invalid dimension"},
        {"/nodes/10/attrs/shape", {0}, kFormat, "has an invalid dimension"},
        {"/nodes/10/attrs/shape", {kI64Min}, kFormat, "has an invalid dimension"},
        {"/nodes/10/attrs/shape", {int64_t{1} << 62, int64_t{1} << 62}, kFormat, "overflows"},
        {"/nodes/10/attrs/shape", {kI64Max, -1}, kFormat, "cannot reshape"},
        {"/nodes/10/attrs/shape", "8", kFormat, "attribute 'shape' must be an array of integers"},
        {"/nodes/10/attrs/shape", {8.0}, kFormat, "attribute 'shape' must be an array of integers"},
        {"/nodes/0/quantization/zero_point", {300}, kFormat, "node 'conv1': zero point 300 outside the dtype's range"},
        {"/nodes/0/quantization/zero_point", {-1}, kFormat, "zero point -1 outside the dtype's range"},
        {"/nodes/6/quantization/zero_point", {128}, kFormat, "node 'ident': zero point 128 outside"},
        {"/nodes/6/quantization/zero_point", {kI64Min}, kFormat, "outside the dtype's range"},
        {"/nodes/0/quantization/scale", {1, 1}, kFormat, "scale and zero_point must be non-empty and of equal length"},
        {"/nodes/0/quantization", {{"dtype", "u8"}, {"scale", {1, 1}}, {"zero_point", {0, 0}}}, kFormat,
         "node 'conv1'.quantization: per-tensor parameters must have one scale"},
        {"/nodes/0/quantization/axis", 0, kUnsupported, "per-channel activation quantization is not supported"},
        {"/nodes/0/quantization", {{"dtype", "u8"}, {"scale", {1, 1}}, {"zero_point", {0, 0}}, {"axis", 1}},
         kUnsupported, "node 'conv1': per-channel activation quantization is not supported"},
    });
}

TEST_CASE("cycles, inputs defined later and missing inputs", "[model][corrupt]") {
    const ModelFiles small = small_model();
    const json good = parse(small);
    require_edits_rejected(small, {
        {"/nodes/0/inputs", json::array(), kFormat, "node 'conv1': 0 inputs, conv2d takes 1"},
        {"/nodes/0/inputs", {"input", "input"}, kFormat, "node 'conv1': 2 inputs, conv2d takes 1"},
        {"/nodes/3/inputs", {"dw_out", "pw_out", "dw_out"}, kFormat, "node 'add': 3 inputs, add takes 1 or 2"},
        {"/nodes/0/inputs", "input", kFormat, "node 'conv1'.inputs: must be an array"},
        {"/nodes/0/inputs", {5}, kFormat, "node 'conv1'.inputs[0]: must be a string"},
        {"/nodes/0/inputs", {nullptr}, kFormat, "node 'conv1'.inputs[0]: must be a string"},
        {"/nodes/0/inputs", erase(), kFormat, "node 'conv1': missing key 'inputs'"},
        {"/nodes/0/inputs/0", "nope", kFormat, "node 'conv1': input 'nope' is not defined by an earlier node"},
        {"/nodes/0/inputs/0", "", kFormat, "input '' is not defined by an earlier node"},
        {"/nodes/0/inputs/0", "conv1/weights", kFormat, "input 'conv1/weights' is not defined by an earlier node"},
        // Reading its own output, or one a later node defines: a cycle.
        {"/nodes/0/inputs/0", "conv1_out", kFormat, "input 'conv1_out' is not defined by an earlier node"},
        {"/nodes/2/inputs/0", "add_out", kFormat, "node 'pw': input 'add_out' is not defined by an earlier node"},
        {"/nodes/3/inputs/1", "prob_out", kFormat, "node 'add': input 'prob_out' is not defined by an earlier node"},
        {"/nodes/0", erase(), kFormat, "node 'dw': input 'conv1_out' is not defined by an earlier node"},
    });
    // Topological order violated: swapped neighbours, reversed, the last node first.
    require_rejected(nodes_reordered(good, {1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), small.weights, kFormat,
                     "node 'dw': input 'conv1_out' is not defined by an earlier node");
    require_rejected(nodes_reordered(good, {12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}), small.weights, kFormat,
                     "node 'prob': input 'fc_out' is not defined by an earlier node");
    require_rejected(nodes_reordered(good, {0, 1, 3, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12}), small.weights, kFormat,
                     "node 'add': input 'pw_out' is not defined by an earlier node");
    require_rejected(nodes_reordered(good, {}), small.weights, kFormat,
                     "output 'prob_out' is not produced by any node");
}

TEST_CASE("duplicate node names, outputs and tensor names", "[model][corrupt]") {
    require_edits_rejected(small_model(), {
        {"/nodes/2/name", "dw", kFormat, "node 'dw': duplicate node name"},
        {"/nodes/12/name", "conv1", kFormat, "node 'conv1': duplicate node name"},
        {"/nodes/2/output", "dw_out", kFormat, "node 'pw': activation 'dw_out' is defined twice"},
        {"/nodes/12/output", "fc_out", kFormat, "node 'prob': activation 'fc_out' is defined twice"},
        {"/nodes/0/output", "input", kFormat, "node 'conv1': activation 'input' is defined twice"},
        {"/nodes/0/output", "conv1/bias", kFormat,
         "node 'conv1': activation 'conv1/bias' has the name of a constant tensor"},
        {"/nodes/0/output", 5, kFormat, "node 'conv1'.output: must be a string"},
        {"/nodes/0/output", json::array({"conv1_out"}), kFormat, "node 'conv1'.output: must be a string"},
        {"/nodes/0/name", 5, kFormat, "nodes[0].name: must be a string"},
        {"/tensors/2/name", "conv1/weights", kFormat, "tensor 'conv1/weights': duplicate tensor name"},
        {"/outputs/1", {{"name", "prob_out"}, {"kind", "probabilities"}}, kFormat, "output 'prob_out' is listed twice"},
    });
}

TEST_CASE("weights whose shapes do not fit the op", "[model][corrupt]") {
    require_edits_rejected(small_model(), {
        {"/nodes/0/weights/weights", "nope", kFormat, "node 'conv1': weight 'weights' names unknown tensor 'nope'"},
        {"/nodes/0/weights/weights", erase(), kFormat, "node 'conv1': missing weight 'weights'"},
        {"/nodes/11/weights", erase(), kFormat, "node 'fc': missing weight 'weights'"},
        // conv weights whose IC is not C / groups.
        {"/nodes/0/weights/weights", "dw/weights", kFormat,
         "weights shape [8,1,3,3] expects 1 input channels, the input has 3"},
        {"/nodes/2/weights/weights", "conv1/weights", kFormat,
         "node 'pw': weights shape [8,3,3,3] expects 3 input channels, the input has 8"},
        {"/nodes/0/weights/weights", "fc/weights", kFormat, "weights shape [5,8] is not [OC, C/groups, KH, KW]"},
        {"/nodes/0/weights/weights", "conv1/bias", kFormat, "weights shape [8] is not [OC, C/groups, KH, KW]"},
        // bias of the wrong length or rank.
        {"/nodes/0/weights/bias", "fc/bias", kFormat, "node 'conv1': bias shape [5], expected [8]"},
        {"/nodes/0/weights/bias", "mul/b", kFormat, "bias shape [1,8,1,1], expected [8]"},
        {"/nodes/11/weights/bias", "conv1/bias", kFormat, "node 'fc': bias shape [8], expected [5]"},
        // fully connected weights whose K is not the input's element count.
        {"/nodes/11/weights/weights", "pw/weights", kFormat, "node 'fc': weights shape [8,8,1,1], expected [OC, 8]"},
        {"/nodes/11/weights/weights", "conv1/weights", kFormat, "weights shape [8,3,3,3], expected [OC, 8]"},
        {"/nodes/11/weights/weights", "conv1/bias", kFormat, "weights shape [8], expected [OC, 8]"},
        // add/mul operands that do not broadcast, or with both or neither second operand.
        {"/nodes/4/weights/b", "fc/bias", kFormat, "node 'mul': operand shapes [1,8,4,4] and [5] do not broadcast"},
        {"/nodes/4/weights/b", "conv1/weights", kFormat, "operand shapes [1,8,4,4] and [8,3,3,3] do not broadcast"},
        {"/nodes/3/inputs/1", "conv1_out", kFormat,
         "node 'add': operand shapes [1,8,4,4] and [1,8,8,8] do not broadcast"},
        {"/nodes/4/inputs", {"add_out", "add_out"}, kFormat, "exactly one of them"},
        {"/nodes/4/weights", erase(), kFormat, "exactly one of them"},
        {"/nodes/3/inputs", {"dw_out"}, kFormat, "node 'add': the second operand must be either a second input"},
        {"/nodes/4/weights/b", "conv1/bias", kFormat, "operand shapes [1,8,4,4] and [8] do not broadcast"},
        // A weight that is not f32: version 1 does not execute it.
        {"/tensors/1/dtype", "s32", kUnsupported, "node 'conv1': weight 'bias' is s32, version 1 executes f32"},
        // Ops on inputs of the wrong rank.
        // A softmax over [1,8,1,1] is fine, but the 5 labels then do not fit its 8 classes.
        {"/nodes/12/inputs/0", "gap_out", kFormat, "5 labels for an output of 8 classes"},
        {"/nodes/12/inputs/0", "ident_out", kFormat, "node 'prob': softmax input [1,8,4,4] must be [N,C] or [N,C,1,1]"},
        {"/nodes/9/inputs/0", "fc_out", kFormat, "is not defined by an earlier node"},
    });
    // Rank-2 activations into 4-D ops, in nodes appended after the output (dead, but still validated).
    const std::vector<std::pair<json, std::string>> late = {
        {{{"name", "late"}, {"op", "max_pool"}, {"inputs", {"flat_out"}}, {"output", "late_out"},
          {"attrs", {{"kernel", {1, 1}}}}},
         "node 'late': input shape [1,8] is not [N,C,H,W]"},
        {{{"name", "late"}, {"op", "global_avg_pool"}, {"inputs", {"fc_out"}}, {"output", "late_out"}},
         "node 'late': input shape [1,5] is not [N,C,H,W]"},
        {{{"name", "late"}, {"op", "conv2d"}, {"inputs", {"prob_out"}}, {"output", "late_out"},
          {"weights", {{"weights", "pw/weights"}}}},
         "node 'late': input shape [1,5] is not [N,C,H,W]"},
    };
    for (const auto& [node, substring] : late) {
        CAPTURE(node.dump());
        json j = parse(small_model());
        j["nodes"].push_back(node);
        require_rejected(j, small_model().weights, kFormat, substring);
    }
}

TEST_CASE("absurd kernels, strides and paddings", "[model][corrupt]") {
    using Ints = std::vector<int64_t>;
    // Kernels beyond the limit, with weights that really are in the file.
    require_rejected(one_conv({1, 3, 65, 65}, 80, 80), kFormat, "node 'conv': kernel size 65 outside [1, 64]");
    require_rejected(one_conv({1, 3, 100000, 1}, 100001, 1), kFormat, "kernel size 100000 outside [1, 64]");
    require_rejected(one_conv({1, 3, 1, 3}, 4, 2), kFormat, "kernel extent 3 exceeds the padded input 2");
    require_rejected(one_conv({1, 3, 3, 3}, 4, 4, {{"pad", Ints{64, 64, 64, 65}}}), kFormat,
                     "padding must be in [0, 64]");
    require_rejected(one_conv({1, 3, 3, 3}, 4, 4, {{"stride", Ints{1, 100000}}}), kFormat, "stride and dilation");
    require_rejected(one_conv({1, 3, 3, 3}, 4, 4, {{"dilation", Ints{2, 2}}}), kFormat, "kernel extent 5 exceeds");
    require_rejected(one_conv({1, 3, 1, 1}, 4, 4, {{"groups", int64_t{0}}}), kFormat, "groups 0 must divide");
    // The largest window the limits allow still loads and runs: the limits are not off by one.
    const Outcome o = load_outcome(one_conv({1, 3, 64, 64}, 1, 1, {{"pad", Ints{63, 63, 0, 0}},
                                                                       {"stride", Ints{64, 64}}}));
    REQUIRE(o.loaded);
    CHECK(o.model->outputs()[0].shape == Shape{1, 1, 1, 1});
    require_runs(o.model);
}
