// SPDX-License-Identifier: Apache-2.0
// Lowering: one function per op kind turns graph nodes into oneDNN primitives (Steps) over activation Slots.
#pragma once

#include <dnnl.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "graph/loader.h"
#include "ops/fusion.h"
#include "ops/plan.h"

namespace mnet {

// An elementwise function oneDNN applies, as a post-op or as its own primitive.
struct Eltwise {
    dnnl::algorithm alg;
    float alpha = 0.f, beta = 0.f;
};

// A fused activation followed by the saturation range, as the shortest list of oneDNN eltwise operations.
std::vector<Eltwise> eltwise_chain(Activation act, const std::optional<Range>& saturate);

// "f32", "bf16", "u8", "s8"...: a step's data type as the profile shows it (LayerTiming::type).
const char* data_type_name(dnnl::memory::data_type t);

// True for oneDNN's slow reference implementations ("ref:any", "ref_int8", "ref_fused_convolution"...).
bool is_reference_impl(const char* impl);

// How int8 execution holds an activation: integers q of type `dt`, real value (q - zero_point) * scale.
struct ActQuant {
    dnnl::memory::data_type dt = dnnl::memory::data_type::u8;
    float scale = 1.f;
    int32_t zero_point = 0;
};

class Lowering;
struct Int8Epilogue;  // lowering_conv_int8.cpp

// A step's name and op as the profile shows a node with an absorbed activation node: joined by '+'.
std::string joined_name(const Node& n, const Node* follower);
std::string joined_op(const std::string& op, const Node* follower);

// One op's lowering (a row of the table in lowering_ops.cpp). fp32 always succeeds or throws; int8 returns false,
// having changed nothing but conversions, when the node must run in fp32 instead; nullptr: the op runs in fp32.
struct OpLowering {
    OpKind kind;
    void (*fp32)(Lowering& lowering, const Node& n, size_t index);
    bool (*int8)(Lowering& lowering, const Node& n, size_t index);
};

// Lowers a graph for one SessionOptions: the fusion pass (fusion.h) first, then each node, or each fusion group as
// one primitive, through the op's row in the lowering table. The public members below are the toolkit an op's
// lowering uses.
class Lowering {
public:
    Lowering(const Model::Impl& model, const SessionOptions& options, const LoweringOptions& lowering,
             dnnl::engine& engine, dnnl::stream& stream, std::vector<Slot>& slots, std::vector<Step>& steps);

    void lower_all();
    int input_slot() const { return input_slot_; }
    std::vector<Tensor> take_outputs() { return std::move(outputs_); }
    size_t scratchpad_bytes() const { return scratchpad_bytes_; }

    // --- The toolkit of an op's lowering.
    const Model::Impl& model() const { return model_; }
    const SessionOptions& options() const { return options_; }
    const dnnl::engine& engine() const { return engine_; }
    // A value's logical shape, with the batch.
    const Shape& shape(int value) const { return values_[static_cast<size_t>(value)].shape; }
    Shape batched(const Shape& s) const;
    // The activation layout's descriptor for a rank-4 shape (plain for others), of the session's activation type
    // (f32, or bf16 in a bf16 session) or of `type`; and plain NCHW-order f32 descriptors.
    dnnl::memory::desc act_md(const Shape& s) const { return act_md(s, act_dt_); }
    dnnl::memory::desc act_md(const Shape& s, dnnl::memory::data_type type) const;
    static dnnl::memory::desc plain_md(const Shape& s);
    // Int8: the integer descriptor (NHWC for rank 4), and a value's quantization parameters (none in fp32).
    dnnl::memory::desc int8_md(const Shape& s, dnnl::memory::data_type dt) const;
    const std::optional<ActQuant>& act_quant(int value) const;
    View new_view(const dnnl::memory::desc& md) { return View{new_slot(md), md}; }
    // A view of the value in layout `md`, converting (once per layout) when it lives in another.
    View ensure(int value, const dnnl::memory::desc& md);
    dnnl::primitive_attr attr_with(const std::vector<Eltwise>& chain) const;
    // Weights and constants: wrapped in their plain layout, reordered once into the layout the primitive chose.
    dnnl::memory constant(const std::vector<float>& values, const dnnl::memory::desc& user_md,
                          const dnnl::memory::desc& md);
    dnnl::memory constant_f32(const std::vector<float>& values, const dnnl::memory::desc& md);
    // A primitive step; `name` and `op` as the profile shows them (a fused group joins its nodes' with '+').
    void add_step(dnnl::primitive prim, const dnnl::primitive_desc_base& pd, std::vector<std::pair<int, View>> views,
                  std::unordered_map<int, dnnl::memory> fixed, const std::string& name, const std::string& op,
                  const Shape& dst_shape, int64_t macs);
    // A step running a kernel of our own (Step::kernel).
    void push_step(Step step, std::vector<std::pair<int, View>> views, const std::string& name,
                   const std::string& op, const Shape& dst_shape, int64_t macs);
    // Elementwise functions as their own primitives, in place on `dst`.
    void add_eltwise_steps(const View& dst, const std::vector<Eltwise>& chain, const std::string& name,
                           const Shape& shape);
    // `n`'s output now lives in `view`; so does the output of `follower`, an activation node absorbed into n's
    // primitive, which is then lowered.
    void set_output(const Node& n, const View& view, const Node* follower = nullptr);

private:
    struct ValueState {
        Shape shape;                // logical, with the batch
        View view;                  // where it lives; its dims may differ from `shape` after a reshape
        std::vector<View> copies;   // the same value reordered into other layouts
    };

