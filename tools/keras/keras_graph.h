// SPDX-License-Identifier: Apache-2.0
// Translates a flattened Keras graph (keras_topology.h) into mnet nodes and constants (models/FORMAT.md).
// Keras tensors are NHWC; ours are logical NCHW, so kernels are transposed and a flatten of a spatial map is
// tracked until a Dense can absorb its element order. BatchNormalization is folded into the convolution or Dense
// before it when that is exact, ZeroPadding2D into the padding of the convolution or pooling after it, and fused
// activations become node attributes. Internal to the Keras importer.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "keras_source.h"
#include "keras_topology.h"
#include "mnet/error.h"
#include "model/writer.h"
#include "ops/op.h"

namespace mnet::importer::keras {

class Translator {
public:
    // `keras3`: the source follows Keras 3 semantics (hard_sigmoid = relu6(x + 3) / 6 rather than Keras 2's and
    // TF.js's clip(0.2x + 0.5, 0, 1)). `where` prefixes messages (the file).
    Translator(const FlatGraph& graph, const WeightStore& weights, std::string where, bool keras3);

    // Translates every layer. Throws Unsupported naming the layer class and name for anything mnet cannot
    // express, ModelFormat when the weights do not fit the layer's config.
    void run();

    // Moves the result into `def` (input, outputs, nodes) and `writer` (constants), in that order of use.
    void write(ModelWriter& writer);

    std::vector<int64_t> input_hwc() const;          // [H, W, C]
    int64_t classes() const;                         // elements per image of the first output
    bool input_feeds_rescaling() const { return input_rescaled_; }  // the model scales raw pixels itself

private:
    struct Value {
        bool defined = false;
        std::string name;        // the mnet activation holding it (for a pending pad: the unpadded source)
        Shape shape;             // Keras shape without the batch: [H, W, C] or [K]
        int producer = -1;       // index in nodes_ of the node that writes `name`; -1 for the graph input
        bool exclusive = false;  // `name` was written for this Keras tensor alone, so its node may be changed
        bool nonneg = false;     // every element >= 0 (after relu, sigmoid, ...)
        bool padded = false;     // a ZeroPadding2D not yet applied: `shape` is padded, `src_shape` is not
        std::array<int64_t, 4> pad{};  // top, left, bottom, right
        Shape src_shape;
        std::string pad_layer;
        Shape nhwc_flat;  // non-empty: a flat [K] in our NCHW order of the [H, W, C] map Keras flattened as NHWC
    };
    struct Constant {
        std::string name;
        Shape shape;
        std::vector<float> values;
    };
    // What a Keras activation name becomes.
    enum class ActForm { None, Kind, Softmax, KerasHardSigmoid, Swish };
    struct Act {
        ActForm form = ActForm::None;
        Activation kind = Activation::None;  // for ActForm::Kind: an mnet activation (FORMAT.md "activation")
    };

    // Layer translations (keras_layers.cpp).
    void translate(const FlatLayer& l);
    void conv(const FlatLayer& l);
    void dense(const FlatLayer& l);
    void batch_norm(const FlatLayer& l);
    void pool(const FlatLayer& l, bool average);
    void global_pool(const FlatLayer& l, bool average);
    void zero_padding(const FlatLayer& l);
    void flatten(const FlatLayer& l);
    void reshape(const FlatLayer& l);
    void merge(const FlatLayer& l, bool is_add);
    void relu(const FlatLayer& l);
    void activation_layer(const FlatLayer& l, const std::string& keras_name);
    void softmax_layer(const FlatLayer& l);
    std::string activation_name(const FlatLayer& l) const;  // an Activation layer's activation
    void rescaling(const FlatLayer& l);

    // Graph helpers (keras_graph.cpp).
    [[noreturn]] void fail(const FlatLayer& l, ErrorCode code, const std::string& what) const;
    const WeightArray& weight(const FlatLayer& l, const std::string& name, const Shape& expected) const;
    // Probabilities after a softmax, logits from a Dense or convolution, a feature vector otherwise (pooling).
    OutputKind output_kind(const Value& v) const;
    Act parse_activation(const FlatLayer& l, const std::string& keras_name) const;
    // The value of input `i`, with any pending padding applied.
    const Value& operand(const FlatLayer& l, size_t i);
    const Value& raw_operand(const FlatLayer& l, size_t i) const;
    void materialize(int tensor);
    bool fusable(int tensor) const;
    // Appends a node named `name` (made unique) writing an activation of the same name; returns its index.
    int emit(NodeDef nd, const std::string& name);
    // Applies `act` to `src_name`, written by node `src` (-1 for the graph input); `can_fuse`: that node may take it
    // as its activation attribute. New nodes end in one named `name`. Returns the node whose output is the result.
    int activate(const FlatLayer& l, const std::string& src_name, int src, const Act& act, const Shape& shape,
                 bool can_fuse, const std::string& name);
    static bool act_nonneg(const Act& act);
    void bind(int tensor, int node, Shape shape, bool nonneg);
    void alias(int tensor, int src);
    std::string add_constant(const std::string& base, Shape shape, std::vector<float> values);
    Constant& constant(const std::string& name);
    // Per-channel constant of a value, shaped to broadcast over it: [1, C, 1, 1] for a map, [1, K] for a vector.
    std::string channel_constant(const std::string& base, const Value& v, std::vector<float> values);
    std::string unique(const std::string& base);

    const FlatGraph& graph_;
    const WeightStore& weights_;
    std::string where_;
    bool keras3_;
    bool input_rescaled_ = false;
    std::vector<Value> values_;  // by tensor id
    std::vector<int> uses_;      // readers of each tensor, graph outputs included
    std::vector<NodeDef> nodes_;
    std::vector<Constant> constants_;
    std::map<std::string, size_t> constant_index_;
    std::set<std::string> names_;  // every node, activation and constant name
    std::vector<OutputDef> outputs_;
};

}  // namespace mnet::importer::keras
