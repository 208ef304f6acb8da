// SPDX-License-Identifier: Apache-2.0
// The op table (op.h): each op's FORMAT.md row as data, and its attribute checks and shape inference. The graph
// builder (graph/graph.cpp) looks ops up here and has already checked the attribute names, weight roles, input
// count and fused activation when `infer` runs.
#include <algorithm>

#include "core/checked.h"
#include "graph/graph.h"
#include "model/format.h"

namespace mnet {

namespace {

// Bounds that no MobileNet comes near; they keep a hostile file from asking for absurd compute.
constexpr int64_t kMaxKernel = 64;
constexpr int64_t kMaxStride = 64;
constexpr int64_t kMaxPad = 64;

const Shape& nchw_input(NodeContext& ctx) {
    const Shape& x = ctx.input_shape(0);
    if (x.size() != 4) ctx.fail("input shape " + shape_str(x) + " is not [N,C,H,W]");
    return x;
}

// stride, dilation and pad (and kernel, for pooling) into ctx.node.window.
void parse_window(NodeContext& ctx, bool has_kernel_attr) {
    const NodeDef& nd = ctx.def;
    Window& w = ctx.node.window;
    if (has_kernel_attr) {
        auto k = attr_ints(nd, "kernel", 2);
        w.kernel_h = k[0];
        w.kernel_w = k[1];
    }
    auto s = attr_ints(nd, "stride", 2, std::vector<int64_t>{1, 1});
    w.stride_h = s[0];
    w.stride_w = s[1];
    if (nd.attrs.count("dilation")) {
        auto d = attr_ints(nd, "dilation", 2);
        w.dilation_h = d[0];
        w.dilation_w = d[1];
    }
    auto p = attr_ints(nd, "pad", 4, std::vector<int64_t>{0, 0, 0, 0});
    w.pad_t = p[0];
    w.pad_l = p[1];
    w.pad_b = p[2];
    w.pad_r = p[3];
    for (int64_t v : {w.stride_h, w.stride_w, w.dilation_h, w.dilation_w}) {
        if (v < 1 || v > kMaxStride) ctx.fail("stride and dilation must be in [1, 64]");
    }
    for (int64_t v : {w.pad_t, w.pad_l, w.pad_b, w.pad_r}) {
        if (v < 0 || v > kMaxPad) ctx.fail("padding must be in [0, 64]");
    }
}

// Output size of a window over `in` pixels; fails when the window does not fit.
int64_t out_size(NodeContext& ctx, int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1) {
    if (k < 1 || k > kMaxKernel) ctx.fail("kernel size " + std::to_string(k) + " outside [1, 64]");
    const int64_t extent = (k - 1) * d + 1;
    const int64_t span = in + p0 + p1 - extent;
    if (span < 0) {
        ctx.fail("kernel extent " + std::to_string(extent) + " exceeds the padded input " + std::to_string(in + p0 + p1));
    }
    return span / s + 1;
}

// Output [1, OC, OH, OW] of the node's window over x.
Shape window_output(NodeContext& ctx, const Shape& x, int64_t channels) {
    const Window& w = ctx.node.window;
    return {1, channels, out_size(ctx, x[2], w.kernel_h, w.stride_h, w.dilation_h, w.pad_t, w.pad_b),
            out_size(ctx, x[3], w.kernel_w, w.stride_w, w.dilation_w, w.pad_l, w.pad_r)};
}

void check_bias(NodeContext& ctx, int64_t channels) {
    const TensorDef* bias = ctx.node.bias;
    if (bias && bias->shape != Shape{channels}) {
        ctx.fail("bias shape " + shape_str(bias->shape) + ", expected [" + std::to_string(channels) + "]");
    }
}

Shape infer_conv2d(NodeContext& ctx) {
    Node& n = ctx.node;
    const Shape& x = nchw_input(ctx);
    n.weights = ctx.weight("weights", true);
    n.bias = ctx.weight("bias", false);
    const Shape& ws = n.weights->shape;
    if (ws.size() != 4) ctx.fail("weights shape " + shape_str(ws) + " is not [OC, C/groups, KH, KW]");
    n.groups = attr_int(ctx.def, "groups", 1);
    const int64_t C = x[1], OC = ws[0], G = n.groups;
    if (G < 1 || C % G != 0 || OC % G != 0) {
        ctx.fail("groups " + std::to_string(G) + " must divide the input channels " + std::to_string(C) +
                 " and output channels " + std::to_string(OC));
    }
    if (ws[1] != C / G) {
        ctx.fail("weights shape " + shape_str(ws) + " expects " + std::to_string(ws[1] * G) +
                 " input channels, the input has " + std::to_string(C));
    }
    check_bias(ctx, OC);
    parse_window(ctx, false);
    n.window.kernel_h = ws[2];
    n.window.kernel_w = ws[3];
    const Shape out = window_output(ctx, x, OC);
    n.macs = OC * out[2] * out[3] * (C / G) * n.window.kernel_h * n.window.kernel_w;
    n.params = shape_numel(ws) + (n.bias ? OC : 0);
    return out;
}

Shape infer_fully_connected(NodeContext& ctx) {
    Node& n = ctx.node;
    n.weights = ctx.weight("weights", true);
    n.bias = ctx.weight("bias", false);
    const Shape& ws = n.weights->shape;
    const int64_t K = shape_numel(ctx.input_shape(0));
    if (ws.size() != 2 || ws[1] != K) {
        ctx.fail("weights shape " + shape_str(ws) + ", expected [OC, " + std::to_string(K) + "]");
    }
    check_bias(ctx, ws[0]);
    n.macs = ws[0] * K;
    n.params = ws[0] * K + (n.bias ? ws[0] : 0);
    return {1, ws[0]};
}

// add and mul: numpy broadcasting, one operand of the output's shape (FORMAT.md "add, mul").
Shape infer_binary(NodeContext& ctx) {
    Node& n = ctx.node;
    n.constant = ctx.weight("b", false);
    if ((n.inputs.size() == 2) == (n.constant != nullptr)) {
        ctx.fail("the second operand must be either a second input or the weight 'b', exactly one of them");
    }
    const Shape& a = ctx.input_shape(0);
    const Shape& b = n.constant ? n.constant->shape : ctx.input_shape(1);
    const size_t rank = std::max(a.size(), b.size());
    auto padded = [rank](const Shape& s) {
        Shape p(rank - s.size(), 1);
        p.insert(p.end(), s.begin(), s.end());
        return p;
    };
    const Shape pa = padded(a), pb = padded(b);
    Shape out(rank);
    for (size_t i = 0; i < rank; ++i) {
        if (pa[i] != pb[i] && pa[i] != 1 && pb[i] != 1) {
            ctx.fail("operand shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
        }
        out[i] = std::max(pa[i], pb[i]);
    }
    if (pa != out && pb != out) {
        ctx.fail("neither operand " + shape_str(a) + " nor " + shape_str(b) + " has the output shape",
                 ErrorCode::Unsupported);
    }
    if (n.constant) n.params = shape_numel(b);
    return out;
}

Shape infer_activation(NodeContext& ctx) {
    const std::string kind = attr_string(ctx.def, "kind");
    if (!find_activation(kind, ctx.node.activation)) ctx.fail("unknown activation '" + kind + "'");
    if (ctx.node.activation == Activation::None) ctx.fail("activation kind 'none'; use identity");
    return ctx.input_shape(0);
}

Shape infer_identity(NodeContext& ctx) { return ctx.input_shape(0); }

Shape infer_pool(NodeContext& ctx) {
    const Shape& x = nchw_input(ctx);
    parse_window(ctx, true);
    const Window& w = ctx.node.window;
    const Shape out = window_output(ctx, x, x[1]);
    // Padding no smaller than the window would leave output pixels that see only padding.
    if (w.pad_t >= w.kernel_h || w.pad_b >= w.kernel_h || w.pad_l >= w.kernel_w || w.pad_r >= w.kernel_w) {
        ctx.fail("pooling padding must be smaller than the kernel");
    }
    return out;
}

Shape infer_global_avg_pool(NodeContext& ctx) {
    const Shape& x = nchw_input(ctx);
    const int64_t keep = attr_int(ctx.def, "keepdims", 1);
    if (keep != 0 && keep != 1) ctx.fail("keepdims must be 0 or 1");
    ctx.node.keepdims = keep == 1;
    return ctx.node.keepdims ? Shape{1, x[1], 1, 1} : Shape{1, x[1]};
}

// FORMAT.md "reshape": the dims after the batch, at most one -1, NCHW element order kept.
Shape infer_reshape(NodeContext& ctx) {
    const Shape& x = ctx.input_shape(0);
    auto dims = attr_ints(ctx.def, "shape", 0);
    if (dims.empty() || dims.size() > format::kMaxRank - 1) ctx.fail("shape must have 1 to 3 dims");
    Shape out = {1};
    int64_t known = 1;
    int inferred = -1;
    for (size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] == -1 && inferred < 0) {
            inferred = static_cast<int>(i);
            out.push_back(1);
            continue;
        }
        if (dims[i] < 1) ctx.fail("shape " + shape_str(dims) + " has an invalid dimension");
        auto k = checked_mul(known, dims[i]);
        if (!k) ctx.fail("shape " + shape_str(dims) + " overflows");
        known = *k;
        out.push_back(dims[i]);
    }
    const int64_t numel = shape_numel(x);
    if (inferred >= 0) {
        if (numel % known != 0) ctx.fail("cannot reshape " + shape_str(x) + " to " + shape_str(dims));
        out[static_cast<size_t>(inferred) + 1] = numel / known;
    } else if (known != numel) {
        ctx.fail("cannot reshape " + shape_str(x) + " (" + std::to_string(numel) + " elements) to " + shape_str(dims));
    }
    return out;
}

Shape infer_softmax(NodeContext& ctx) {
    const Shape& x = ctx.input_shape(0);
    if (!(x.size() == 2 || (x.size() == 4 && x[2] == 1 && x[3] == 1))) {
        ctx.fail("softmax input " + shape_str(x) + " must be [N,C] or [N,C,1,1]");
    }
    return x;
}

// FORMAT.md "pad": explicit zero padding of H and W.
Shape infer_pad(NodeContext& ctx) {
    const Shape& x = nchw_input(ctx);
    const std::vector<int64_t> p = attr_ints(ctx.def, "pad", 4);
    for (int64_t v : p) {
        if (v < 0 || v > kMaxPad) ctx.fail("padding must be in [0, 64]");
    }
    Window& w = ctx.node.window;
    w.pad_t = p[0];
    w.pad_l = p[1];
    w.pad_b = p[2];
    w.pad_r = p[3];
    return {1, x[1], x[2] + w.pad_t + w.pad_b, x[3] + w.pad_l + w.pad_r};
}

using CR = CalibratedRange;

// One row per op, in OpKind order (checked below).
constexpr std::array<OpDef, kOpCount> kOps = {{
    {OpKind::Conv2d, "conv2d", {"stride", "dilation", "pad", "groups", "activation"}, {"weights", "bias"}, 1, 1,
     true, CR::Observed, infer_conv2d},
    {OpKind::FullyConnected, "fully_connected", {"activation"}, {"weights", "bias"}, 1, 1, true, CR::Observed,
     infer_fully_connected},
    {OpKind::Add, "add", {"activation"}, {"b"}, 1, 2, true, CR::Observed, infer_binary},
    {OpKind::Mul, "mul", {"activation"}, {"b"}, 1, 2, true, CR::Observed, infer_binary},
    {OpKind::Activation, "activation", {"kind"}, {}, 1, 1, false, CR::Observed, infer_activation},
    {OpKind::Identity, "identity", {}, {}, 1, 1, false, CR::SameAsInput, infer_identity},
    {OpKind::AvgPool, "avg_pool", {"kernel", "stride", "pad"}, {}, 1, 1, false, CR::SameAsInput, infer_pool},
    {OpKind::MaxPool, "max_pool", {"kernel", "stride", "pad"}, {}, 1, 1, false, CR::SameAsInput, infer_pool},
    {OpKind::GlobalAvgPool, "global_avg_pool", {"keepdims"}, {}, 1, 1, false, CR::SameAsInput, infer_global_avg_pool},
    {OpKind::Reshape, "reshape", {"shape"}, {}, 1, 1, false, CR::SameAsInput, infer_reshape},
    {OpKind::Softmax, "softmax", {}, {}, 1, 1, false, CR::Float, infer_softmax},
    {OpKind::Pad, "pad", {"pad"}, {}, 1, 1, false, CR::SameAsInput, infer_pad},
}};

constexpr bool rows_in_kind_order() {
    for (size_t i = 0; i < kOps.size(); ++i) {
        if (static_cast<size_t>(kOps[i].kind) != i) return false;
    }
    return true;
}
static_assert(rows_in_kind_order(), "kOps: one row per OpKind, in enum order");

constexpr std::array<std::pair<std::string_view, Activation>, 7> kActivations = {{
    {"none", Activation::None},
    {"relu", Activation::Relu},
    {"relu6", Activation::Relu6},
    {"relu_n1_to_1", Activation::ReluN1To1},
    {"hard_swish", Activation::HardSwish},
    {"hard_sigmoid", Activation::HardSigmoid},
    {"sigmoid", Activation::Sigmoid},
}};

}  // namespace

const OpDef& op_def(OpKind kind) { return kOps[static_cast<size_t>(kind)]; }

const char* op_name(OpKind kind) { return op_def(kind).name.data(); }

const OpDef* find_op(std::string_view name) {
    for (const OpDef& d : kOps) {
        if (d.name == name) return &d;
    }
    return nullptr;
}

std::string op_name_list() {
    std::string out;
    for (const OpDef& d : kOps) out += (out.empty() ? "" : ", ") + std::string(d.name);
    return out;
}

const char* activation_name(Activation act) {
    for (const auto& [name, a] : kActivations) {
        if (a == act) return name.data();
    }
    return "?";
}

bool find_activation(std::string_view name, Activation& act) {
    for (const auto& [n, a] : kActivations) {
        if (n == name) {
            act = a;
            return true;
        }
    }
    return false;
}

}  // namespace mnet