    static const OpLowering& lowering_of(OpKind kind);
    static std::string no_bf16_reason();
    void lower(const Node& n, size_t index);
    void add_outputs();
    int new_slot(const dnnl::memory::desc& md);
    View reorder_to(const View& src, const dnnl::memory::desc& md, const std::string& name, int value = -1);
    // The primitive for `desc` with `chain` as post-ops when oneDNN has an optimised kernel for that, else
    // without them; the second member is what is left to run as eltwise steps (`chain`, or nothing).
    template <typename PrimitiveDesc, typename Desc>
    std::pair<PrimitiveDesc, std::vector<Eltwise>> with_post_ops(const Desc& desc, const std::vector<Eltwise>& chain) const;

    // fp32 lowering of the ops (lowering_ops.cpp, lowering_conv.cpp). `follower` is the activation node the
    // fusion pass paired with the node, if any; a lowering that cannot absorb it leaves it to be lowered alone.
    const Node* follower_of(size_t index) const;
    // make(chain) (a primitive descriptor) probed with the follower's functions appended to n's chain; when oneDNN
    // refuses that, made without them and the follower dropped. Nothing is committed before.
    template <typename Make>
    auto with_follower_pd(const Node& n, const Node*& follower, const Make& make) const {
        if (follower) {
            try {
                return make(post_chain(n, follower));
            } catch (const dnnl::error&) {
                follower = nullptr;
            }
        }
        return make(post_chain(n, nullptr));
    }
    std::vector<Eltwise> post_chain(const Node& n, const Node* follower) const;
    void conv2d_node(const Node& n, size_t index);
    bool residual_buffer_free(size_t conv_index, int add_index) const;
    bool conv2d(const Node& n, const Node* add, const Node* follower);
    bool try_fuse_dw(const Node& pw, const Node& dw);
    void fully_connected(const Node& n, const Node* follower);
    bool u8_classifier(const Node& n, const Node* follower);
    void binary(const Node& n, const Node* follower);
    void eltwise(const Node& n);
    void pool_or_copy(const Node& n);
    void pool(const Node& n);
    void global_avg_pool(const Node& n);
    void softmax(const Node& n);

    // Int8 execution (lowering_int8*.cpp). A node runs on integers when it and its inputs carry quantization
    // parameters and oneDNN has an optimised kernel for it; otherwise its inputs are dequantized and it runs in
    // fp32 as above. ensure() converts between a value's integer and float forms with its parameters.
    void init_int8();
    bool conv2d_int8(const Node& n, size_t index);
    std::optional<Int8Epilogue> conv2d_int8_epilogue(const Node& n, size_t index) const;
    bool binary_int8(const Node& n);
    bool requantize_int8(const Node& n);
    bool pool_int8(const Node& n);
    bool reshape_int8(const Node& n);
    void to_float(int value);
    void round_to_grid(int value);
    View int8_view(int value, const ActQuant& q);
    View convert(const View& src, const dnnl::memory::desc& md, const std::string& name, int value);
    View quantize_to_nhwc(const View& src, const dnnl::memory::desc& md, const std::string& name, int value);
    dnnl::primitive_attr conversion_attr(int value, const dnnl::memory::desc& from, const dnnl::memory::desc& to) const;
    std::vector<std::optional<ActQuant>> act_quant_;  // by value id; empty in fp32 sessions

    const Model::Impl& model_;
    const Graph& graph_;
    SessionOptions options_;
    LoweringOptions lowering_;
    dnnl::engine& engine_;
    dnnl::stream& stream_;
    std::vector<Slot>& slots_;
    std::vector<Step>& steps_;
    std::vector<ValueState> values_;
    dnnl::memory::format_tag act_tag_;
    // The type float activations and weights are held in: f32, or bf16 in a bf16 session (the classifier,
    // softmax and graph outputs then stay f32).
    dnnl::memory::data_type act_dt_;
    std::vector<Fusion> fusions_;  // the fusion pass's groups, by head node
    std::vector<bool> lowered_;    // nodes already lowered (a group's tail, with its head)
    int input_slot_ = -1;
    std::vector<Tensor> outputs_;
    size_t scratchpad_bytes_ = 0;
};

}  // namespace mnet
