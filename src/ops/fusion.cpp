// SPDX-License-Identifier: Apache-2.0
// The fusion rules (fusion.h). Each decides from the graph alone; what depends on oneDNN's answer for a
// concrete primitive, or on which buffers the lowering has shared so far, the lowering checks before it commits.
#include "ops/fusion.h"

namespace mnet {

namespace {

// The node right after `index` in file order is the only reader of its output, which is no graph output: the
// two can run as one primitive, and the intermediate tensor need never exist.
bool feeds_only_next(const Graph& g, size_t index) {
    const Value& out = g.values[static_cast<size_t>(g.nodes[index].output)];
    return out.consumers.size() == 1 && out.consumers[0] == static_cast<int>(index) + 1 && !out.is_output;
}

// pw 1x1 -> dw (its only consumer) as one convolution with oneDNN's depthwise post-op (append_dw): the
// pointwise output never round-trips through memory.
int depthwise_tail(const Graph& g, size_t index, const FusionRules& rules) {
    const Node& pw = g.nodes[index];
    // oneDNN 2.6's fused jit_1x1 + depthwise kernel gives wrong, run-to-run different results on nhwc
    // activations with two threads (seen on MobileNetV2, AVX2: off by up to 0.7 in probability), so only blocked
    // layouts fuse.
    if (!rules.options.fuse_dw || !rules.blocked_layout || index + 1 >= g.nodes.size() || !feeds_only_next(g, index)) return -1;
    const Window& p = pw.window;
    const bool pw_ok = pw.groups == 1 && p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                       p.pad_t + p.pad_l + p.pad_b + p.pad_r == 0;
    const Node& dw = g.nodes[index + 1];
    const Shape& mid = g.values[static_cast<size_t>(pw.output)].shape;
    const Shape& os = g.values[static_cast<size_t>(dw.output)].shape;
    const Window& d = dw.window;
    const int64_t C = mid[1], s = d.stride_h;
    // oneDNN's depthwise post-op takes a square kernel and stride, equal top and left padding, and computes an
    // output of ceil(H / stride).
    const bool dw_ok = dw.op == OpKind::Conv2d && dw.groups == C && os[1] == C && d.kernel_h == d.kernel_w &&
                       d.stride_w == s && d.dilation_h == 1 && d.dilation_w == 1 && d.pad_t == d.pad_l &&
                       os[2] == (mid[2] + s - 1) / s && os[3] == (mid[3] + s - 1) / s;
    return pw_ok && dw_ok ? static_cast<int>(index) + 1 : -1;
}

// conv -> add(conv, skip) as one convolution whose sum post-op accumulates into the skip's buffer. The skip is
// overwritten, so it must be complete before the convolution (produced earlier, or the graph input, which the
// lowering then refuses: it is the caller's buffer), and the convolution's own result must be needed nowhere
// else. The lowering checks the rest: that no other reader of the skip's buffer comes later.
int residual_tail(const Graph& g, size_t index, const FusionRules& rules) {
    const Node& conv = g.nodes[index];
    const Value& out = g.values[static_cast<size_t>(conv.output)];
    if (!rules.options.fuse_add || out.consumers.size() != 1 || out.is_output) return -1;
    const int add_index = out.consumers[0];
    const Node& add = g.nodes[static_cast<size_t>(add_index)];
    if (add.op != OpKind::Add || add.inputs.size() != 2 || add.inputs[0] == add.inputs[1]) return -1;
    const Value& skip = g.values[static_cast<size_t>(residual_skip(add, conv.output))];
    if (skip.shape != out.shape || skip.producer >= static_cast<int>(index)) return -1;
    return add_index;
}

// op -> activation or identity node (V3's separate hard-swish ops, a quantize's saturation) as the op's eltwise
// post-ops: one pass over memory instead of two. For the ops whose primitive takes post-ops. oneDNN 2.6 gets
// chains repeating an eltwise algorithm wrong (lowering.cpp), which the lowering checks on the actual chain.
int activation_tail(const Graph& g, size_t index, const FusionRules& rules) {
    const OpKind op = g.nodes[index].op;
    const bool takes_post_ops =
        op == OpKind::Conv2d || op == OpKind::FullyConnected || op == OpKind::Add || op == OpKind::Mul;
    if (!rules.options.fuse_activation || !takes_post_ops || index + 1 >= g.nodes.size() || !feeds_only_next(g, index)) {
        return -1;
    }
    const OpKind next = g.nodes[index + 1].op;
    return next == OpKind::Activation || next == OpKind::Identity ? static_cast<int>(index) + 1 : -1;
}

}  // namespace

int residual_skip(const Node& add, int conv_output) { return add.inputs[0] == conv_output ? add.inputs[1] : add.inputs[0]; }

std::vector<Fusion> plan_fusions(const Graph& graph, const FusionRules& rules) {
    std::vector<Fusion> plan(graph.nodes.size());
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
        if (graph.nodes[i].op == OpKind::Conv2d) {
            plan[i].depthwise = depthwise_tail(graph, i, rules);
            plan[i].residual_add = residual_tail(graph, i, rules);
        }
        plan[i].activation = activation_tail(graph, i, rules);
    }
    return plan;
}

}  // namespace mnet
