// SPDX-License-Identifier: Apache-2.0
// The fusion pass: which nodes run inside the oneDNN primitive of another. It runs once per Plan, over the
// graph, for the fp32 and the int8 lowering alike; each rule in fusion.cpp records the oneDNN 2.6 restriction it
// avoids. The lowering then runs each group as one primitive when oneDNN builds that with an optimised kernel
// (probed before anything is committed: a primitive descriptor, the buffers it would write) and otherwise lowers
// the group's nodes one by one.
#pragma once

#include <vector>

#include "graph/graph.h"
#include "ops/lowering_options.h"

namespace mnet {


// The groups a node may head; -1 where none. A node is the tail of at most one group.
struct Fusion {
    int depthwise = -1;     // conv2d: the depthwise conv2d run as its append_dw post-op
    int residual_add = -1;  // conv2d: the add whose other operand (the skip) its result is summed into
    int activation = -1;    // conv2d, fully_connected, add, mul: the activation or identity node run as post-ops
};

struct FusionRules {
    LoweringOptions options;
    bool blocked_layout = true;  // activations in a blocked layout (nChw8c / nChw16c), not nhwc
};

// One entry per node of `graph`.
std::vector<Fusion> plan_fusions(const Graph& graph, const FusionRules& rules);

// The add's operand that is not `conv_output` (the skip of a residual add).
int residual_skip(const Node& add, int conv_output);

}  // namespace mnet
