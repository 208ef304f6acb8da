// SPDX-License-Identifier: Apache-2.0
// Graph nodes to oneDNN primitives. Activations stay in one layout through the network (the fastest measured for
// this ISA and thread count, see activation_layout()); a reorder is added only where a primitive wants another
// layout, and plain NCHW appears only at the graph's input and outputs.
#include "ops/lowering.h"

#include <oneapi/dnnl/dnnl_debug.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "mnet/bench.h"
#include "mnet/error.h"
#include "ops/lowering_int8.h"

namespace mnet {

using dnnl::algorithm;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

memory::dims to_dims(const Shape& s) { return memory::dims(s.begin(), s.end()); }

// The plain (row-major) layout of a rank-1..5 shape.
tag plain_tag(size_t rank) {
    static const tag tags[] = {tag::undef, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde};
    return tags[rank];
}

}  // namespace

const char* data_type_name(dt t) {
    switch (t) {
        case dt::f32: return "f32";
        case dt::bf16: return "bf16";
        case dt::u8: return "u8";
        case dt::s8: return "s8";
        case dt::s32: return "s32";
        default: return "other";
    }
}

namespace {

// The activation layout. On AVX-512, channel blocks of one vector register (nChw16c), which oneDNN's jit
// convolutions are fastest on. On AVX2 the blocked nChw8c and nhwc run the same kernels (jit_1x1, jit_dw); nhwc
// measured faster with two or more threads and slower with one (docs/performance.md, "Measurements behind
// choices in the code"), so the choice follows the thread count.
tag activation_layout(int threads) {
    if (avx512_kernels()) return tag::nChw16c;
    return threads > 1 ? tag::nhwc : tag::nChw8c;
}

}  // namespace

bool is_reference_impl(const char* impl) { return std::strncmp(impl, "ref", 3) == 0; }

std::vector<Eltwise> eltwise_chain(Activation act, const std::optional<Range>& saturate) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    std::vector<Eltwise> chain;
    switch (act) {
        case Activation::None: break;
        case Activation::Relu: chain.push_back({algorithm::eltwise_relu, 0.f, 0.f}); break;
        case Activation::Relu6: chain.push_back({algorithm::eltwise_clip, 0.f, 6.f}); break;
        case Activation::ReluN1To1: chain.push_back({algorithm::eltwise_clip, -1.f, 1.f}); break;
        case Activation::HardSwish: chain.push_back({algorithm::eltwise_hardswish, 0.f, 0.f}); break;
        case Activation::HardSigmoid:  // relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1)
            chain.push_back({algorithm::eltwise_linear, 1.f / 6.f, 0.5f});
            chain.push_back({algorithm::eltwise_clip, 0.f, 1.f});
            break;
        case Activation::Sigmoid: chain.push_back({algorithm::eltwise_logistic, 0.f, 0.f}); break;
    }
    if (saturate) {
        // A clip after a clip (or a relu, a clip to [0, inf)) is one clip to the intersection.
        if (!chain.empty() && (chain.back().alg == algorithm::eltwise_clip || chain.back().alg == algorithm::eltwise_relu)) {
            Eltwise& last = chain.back();
            const float lo = last.alg == algorithm::eltwise_relu ? 0.f : last.alpha;
            const float hi = last.alg == algorithm::eltwise_relu ? kInf : last.beta;
            last = {algorithm::eltwise_clip, std::max(lo, saturate->lo), std::min(hi, saturate->hi)};
        } else {
            chain.push_back({algorithm::eltwise_clip, saturate->lo, saturate->hi});
        }
    }
    return chain;
}

Lowering::Lowering(const Model::Impl& model, const SessionOptions& options, const LoweringOptions& lowering,
                   dnnl::engine& engine, dnnl::stream& stream, std::vector<Slot>& slots, std::vector<Step>& steps)
    : model_(model), graph_(model.graph), options_(options), lowering_(lowering), engine_(engine), stream_(stream),
      slots_(slots), steps_(steps), act_tag_(activation_layout(options.threads)),
      act_dt_(options.precision == Precision::Bf16 ? dt::bf16 : dt::f32) {}

Shape Lowering::batched(const Shape& s) const {
    Shape b = s;
    b[0] = options_.batch;
    return b;
}

memory::desc Lowering::plain_md(const Shape& s) {
    return memory::desc(to_dims(s), dt::f32, plain_tag(s.size()));
}

memory::desc Lowering::act_md(const Shape& s, dt type) const {
    return memory::desc(to_dims(s), type, s.size() == 4 ? act_tag_ : plain_tag(s.size()));
}

int Lowering::new_slot(const memory::desc& md) {
    slots_.push_back(Slot{md.get_size(), -1, -1, 0, false});
    return static_cast<int>(slots_.size()) - 1;
}

