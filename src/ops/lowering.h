// SPDX-License-Identifier: Apache-2.0
// Lowering: one function per op kind turns graph nodes into oneDNN primitives (Steps) over activation Slots.
#pragma once

#include <dnnl.hpp>

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/loader.h"
#include "ops/plan.h"

namespace mnet {

// An elementwise function oneDNN applies, as a post-op or as its own primitive.
struct Eltwise {
    dnnl::algorithm alg;
    float alpha = 0.f, beta = 0.f;
};

// A fused activation followed by the saturation range, as the shortest list of oneDNN eltwise operations.
std::vector<Eltwise> eltwise_chain(Activation act, const std::optional<Range>& saturate);

// True for oneDNN's slow reference implementations ("ref:any", "ref_int8", "ref_fused_convolution"...).
bool is_reference_impl(const char* impl);

// How int8 execution holds an activation: integers q of type `dt`, real value (q - zero_point) * scale.
struct ActQuant {
    dnnl::memory::data_type dt = dnnl::memory::data_type::u8;
    float scale = 1.f;
    int32_t zero_point = 0;
};

class Lowering;

// One op's lowering (a row of the table in lowering_ops.cpp). fp32 always succeeds or throws; int8 returns false,
// having changed nothing but conversions, when the node must run in fp32 instead; nullptr: the op runs in fp32.
struct OpLowering {
    OpKind kind;
    void (*fp32)(Lowering& lowering, const Node& n, size_t index);
    bool (*int8)(Lowering& lowering, const Node& n, size_t index);
};

class Lowering {
public:
    Lowering(const Model::Impl& model, const SessionOptions& options, dnnl::engine& engine, dnnl::stream& stream,
             std::vector<Slot>& slots, std::vector<Step>& steps);

    void lower_all();
    int input_slot() const { return input_slot_; }
    std::vector<Tensor> take_outputs() { return std::move(outputs_); }
    size_t scratchpad_bytes() const { return scratchpad_bytes_; }

private:
    struct ValueState {
        Shape shape;                // logical, with the batch
        View view;                  // where it lives; its dims may differ from `shape` after a reshape
        std::vector<View> copies;   // the same value reordered into other layouts
    };

    static const OpLowering& lowering_of(OpKind kind);
    void lower(const Node& n, size_t index);
    void conv2d_node(const Node& n, size_t index);
    void pool_or_copy(const Node& n);
    int residual_add(size_t conv_index) const;
    bool conv2d(const Node& n, const Node* add = nullptr);
    bool try_fuse_dw(const Node& pw, const Node& dw);
    void fully_connected(const Node& n);
    bool u8_classifier(const Node& n);
    void binary(const Node& n);
    void eltwise(const Node& n);
    void pool(const Node& n);
    void global_avg_pool(const Node& n);
    void softmax(const Node& n);
    void add_outputs();
    void with_follower(size_t index, const std::function<void()>& lower_node);
    std::vector<Eltwise> post_chain(const Node& n) const;

    Shape batched(const Shape& s) const;
    dnnl::memory::desc act_md(const Shape& s) const;
    static dnnl::memory::desc plain_md(const Shape& s);
    int new_slot(const dnnl::memory::desc& md);
    View new_view(const dnnl::memory::desc& md) { return View{new_slot(md), md}; }
    View ensure(int value, const dnnl::memory::desc& md);
    View reorder_to(const View& src, const dnnl::memory::desc& md, const std::string& name, int value = -1);
    dnnl::primitive_attr attr_with(const std::vector<Eltwise>& chain) const;
    // The primitive for `desc` with `chain` as post-ops when oneDNN has an optimised kernel for that, else
    // without them; the second member is what is left to run as eltwise steps (`chain`, or nothing).
    template <typename PrimitiveDesc, typename Desc>
    std::pair<PrimitiveDesc, std::vector<Eltwise>> with_post_ops(const Desc& desc, const std::vector<Eltwise>& chain) const;
    void add_step(dnnl::primitive prim, const dnnl::primitive_desc_base& pd, std::vector<std::pair<int, View>> views,
                  std::unordered_map<int, dnnl::memory> fixed, const std::string& name, const std::string& op,
                  const Shape& dst_shape, int64_t macs);
    void push_step(Step step, std::vector<std::pair<int, View>> views, const std::string& name,
                   const std::string& op, const Shape& dst_shape, int64_t macs);
    void add_eltwise_steps(const View& dst, const std::vector<Eltwise>& chain, const std::string& name,
                           const Shape& shape);
    dnnl::memory constant(const std::vector<float>& values, const dnnl::memory::desc& user_md,
                          const dnnl::memory::desc& md);
    void set_output(const Node& n, const View& view);

    // Int8 execution (lowering_int8*.cpp). A node runs on integers when it and its inputs carry quantization
    // parameters and oneDNN has an optimised kernel for it; otherwise its inputs are dequantized and it runs in
    // fp32 as above. ensure() converts between a value's integer and float forms with its parameters.
    void init_int8();
    bool conv2d_int8(const Node& n, size_t index);
    bool binary_int8(const Node& n);
    bool requantize_int8(const Node& n);
    bool pool_int8(const Node& n);
    bool reshape_int8(const Node& n);
    void to_float(int value);
    View int8_view(int value, const ActQuant& q);
    dnnl::memory::desc int8_md(const Shape& s, dnnl::memory::data_type dt) const;
    View convert(const View& src, const dnnl::memory::desc& md, const std::string& name, int value);
    View quantize_to_nhwc(const View& src, const dnnl::memory::desc& md, const std::string& name, int value);
    dnnl::primitive_attr conversion_attr(int value, const dnnl::memory::desc& from, const dnnl::memory::desc& to) const;
    dnnl::memory constant_f32(const std::vector<float>& values, const dnnl::memory::desc& md);
    std::vector<std::optional<ActQuant>> act_quant_;  // by value id; empty in fp32 sessions

    const Model::Impl& model_;
    const Graph& graph_;
    SessionOptions options_;
    dnnl::engine& engine_;
    dnnl::stream& stream_;
    std::vector<Slot>& slots_;
    std::vector<Step>& steps_;
    std::vector<ValueState> values_;
    std::vector<bool> fused_;  // nodes already lowered as part of an earlier node
    const Node* follower_ = nullptr;  // an activation node absorbed into the node being lowered
    dnnl::memory::format_tag act_tag_;
    int input_slot_ = -1;
    std::vector<Tensor> outputs_;
    size_t scratchpad_bytes_ = 0;
};

}  // namespace mnet
