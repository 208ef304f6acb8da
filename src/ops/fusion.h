// SPDX-License-Identifier: Apache-2.0
// The fusion pass: which nodes run inside the oneDNN primitive of another. It runs once per Plan, over the
// graph, for the fp32 and the int8 lowering alike; each rule in fusion.cpp records the oneDNN 2.6 restriction it
// avoids. The lowering then runs each group as one primitive when oneDNN builds that with an optimised kernel
// (probed before anything is committed: a primitive descriptor, the buffers it would write) and otherwise lowers
// the group's nodes one by one.
#pragma once

#include <vector>

#include "graph/graph.h"

namespace mnet {

// Switches for comparing fused with unfused execution (tests and A/B measurements). Everything is on in a
// normal Session; the public SessionOptions::fuse_dw is the one the CLI exposes (--no-fuse-dw).
struct LoweringOptions {
    bool fuse_add = true;         // sum a convolution into the residual it is added to (oneDNN sum post-op)
    bool fuse_activation = true;  // run an activation node as post-ops of the op before it
    // A quantized model's classifier, at batch <= 4, reads its 8-bit weight integers rather than their float
    // values: the same weights in a quarter of the memory traffic (src/ops/u8_gemv.h). Not a fusion.
    bool u8_classifier = true;
};

// The groups a node may head; -1 where none. A node is the tail of at most one group.
struct Fusion {
    int depthwise = -1;     // conv2d: the depthwise conv2d run as its append_dw post-op
    int residual_add = -1;  // conv2d: the add whose other operand (the skip) its result is summed into
    int activation = -1;    // conv2d, fully_connected, add, mul: the activation or identity node run as post-ops
};

struct FusionRules {
    bool fuse_dw = true;
    LoweringOptions options;
    bool blocked_layout = true;  // activations in a blocked layout (nChw8c / nChw16c), not nhwc
};

// One entry per node of `graph`.
std::vector<Fusion> plan_fusions(const Graph& graph, const FusionRules& rules);

// The add's operand that is not `conv_output` (the skip of a residual add).
int residual_skip(const Node& add, int conv_output);

}  // namespace mnet