View Lowering::reorder_to(const View& src, const memory::desc& md, const std::string& name, int value) {
    // Between a value's integer and float forms: applies its quantization parameters (lowering_int8.cpp). Between
    // f32 and bf16 a plain reorder converts (rounding to nearest even).
    if (value >= 0 && int8::is_int(src.md.data_type()) != int8::is_int(md.data_type())) {
        return convert(src, md, name, value);
    }
    View dst = new_view(md);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::reorder::primitive_desc pd(engine_, src.md, engine_, md, attr);
    add_step(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, {}, "reorder:" + name, "reorder",
             {}, 0);
    return dst;
}

// A view of the value in layout `md`, reordering (once per layout) when it lives in another. When only the
// dims differ (a reshape), the value is viewed through plain NCHW, where a reshape moves no data.
View Lowering::ensure(int value, const memory::desc& md) {
    ValueState& v = values_[value];
    if (v.view.md == md) return v.view;
    for (const View& c : v.copies) {
        if (c.md == md) return c;
    }
    const std::string& name = graph_.values[value].name;
    View result;
    if (md.dims() == v.view.md.dims()) {
        result = reorder_to(v.view, md, name, value);
    } else {
        const memory::dims have = v.view.md.dims(), want = md.dims();  // dims() returns a fresh vector
        const Shape view_dims(have.begin(), have.end()), want_dims(want.begin(), want.end());
        View plain = ensure(value, plain_md(view_dims));
        View reshaped{plain.slot, plain_md(want_dims)};
        result = reshaped.md == md ? reshaped : reorder_to(reshaped, md, name, value);
    }
    v.copies.push_back(result);
    return result;
}

dnnl::primitive_attr Lowering::attr_with(const std::vector<Eltwise>& chain) const {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    for (const Eltwise& e : chain) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
    attr.set_post_ops(ops);
    return attr;
}

void Lowering::add_step(dnnl::primitive prim, const dnnl::primitive_desc_base& pd,
                        std::vector<std::pair<int, View>> views, std::unordered_map<int, dnnl::memory> fixed,
                        const std::string& name, const std::string& op, const Shape& dst_shape, int64_t macs) {
    scratchpad_bytes_ = std::max(scratchpad_bytes_, pd.scratchpad_desc().get_size());
    Step step;
    step.prim = std::move(prim);
    step.fixed = std::move(fixed);
    step.info.impl = pd.impl_info_str();
    step.info.type = data_type_name(pd.src_desc().data_type());
    push_step(std::move(step), std::move(views), name, op, dst_shape, macs);
}

void Lowering::push_step(Step step, std::vector<std::pair<int, View>> views, const std::string& name,
                         const std::string& op, const Shape& dst_shape, int64_t macs) {
    const int index = static_cast<int>(steps_.size());
    for (const auto& [arg, view] : views) {
        Slot& s = slots_[view.slot];
        if (s.first_step < 0) s.first_step = index;
        s.last_step = std::max(s.last_step, index);
    }
    step.views = std::move(views);
    step.info.name = name;
    step.info.op = op;
    step.info.dst_shape = dst_shape;
    step.info.macs = macs;
    steps_.push_back(std::move(step));
}

// Elementwise functions as their own primitives, in place on `dst`: for ops whose oneDNN primitive takes no
// eltwise post-ops.
void Lowering::add_eltwise_steps(const View& dst, const std::vector<Eltwise>& chain, const std::string& name,
                                 const Shape& shape) {
    for (const Eltwise& e : chain) {
        dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, e.alg, dst.md, e.alpha, e.beta);
        dnnl::eltwise_forward::primitive_desc pd(d, attr_with({}), engine_);
        add_step(dnnl::eltwise_forward(pd), pd, {{DNNL_ARG_SRC, dst}, {DNNL_ARG_DST, dst}}, {}, name, "eltwise",
                 shape, 0);
    }
}

// Weights and constants: wrapped in their plain layout, reordered once into the layout the primitive chose.
memory Lowering::constant(const std::vector<float>& values, const memory::desc& user_md, const memory::desc& md) {
    memory user(user_md, engine_, const_cast<float*>(values.data()));
    memory mem(md, engine_);
    dnnl::reorder(user, mem).execute(stream_, user, mem);
    stream_.wait();
    return mem;
}

