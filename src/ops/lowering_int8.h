// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the int8 lowering files: quantization parameters and the post-op chains that requantize.
#pragma once

#include <dnnl.hpp>

#include <optional>
#include <vector>

#include "graph/graph.h"
#include "ops/lowering.h"

namespace mnet::int8 {

bool is_int(dnnl::memory::data_type t);
int32_t qmin(dnnl::memory::data_type t);
int32_t qmax(dnnl::memory::data_type t);

// A finite stand-in for an infinite clip bound: the integer conversion saturates far below it.
float finite(float v);

// The per-tensor u8/s8 parameters int8 execution can hold a value with, or none.
std::optional<ActQuant> act_quant(const std::optional<QuantParams>& q);
bool same_quant(const ActQuant& a, const ActQuant& b);

// The real-valued bounds [lo, hi] of a clipping activation (none, relu, relu6, relu_n1_to_1), or none for the
// others (hard-swish, sigmoid...), which do not commute with a change of scale.
std::optional<std::pair<float, float>> clip_bounds(Activation act);

// One post-op: an eltwise function whose result is multiplied by `scale`, or a sum with the destination's
// previous contents (scale * (dst - zero_point)).
struct PostOp {
    bool sum = false;
    dnnl::algorithm alg = dnnl::algorithm::eltwise_linear;
    float alpha = 0.f, beta = 0.f, scale = 1.f;
    int32_t zero_point = 0;
};

// oneDNN 2.6's jit post-op injector mishandles chains holding one eltwise algorithm twice (see lowering.cpp),
// so such chains are refused.
bool has_repeated_algorithm(const std::vector<PostOp>& chain);
dnnl::post_ops to_post_ops(const std::vector<PostOp>& chain);

// From a real value plus `offset` to the integers of `out`: `act` and the requantization as the shortest chain
// (the integer conversion that follows rounds and saturates). Empty when no chain without a repeated algorithm
// exists. The chain starts from real values (scales already applied).
std::optional<std::vector<PostOp>> requantize_chain(Activation act, float offset, const ActQuant& out);

}  // namespace mnet::int8