void Lowering::lower_all() {
    values_.resize(graph_.values.size());
    for (size_t i = 0; i < graph_.values.size(); ++i) values_[i].shape = batched(graph_.values[i].shape);
    lowered_.assign(graph_.nodes.size(), false);
    fusions_ = plan_fusions(graph_, FusionRules{lowering_, act_tag_ != tag::nhwc});
    if (options_.precision == Precision::Int8) init_int8();
    if (options_.precision == Precision::Bf16 && !bf16_kernels()) throw Error(ErrorCode::Unsupported, no_bf16_reason());

    input_slot_ = new_slot(plain_md(values_[graph_.input].shape));
    slots_[input_slot_].external = true;
    values_[graph_.input].view = View{input_slot_, plain_md(values_[graph_.input].shape)};

    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
        if (lowered_[i]) continue;
        const Node& n = graph_.nodes[i];
        try {
            lower(n, i);
        } catch (const dnnl::error& e) {
            throw Error(ErrorCode::Backend, model_.path + ": node '" + n.name + "' (" + op_name(n.op) +
                                                "): oneDNN: " + e.what() + " (" + dnnl_status2str(e.status) + ")");
        }
    }
    add_outputs();
}

// Why a bf16 session cannot run here: the CPU lacks the instructions, or a cap set for oneDNN hides them.
std::string Lowering::no_bf16_reason() {
    const std::string needs = "bf16 needs AVX512_BF16 or AMX); run in fp32 or int8";
    for (const char* cap : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {  // oneDNN's names, newer first
        const char* value = std::getenv(cap);
        if (value && std::strcmp(value, "ALL") != 0) {
            return std::string("bf16 precision: oneDNN is capped below bf16 here (") + cap + "=" + value +
                   ", instruction set " + cpu_isa() + "; " + needs;
        }
    }
    return "bf16 precision: this CPU has no bf16 instructions (oneDNN's instruction set here: " + cpu_isa() + "; " +
           needs;
}

void Lowering::lower(const Node& n, size_t index) {
    const OpLowering& op = lowering_of(n.op);
    if (options_.precision == Precision::Int8) {
        bool quantized = act_quant_[n.output].has_value();
        for (int in : n.inputs) quantized = quantized && act_quant_[in].has_value();
        if (quantized && op.int8 && op.int8(*this, n, index)) return;
        for (int in : n.inputs) to_float(in);  // fp32 lowering reads float views
    }
    op.fp32(*this, n, index);
}

// oneDNN 2.6's jit post-op injector computes a chain holding the same eltwise algorithm twice with different
// parameters wrongly (seen: conv jit_1x1:avx2 with clip, hardswish, clip is off by up to 1/6; clip, clip by
// 0.7), so such chains are never built.
static bool has_repeated_algorithm(const std::vector<Eltwise>& chain) {
    for (size_t i = 0; i < chain.size(); ++i) {
        for (size_t j = i + 1; j < chain.size(); ++j) {
            if (chain[i].alg == chain[j].alg) return true;
        }
    }
    return false;
}

std::string joined_name(const Node& n, const Node* follower) {
    return follower ? n.name + "+" + follower->name : n.name;
}

std::string joined_op(const std::string& op, const Node* follower) {
    return follower ? op + "+" + op_name(follower->op) : op;
}

// The activation node the fusion pass paired with node `index`, unless their post-op chains together would hold
// one eltwise algorithm twice, which oneDNN 2.6 computes wrongly (has_repeated_algorithm).
const Node* Lowering::follower_of(size_t index) const {
    const int f = fusions_[index].activation;
    if (f < 0) return nullptr;
    const Node& next = graph_.nodes[static_cast<size_t>(f)];
    return has_repeated_algorithm(post_chain(graph_.nodes[index], &next)) ? nullptr : &next;
}

// The post-op chain of `n`: its activation and saturation, then those of an absorbed follower.
std::vector<Eltwise> Lowering::post_chain(const Node& n, const Node* follower) const {
    std::vector<Eltwise> chain = eltwise_chain(n.activation, n.saturate);
    if (follower) {
        for (const Eltwise& e : eltwise_chain(follower->activation, follower->saturate)) chain.push_back(e);
    }
    return chain;
}

void Lowering::set_output(const Node& n, const View& view, const Node* follower) {
    values_[n.output].view = view;
    if (follower) {
        values_[follower->output].view = view;
        lowered_[static_cast<size_t>(&*follower - graph_.nodes.data())] = true;
    }
    if (options_.precision == Precision::Int8) round_to_grid(follower ? follower->output : n.output);
}

// Each graph output is copied, in plain NCHW, into a tensor the session owns.
void Lowering::add_outputs() {
    for (int id : graph_.outputs) {
        const Shape& shape = values_[id].shape;
        const View src = ensure(id, plain_md(shape));
        Tensor t(shape);
        outputs_.push_back(std::move(t));
        memory dst(plain_md(shape), engine_, outputs_.back().data.data());
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::reorder::primitive_desc pd(engine_, src.md, engine_, dst.get_desc(), attr);
        add_step(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}}, {{DNNL_ARG_TO, dst}},
                 "output:" + graph_.values[id].name, "reorder", shape, 0);
        steps_.back().output = static_cast<int>(outputs_.size()) - 1;
    }
}

}  // namespace mnet
